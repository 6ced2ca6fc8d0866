"""Business counters move when, and only when, the transaction that moved the money commits."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY

from storage import jobs
from storage.db import transaction
from storage.error_codes import ErrorCode


def counter(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def new_job(tenant_id: uuid.UUID, cost: int) -> jobs.NewJob:
    job_id = uuid.uuid4()
    return jobs.NewJob(job_id, tenant_id, None, cost, {}, f"inputs/{tenant_id}/{job_id}")


def test_debits_refunds_and_outcomes_count_after_commit_only(sessions, make_tenant):
    tenant = make_tenant(credits=20)
    debited = counter("cutout_credits_debited_total")
    refunded = counter("cutout_credits_refunded_total")
    failed = counter("cutout_jobs_finished_total", outcome="failed", error_code="malformed_image")
    succeeded = counter("cutout_jobs_finished_total", outcome="succeeded", error_code="")

    # A debit whose transaction rolls back was never made: not counted.
    def crash_before_commit() -> None:
        with transaction(sessions) as session:
            jobs.create_and_debit(session, new_job(tenant.id, 4))
            raise RuntimeError("crash before commit")

    with pytest.raises(RuntimeError):
        crash_before_commit()
    assert counter("cutout_credits_debited_total") == debited

    lucky, unlucky = new_job(tenant.id, 1), new_job(tenant.id, 4)
    with transaction(sessions) as session:
        jobs.create_and_debit(session, lucky)
        jobs.create_and_debit(session, unlucky)
        jobs.claim(session, lucky.id, timedelta(seconds=30))
        jobs.claim(session, unlucky.id, timedelta(seconds=30))
        assert counter("cutout_credits_debited_total") == debited  # not yet committed
    assert counter("cutout_credits_debited_total") == debited + 5

    with transaction(sessions) as session:
        jobs.succeed(session, lucky.id, "results/x.png")
        jobs.fail_and_refund(session, unlucky.id, ErrorCode.MALFORMED_IMAGE, "bad")
    # A second attempt to end them changes nothing and counts nothing.
    with transaction(sessions) as session:
        assert not jobs.succeed(session, lucky.id, "results/x.png")
        assert jobs.fail_and_refund(session, unlucky.id, ErrorCode.TIMEOUT, "late") is None

    assert counter("cutout_credits_refunded_total") == refunded + 4
    assert (
        counter("cutout_jobs_finished_total", outcome="failed", error_code="malformed_image")
        == failed + 1
    )
    assert (
        counter("cutout_jobs_finished_total", outcome="succeeded", error_code="") == succeeded + 1
    )
