"""The credits ledger, as worked examples against real Postgres."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from storage import jobs, ledger
from storage.db import transaction
from storage.error_codes import ErrorCode
from storage.ledger import InsufficientCredits


def new_job(tenant_id: uuid.UUID, cost: int) -> jobs.NewJob:
    job_id = uuid.uuid4()
    return jobs.NewJob(job_id, tenant_id, None, cost, {}, f"inputs/{tenant_id}/{job_id}")


def test_a_tenant_with_10_credits_pays_for_two_shadow_jobs_but_not_a_third(
    sessions, make_tenant, balance_of
):
    tenant = make_tenant(credits=10)
    with transaction(sessions) as session:
        assert jobs.create_and_debit(session, new_job(tenant.id, 4)) == 6
    with transaction(sessions) as session:
        assert jobs.create_and_debit(session, new_job(tenant.id, 4)) == 2
    third = new_job(tenant.id, 4)
    with pytest.raises(InsufficientCredits), transaction(sessions) as session:
        jobs.create_and_debit(session, third)

    assert balance_of(tenant.id) == 2
    with sessions() as session:
        assert jobs.get(session, third.id) is None, "a refused job leaves no row"
        assert ledger.entries_total(session, tenant.id) == 2


def test_a_failed_job_is_refunded_exactly_once(sessions, make_tenant, balance_of):
    tenant = make_tenant(credits=5)
    job = new_job(tenant.id, 4)
    with transaction(sessions) as session:
        jobs.create_and_debit(session, job)
    assert balance_of(tenant.id) == 1

    with transaction(sessions) as session:
        assert jobs.fail_and_refund(session, job.id, ErrorCode.MALFORMED_IMAGE, "bad") == 4
    with transaction(sessions) as session:
        assert jobs.fail_and_refund(session, job.id, ErrorCode.MALFORMED_IMAGE, "bad") is None
    with transaction(sessions) as session:
        assert ledger.refund_job(session, job.id) == 0, "a second refund is refused"

    assert balance_of(tenant.id) == 5
    with sessions() as session:
        assert ledger.entries_total(session, tenant.id) == 5


def test_a_succeeded_job_cannot_also_be_refunded(sessions, make_tenant, balance_of):
    tenant = make_tenant(credits=3)
    job = new_job(tenant.id, 1)
    with transaction(sessions) as session:
        jobs.create_and_debit(session, job)
        assert jobs.claim(session, job.id, lease=timedelta(seconds=60)) is not None
        assert jobs.succeed(session, job.id, "results/x.png")
    with transaction(sessions) as session:
        assert jobs.fail_and_refund(session, job.id, ErrorCode.TIMEOUT, "late") is None
    assert balance_of(tenant.id) == 2


def test_the_database_refuses_a_refund_without_a_debit(sessions, make_tenant):
    tenant = make_tenant(credits=1)
    with sessions() as session:
        job_id = uuid.uuid4()
        session.execute(
            text(
                "INSERT INTO jobs (id, tenant_id, status, cost, input_key)"
                " VALUES (:job, :tenant, 'queued', 1, 'k')"
            ),
            {"job": job_id, "tenant": tenant.id},
        )
        refund = text(
            "INSERT INTO ledger_entries (tenant_id, job_id, kind, amount)"
            " VALUES (:tenant, :job, 'refund', 1)"
        )
        with pytest.raises(IntegrityError, match="refund_needs_a_debit"):
            session.execute(refund, {"tenant": tenant.id, "job": job_id})


def test_the_database_refuses_a_negative_balance(sessions, make_tenant):
    tenant = make_tenant(credits=1)
    with sessions() as session, pytest.raises(IntegrityError, match="balance_not_negative"):
        session.execute(
            text("UPDATE credit_accounts SET balance = -1 WHERE tenant_id = :t"), {"t": tenant.id}
        )


def test_ledger_history_cannot_be_rewritten(sessions, make_tenant):
    tenant = make_tenant(credits=7)
    for statement in (
        "UPDATE ledger_entries SET amount = 700 WHERE tenant_id = :t",
        "DELETE FROM ledger_entries WHERE tenant_id = :t",
    ):
        with sessions() as session, pytest.raises(DBAPIError, match="append-only"):
            session.execute(text(statement), {"t": tenant.id})


def test_an_adjustment_cannot_take_the_balance_below_zero(sessions, make_tenant, balance_of):
    tenant = make_tenant(credits=2)
    with pytest.raises(InsufficientCredits), transaction(sessions) as session:
        ledger.adjust(session, tenant.id, -3, reason="chargeback")
    with transaction(sessions) as session:
        assert ledger.adjust(session, tenant.id, -2, reason="chargeback") == 0
    assert balance_of(tenant.id) == 0
