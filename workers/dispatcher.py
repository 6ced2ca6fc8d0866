"""``cutout dispatcher``: the Celery worker for webhook deliveries and the periodic sweep.

It never loads a model, so it starts in a second and can run anywhere that reaches Postgres,
Redis, S3 and the tenants' webhook endpoints. It runs Celery beat for the sweep too; several
dispatchers may run (their sweeps are idempotent). The delivery task is ``acks_late`` like
every task here; a dispatcher killed mid-delivery is covered by the event's lease and the
sweep, which hands the same event to a live dispatcher once the lease expires.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import UTC, datetime
from functools import cache

import redis
from celery.signals import setup_logging
from sqlalchemy.orm import Session, sessionmaker

from storage import logs
from storage.db import make_engine, make_sessionmaker
from storage.models import EventStatus
from storage.objects import ObjectStore
from storage.settings import get_settings
from workers.celery_app import create_celery
from workers.contract import DELIVER_WEBHOOK_TASK, SWEEP_TASK
from workers.sweeper import sweep as run_sweep
from workers.webhook_delivery import Dispatcher
from workers.webhook_http import make_poster

log = logging.getLogger(__name__)

# Retries due sooner than this are scheduled as a Celery countdown (kept well below the broker's
# visibility timeout); later ones are left to the sweep, which finds them when they are due.
COUNTDOWN_LIMIT_SECONDS = 60.0

app = create_celery(get_settings())


@cache
def sessions() -> sessionmaker[Session]:
    return make_sessionmaker(make_engine(get_settings()))


@cache
def dispatcher() -> Dispatcher:
    settings = get_settings()
    return Dispatcher(settings, sessions(), make_poster(settings))


@cache
def store() -> ObjectStore:
    return ObjectStore(get_settings())


@cache
def slots_redis() -> redis.Redis:
    """For giving back the concurrent-jobs slots of the jobs a sweep fails."""
    return redis.Redis.from_url(get_settings().redis_url, socket_timeout=5)


@setup_logging.connect
def _keep_our_logging(**_: object) -> None:
    settings = get_settings()
    logs.configure(settings.log_level, settings.log_format)


def _send(task: str, argument: str, queue: str | None) -> None:
    app.send_task(task, args=[argument], queue=queue)


@app.task(name=DELIVER_WEBHOOK_TASK)
def deliver_webhook(event_id: str) -> str:
    delivery = dispatcher().deliver(event_id)
    if delivery.status == EventStatus.PENDING and delivery.next_attempt_at is not None:
        delay = (delivery.next_attempt_at - datetime.now(UTC)).total_seconds()
        if delay <= COUNTDOWN_LIMIT_SECONDS:
            deliver_webhook.apply_async(args=[event_id], countdown=max(delay, 0.0))
    return str(delivery.status)


@app.task(name=SWEEP_TASK)
def sweep() -> dict[str, int]:
    return asdict(run_sweep(get_settings(), sessions(), store(), _send, slots_redis()))
