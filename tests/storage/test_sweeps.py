"""Sweeps against real Postgres and S3: stuck jobs are re-sent or refunded, and expired
inputs and results are deleted."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import redis
from botocore.exceptions import ClientError
from sqlalchemy import update

from storage import jobs, ledger, sweeps
from storage.db import transaction
from storage.models import Job, JobStatus
from workers.contract import REMOVE_BACKGROUND_TASK
from workers.sweeper import purge_expired, repair_stuck_jobs

LONG_AGO = datetime.now(UTC) - timedelta(hours=2)


def queued_job(sessions, tenant_id: uuid.UUID, cost: int = 1) -> uuid.UUID:
    job_id = uuid.uuid4()
    with transaction(sessions) as session:
        jobs.create_and_debit(
            session, jobs.NewJob(job_id, tenant_id, None, cost, {}, f"inputs/{tenant_id}/{job_id}")
        )
    return job_id


def age(sessions, job_id: uuid.UUID, **values) -> None:
    with transaction(sessions) as session:
        session.execute(update(Job).where(Job.id == job_id).values(**values))


@pytest.fixture
def slots_redis(settings):
    client = redis.Redis.from_url(settings.redis_url)
    yield client
    client.close()


def test_a_job_queued_too_long_is_sent_again_then_failed_and_refunded(
    sessions, make_tenant, balance_of, settings, slots_redis
):
    tenant = make_tenant(credits=10)
    stuck = queued_job(sessions, tenant.id, cost=4)
    fresh = queued_job(sessions, tenant.id)
    age(sessions, stuck, enqueued_at=LONG_AGO)
    sent: list[tuple[str, str]] = []

    repair_stuck_jobs(
        settings, sessions, lambda task, arg, _queue: sent.append((task, arg)), slots_redis
    )
    assert (REMOVE_BACKGROUND_TASK, str(stuck)) in sent
    assert (REMOVE_BACKGROUND_TASK, str(fresh)) not in sent, "a fresh job is left alone"
    with sessions() as session:
        job = jobs.get(session, stuck)
        assert job.status == JobStatus.QUEUED
        assert job.requeues == 1

    # It keeps being lost: after stuck_job_max_requeues re-sends it is failed and refunded.
    for _ in range(settings.stuck_job_max_requeues):
        age(sessions, stuck, enqueued_at=LONG_AGO)
        repair_stuck_jobs(
            settings, sessions, lambda task, arg, _queue: sent.append((task, arg)), slots_redis
        )
    with sessions() as session:
        job = jobs.get(session, stuck)
        assert job.status == JobStatus.FAILED
        assert job.error_code == "internal_error"
        assert ledger.entries_total(session, tenant.id) == balance_of(tenant.id)
    assert balance_of(tenant.id) == 9, "the stuck job's 4 credits came back; the fresh one paid 1"
    assert sent.count((REMOVE_BACKGROUND_TASK, str(stuck))) == settings.stuck_job_max_requeues


def test_a_running_job_whose_lease_long_expired_is_sent_again(sessions, make_tenant, settings):
    tenant = make_tenant()
    job_id = queued_job(sessions, tenant.id)
    with transaction(sessions) as session:
        jobs.claim(session, job_id, timedelta(seconds=60))
    age(sessions, job_id, lease_expires_at=LONG_AGO)
    with transaction(sessions) as session:
        found = sweeps.stuck_jobs(session, timedelta(minutes=10), 3)
    assert job_id in found.requeued


def test_expired_inputs_and_results_are_deleted_and_the_job_marked(
    sessions, make_tenant, settings, store
):
    tenant = make_tenant()
    old, recent = queued_job(sessions, tenant.id), queued_job(sessions, tenant.id)
    for job_id in (old, recent):
        store.put(f"inputs/{tenant.id}/{job_id}", b"input")
        store.put(f"results/{tenant.id}/{job_id}.png", b"result")
        with transaction(sessions) as session:
            jobs.claim(session, job_id, timedelta(seconds=60))
            jobs.succeed(session, job_id, f"results/{tenant.id}/{job_id}.png")
    expired_at = datetime.now(UTC) - timedelta(hours=settings.retention_hours + 1)
    age(sessions, old, finished_at=expired_at)

    assert purge_expired(settings, sessions, store) >= 1
    for key in (f"inputs/{tenant.id}/{old}", f"results/{tenant.id}/{old}.png"):
        with pytest.raises(ClientError):
            store.get(key)
    assert store.get(f"results/{tenant.id}/{recent}.png") == b"result"
    with sessions() as session:
        assert jobs.get(session, old).purged_at is not None
        assert jobs.get(session, recent).purged_at is None
    assert purge_expired(settings, sessions, store) == 0, "a purged job is not purged again"


def test_the_bucket_gets_a_lifecycle_rule_for_the_retention(store, settings):
    days = store.apply_retention(settings.retention_hours)
    assert days == 1
    rules = store._client.get_bucket_lifecycle_configuration(Bucket=store.bucket)["Rules"]
    assert {rule["Filter"]["Prefix"] for rule in rules} == {"inputs/", "results/"}
    assert all(rule["Expiration"]["Days"] == 1 and rule["Status"] == "Enabled" for rule in rules)
    assert store.apply_retention(50) == 3
