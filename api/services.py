"""The long-lived clients an API process shares across requests, built once at start-up."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

import anyio
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from api.housekeeping import Housekeeping, KeyUsage
from api.job_slots import JobSlots
from api.key_cache import KeyCache, KeyNoticeListener
from api.outcome_waiter import OutcomeWaiter
from api.rate_limit import RateLimiter, limits_redis
from api.task_publisher import TaskPublisher
from storage import job_slots, key_notices
from storage.db import (
    make_async_engine,
    make_async_sessionmaker,
    make_single_statement_sessionmaker,
)
from storage.objects import ObjectStore
from storage.outcomes import channel
from storage.safe_http import SafeHttpClient, client_from_settings
from storage.settings import Settings
from workers.celery_app import create_celery

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker
    single_statements: async_sessionmaker  # storage/db.py: for one-statement writes
    redis: Redis
    limits_redis: Redis
    store: ObjectStore
    tasks: TaskPublisher
    limiter: RateLimiter
    slots: JobSlots
    waiter: OutcomeWaiter
    http: SafeHttpClient
    housekeeping: Housekeeping
    keys: KeyCache
    key_notices: KeyNoticeListener

    @classmethod
    async def start(cls, settings: Settings) -> Services:
        engine = make_async_engine(settings)
        redis = Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=2)
        store = ObjectStore(settings)
        if settings.s3_create_bucket:
            await anyio.to_thread.run_sync(store.ensure_bucket)
        waiter = OutcomeWaiter(redis, channel(settings))
        await waiter.start()
        sessions = make_async_sessionmaker(engine)
        housekeeping = Housekeeping(
            sessions,
            KeyUsage(),
            settings.key_usage_flush_seconds,
            timedelta(hours=settings.idempotency_key_ttl_hours),
        )
        housekeeping.start()
        keys = KeyCache(settings.api_key_cache_seconds)
        notices = KeyNoticeListener(redis, key_notices.channel(settings), keys)
        await notices.start()
        limits = limits_redis(settings.redis_url, settings.rate_limit_redis_timeout_seconds)
        return cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            single_statements=make_single_statement_sessionmaker(engine),
            redis=redis,
            limits_redis=limits,
            store=store,
            tasks=TaskPublisher(create_celery(settings), redis),
            limiter=RateLimiter(limits, settings.redis_namespace),
            slots=JobSlots(
                limits,
                settings.redis_namespace,
                job_slots.request_ttl_seconds(settings),
                job_slots.queued_job_ttl_seconds(settings),
            ),
            waiter=waiter,
            http=client_from_settings(settings, user_agent="cutout-fetch/1 (+image_url)"),
            housekeeping=housekeeping,
            keys=keys,
            key_notices=notices,
        )

    async def close(self) -> None:
        await self.housekeeping.stop()
        await self.waiter.stop()
        await self.key_notices.stop()
        await self.http.aclose()
        await self.redis.aclose()
        await self.limits_redis.aclose()
        await self.engine.dispose()
