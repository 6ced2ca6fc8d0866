"""The long-lived clients an API process shares across requests, built once at start-up."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import anyio
from celery import Celery
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from api.outcome_waiter import OutcomeWaiter
from api.rate_limit import RateLimiter
from storage.db import make_async_engine, make_async_sessionmaker
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
    redis: Redis
    store: ObjectStore
    celery: Celery
    limiter: RateLimiter
    waiter: OutcomeWaiter
    http: SafeHttpClient

    @classmethod
    async def start(cls, settings: Settings) -> Services:
        engine = make_async_engine(settings)
        redis = Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=2)
        store = ObjectStore(settings)
        if settings.s3_create_bucket:
            await anyio.to_thread.run_sync(store.ensure_bucket)
        waiter = OutcomeWaiter(redis, channel(settings))
        await waiter.start()
        return cls(
            settings=settings,
            engine=engine,
            sessions=make_async_sessionmaker(engine),
            redis=redis,
            store=store,
            celery=create_celery(settings),
            limiter=RateLimiter(redis, settings.redis_namespace),
            waiter=waiter,
            http=client_from_settings(settings, user_agent="cutout-fetch/1 (+image_url)"),
        )

    async def close(self) -> None:
        await self.waiter.stop()
        await self.http.aclose()
        await self.redis.aclose()
        await self.engine.dispose()
