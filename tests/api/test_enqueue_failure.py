"""A job whose message cannot be queued is failed and refunded, and the caller told to retry.

The API's Services run against the real Postgres, Redis and S3; only the task publisher's
Redis is an address where nothing listens, as when the broker is down at the moment of sending.
"""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis
from sqlalchemy import select

from api.errors import ApiError
from api.job_flow import accept_job
from api.services import Services
from api.task_publisher import TaskPublisher
from storage import api_keys
from storage.error_codes import ErrorCode
from storage.models import Job, JobStatus
from tests.images import sample
from workers.celery_app import create_celery
from workers.contract import JobOptions

NOTHING_LISTENS = "redis://127.0.0.1:9/0"


def test_an_unsendable_job_is_failed_refunded_and_answered_503(
    settings, database, store, sessions, make_tenant, balance_of
):
    tenant = make_tenant(credits=5)
    with sessions() as session:
        caller = api_keys.find_caller(
            session, tenant.api_key, settings.api_key_secret.get_secret_value()
        )
    assert caller is not None

    async def submit() -> ApiError:
        services = await Services.start(settings)
        down = Redis.from_url(NOTHING_LISTENS, socket_connect_timeout=1)
        services.tasks = TaskPublisher(create_celery(settings), down)
        try:
            with pytest.raises(ApiError) as refused:
                await accept_job(
                    services, caller, sample("coffee.jpg"), JobOptions(), "req-enqueue", wait=False
                )
            return refused.value
        finally:
            await down.aclose()
            await services.close()

    error = asyncio.run(submit())
    assert error.code == ErrorCode.SERVICE_UNAVAILABLE
    assert error.headers["Retry-After"] == "5"
    assert balance_of(tenant.id) == 5, "the debit was refunded"
    with sessions() as session:
        job = session.scalars(select(Job).where(Job.tenant_id == tenant.id)).one()
    assert job.status == JobStatus.FAILED
    assert job.error_code == ErrorCode.SERVICE_UNAVAILABLE
