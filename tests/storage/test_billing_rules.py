"""Billing rules the database and the storage layer keep, as worked examples on real Postgres."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from storage import api_keys, idempotency, jobs, ledger, ledger_audit, tenants
from storage.db import transaction
from storage.error_codes import ErrorCode
from storage.idempotency import Claim
from tests.storage.test_ledger import new_job

DAY = timedelta(hours=24)
LOCK = timedelta(minutes=1)


def test_a_debit_cannot_be_booked_to_another_tenant_than_the_jobs(sessions, make_tenant):
    """Tenant A's job, charged to tenant B: the database refuses the entry."""
    owner, other = make_tenant(credits=5), make_tenant(credits=5)
    job = new_job(owner.id, 1)
    with transaction(sessions) as session:
        jobs.create_and_debit(session, job)
    with sessions() as session, pytest.raises(IntegrityError, match="entry_matches_its_job"):
        session.execute(
            text(
                "INSERT INTO ledger_entries (tenant_id, job_id, kind, amount)"
                " VALUES (:tenant, :job, 'refund', 1)"
            ),
            {"tenant": other.id, "job": job.id},
        )


def test_a_job_cannot_be_debited_twice(sessions, make_tenant, balance_of):
    tenant = make_tenant(credits=5)
    job = new_job(tenant.id, 1)
    with transaction(sessions) as session:
        jobs.create_and_debit(session, job)
    with pytest.raises(IntegrityError), transaction(sessions) as session:
        jobs.create_and_debit(session, job)  # a retried request reusing the job id
    assert balance_of(tenant.id) == 4


def test_a_tenant_with_10_credits_submits_three_shadow_jobs_one_fails(
    sessions, make_tenant, balance_of
):
    """10 credits, three shadow jobs (4 each): two accepted, the third refused; the second
    fails in the worker and is refunded; usage shows 2 jobs, 8 debited, 4 refunded."""
    tenant = make_tenant(credits=10)
    first, second, third = (new_job(tenant.id, 4) for _ in range(3))
    with transaction(sessions) as session:
        jobs.create_and_debit(session, first)
        jobs.create_and_debit(session, second)
    with pytest.raises(ledger.InsufficientCredits), transaction(sessions) as session:
        jobs.create_and_debit(session, third)
    with transaction(sessions) as session:
        jobs.fail_and_refund(session, second.id, ErrorCode.UNKNOWN_FOREGROUND, "empty")

    assert balance_of(tenant.id) == 6
    with sessions() as session:
        (today,) = ledger_audit.usage_per_day(session, tenant.id)
    assert (today.jobs, today.debited, today.refunded) == (2, 8, 4)
    assert today.day == datetime.now(UTC).date()


def test_reconcile_passes_then_finds_a_balance_written_behind_the_ledgers_back(
    sessions, make_tenant
):
    tenant = make_tenant(credits=9)
    with sessions() as session:
        checked, mismatches = ledger_audit.reconcile(session)
    assert checked >= 1
    assert tenant.id not in {bad.tenant_id for bad in mismatches}

    with transaction(sessions) as session:
        session.execute(
            text("UPDATE credit_accounts SET balance = 1000 WHERE tenant_id = :t"),
            {"t": tenant.id},
        )
    with sessions() as session:
        _, mismatches = ledger_audit.reconcile(session)
    (bad,) = [bad for bad in mismatches if bad.tenant_id == tenant.id]
    assert (bad.balance, bad.entries_total) == (1000, 9)
    with transaction(sessions) as session:  # put it back for the other tests' reconcile
        session.execute(
            text("UPDATE credit_accounts SET balance = 9 WHERE tenant_id = :t"), {"t": tenant.id}
        )


def test_set_plan_changes_only_the_limits_named(sessions, make_tenant, settings):
    tenant = make_tenant(per_minute=60, burst=10)
    with transaction(sessions) as session:
        plan = tenants.set_plan(session, tenant.id, max_concurrent_jobs=2)
    assert plan == tenants.Plan(60, 10, 2)
    secret = settings.api_key_secret.get_secret_value()
    with sessions() as session:
        caller = api_keys.find_caller(session, tenant.api_key, secret)
    assert caller is not None
    assert (caller.rate_limit_per_minute, caller.rate_limit_burst) == (60, 10)
    assert caller.max_concurrent_jobs == 2


def test_several_keys_per_tenant_listed_without_their_secret(sessions, make_tenant, settings):
    tenant = make_tenant()
    secret = settings.api_key_secret.get_secret_value()
    with transaction(sessions) as session:
        second = api_keys.create_key(session, tenant.id, secret, name="ci")
    with sessions() as session:
        keys = api_keys.list_keys(session, tenant.id)
        first_caller = api_keys.find_caller(session, tenant.api_key, secret)
        second_caller = api_keys.find_caller(session, second, secret)
    assert [key.name for key in keys] == ["default", "ci"]
    assert keys[1].display_prefix == second[:10]
    assert first_caller
    assert second_caller
    assert first_caller.tenant_id == second_caller.tenant_id == tenant.id
    assert first_caller.api_key_id != second_caller.api_key_id


def test_last_used_is_written_in_one_batch_and_never_moves_back(sessions, make_tenant):
    one, two = make_tenant(), make_tenant()
    with sessions() as session:
        (key_one,) = api_keys.list_keys(session, one.id)
        (key_two,) = api_keys.list_keys(session, two.id)
    later = datetime.now(UTC).replace(microsecond=0)
    earlier = later - timedelta(minutes=5)
    with transaction(sessions) as session:
        assert api_keys.record_last_used(session, {key_one.id: later, key_two.id: later}) == 2
    with transaction(sessions) as session:
        assert api_keys.record_last_used(session, {key_one.id: earlier}) == 0
    with sessions() as session:
        used = {key.id: key.last_used_at for key in api_keys.list_keys(session, one.id)}
    assert used[key_one.id] == later


# --- Idempotency-Key -------------------------------------------------------------------------


def begin(sessions, tenant_id: uuid.UUID, key: str, body: bytes, lock: timedelta = LOCK):
    with transaction(sessions) as session:
        return idempotency.begin(session, tenant_id, key, body.ljust(32, b"-"), ttl=DAY, lock=lock)


def test_an_idempotency_key_is_claimed_once_then_replays_its_job(sessions, make_tenant):
    tenant = make_tenant(credits=3)
    assert begin(sessions, tenant.id, "order-1", b"A").claim == Claim.STARTED
    assert begin(sessions, tenant.id, "order-1", b"A").claim == Claim.IN_FLIGHT
    assert begin(sessions, tenant.id, "order-1", b"B").claim == Claim.MISMATCH

    job = new_job(tenant.id, 1)
    with transaction(sessions) as session:
        jobs.create_and_debit(session, job)
        idempotency.attach(session, tenant.id, "order-1", job.id)
    assert begin(sessions, tenant.id, "order-1", b"A") == idempotency.Begun(Claim.REPLAY, job.id)
    assert begin(sessions, tenant.id, "order-1", b"B").claim == Claim.MISMATCH


def test_keys_are_scoped_to_their_tenant(sessions, make_tenant):
    one, two = make_tenant(), make_tenant()
    assert begin(sessions, one.id, "shared-name", b"A").claim == Claim.STARTED
    assert begin(sessions, two.id, "shared-name", b"B").claim == Claim.STARTED


def test_a_refused_request_releases_its_key_but_an_accepted_one_keeps_it(sessions, make_tenant):
    tenant = make_tenant(credits=1)
    assert begin(sessions, tenant.id, "k", b"A").claim == Claim.STARTED
    with transaction(sessions) as session:
        idempotency.release(session, tenant.id, "k")
    assert begin(sessions, tenant.id, "k", b"B").claim == Claim.STARTED, "a corrected body"

    job = new_job(tenant.id, 1)
    with transaction(sessions) as session:
        jobs.create_and_debit(session, job)
        idempotency.attach(session, tenant.id, "k", job.id)
        idempotency.release(session, tenant.id, "k")
    assert begin(sessions, tenant.id, "k", b"B").claim == Claim.REPLAY


def test_a_lock_left_by_a_dead_request_lapses(sessions, make_tenant):
    tenant = make_tenant()
    assert begin(sessions, tenant.id, "k", b"A", lock=timedelta(seconds=-1)).claim == (
        Claim.STARTED
    )
    assert begin(sessions, tenant.id, "k", b"A").claim == Claim.STARTED


def test_keys_expire_after_their_ttl(sessions, make_tenant):
    tenant = make_tenant(credits=2)
    assert begin(sessions, tenant.id, "old", b"A").claim == Claim.STARTED
    job = new_job(tenant.id, 1)
    with transaction(sessions) as session:
        jobs.create_and_debit(session, job)
        idempotency.attach(session, tenant.id, "old", job.id)
        session.execute(
            text(
                "UPDATE idempotency_keys SET created_at = now() - interval '25 hours'"
                " WHERE tenant_id = :t"
            ),
            {"t": tenant.id},
        )
    assert begin(sessions, tenant.id, "old", b"B").claim == Claim.STARTED
    with transaction(sessions) as session:
        session.execute(
            text(
                "UPDATE idempotency_keys SET created_at = now() - interval '25 hours'"
                " WHERE tenant_id = :t"
            ),
            {"t": tenant.id},
        )
        assert idempotency.purge_expired(session, DAY) >= 1
    assert begin(sessions, tenant.id, "old", b"C").claim == Claim.STARTED
