"""Small inputs carried in Redis (storage/inline_inputs.py): read by every attempt, deleted when
the job ends, and a job whose input Redis lost is failed and refunded, never left hanging.

Real Postgres, Redis and S3; the worker's job code without Celery (tests/workers/test_jobs.py
style).
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from storage import inline_inputs, jobs
from storage.db import transaction
from storage.error_codes import ErrorCode
from storage.models import JobStatus
from tests.images import rgba, sample
from tests.workers.test_jobs import read
from workers.contract import JobOptions
from workers.jobs import Disposition, process_job


@pytest.fixture
def submit_inline(sessions, runtime):
    """What the API does with a small input: Redis, then the job row, charged."""

    def submit(tenant, data: bytes, cost: int = 1) -> tuple[uuid.UUID, str]:
        job_id = uuid.uuid4()
        key = inline_inputs.input_key(runtime.settings, job_id)
        runtime.redis.set(inline_inputs.redis_key(key), data, ex=600)
        job = jobs.NewJob(job_id, tenant.id, None, cost, JobOptions().to_json(), key)
        with transaction(sessions) as session:
            jobs.create_and_debit(session, job)
        return job_id, inline_inputs.redis_key(key)

    return submit


def test_an_inline_input_is_cut_out_then_deleted_from_redis(
    runtime, submit_inline, sessions, store, make_tenant, balance_of
):
    tenant = make_tenant(credits=5)
    job_id, redis_key = submit_inline(tenant, sample("coffee.jpg"))

    assert process_job(job_id, runtime) == Disposition.SUCCEEDED

    job = read(sessions, job_id)
    assert job.status == JobStatus.SUCCEEDED
    alpha = rgba(store.get(job.result_key))[..., 3]
    assert alpha.shape == (400, 600)
    assert (alpha == 0).mean() > 0.2, "background removed"
    assert (alpha == 255).mean() > 0.05, "subject kept"
    assert runtime.redis.exists(redis_key) == 0, "deleted once the job ended"
    assert balance_of(tenant.id) == 4


def test_a_retry_after_a_dead_attempt_reads_the_inline_input_again(
    runtime, submit_inline, sessions, store, make_tenant, balance_of
):
    """A worker killed mid-job leaves a running job with a lease; once the lease has lapsed, the
    next attempt must still find the input (it is only deleted when the job ends)."""
    tenant = make_tenant(credits=5)
    job_id, redis_key = submit_inline(tenant, sample("chelsea.jpg"))
    with transaction(sessions) as session:  # attempt 1 claims it, then its worker dies
        assert jobs.claim(session, job_id, timedelta(seconds=-1)) is not None
    assert runtime.redis.exists(redis_key) == 1

    assert process_job(job_id, runtime) == Disposition.SUCCEEDED

    job = read(sessions, job_id)
    assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 2)
    assert rgba(store.get(job.result_key)).shape[:2] == (300, 451)
    assert runtime.redis.exists(redis_key) == 0
    assert balance_of(tenant.id) == 4


def test_a_job_whose_inline_input_redis_lost_is_failed_and_refunded(
    runtime, submit_inline, sessions, make_tenant, balance_of
):
    tenant = make_tenant(credits=5)
    job_id, redis_key = submit_inline(tenant, sample("coffee.jpg"), cost=4)
    assert balance_of(tenant.id) == 1
    runtime.redis.delete(redis_key)  # a Redis restart without persistence, an eviction, the TTL

    assert process_job(job_id, runtime) == Disposition.FAILED

    job = read(sessions, job_id)
    assert job.status == JobStatus.FAILED
    assert job.error_code == ErrorCode.INTERNAL_ERROR
    assert job.result_key is None
    assert balance_of(tenant.id) == 5, "refunded"
    # A duplicate message later changes nothing.
    assert process_job(job_id, runtime) == Disposition.DUPLICATE
    assert balance_of(tenant.id) == 5


def test_the_inline_bound_is_inclusive_and_zero_turns_it_off(settings):
    assert inline_inputs.fits(settings, settings.inline_input_max_bytes)
    assert not inline_inputs.fits(settings, settings.inline_input_max_bytes + 1)
    off = settings.model_copy(update={"inline_input_max_bytes": 0})
    assert not inline_inputs.fits(off, 1)
    assert inline_inputs.is_inline(inline_inputs.input_key(settings, uuid.uuid4()))
    assert not inline_inputs.is_inline("inputs/tenant/job")
