"""``cutout admin`` as an operator uses it: tenants, keys, credits, plans, usage, reconcile."""

from __future__ import annotations

import json
import os
import uuid

import pytest
from sqlalchemy import text

from storage import api_keys
from storage.db import transaction
from tests.test_cli import cutout


@pytest.fixture
def admin(database, stack_env):
    env = {**os.environ, **stack_env}

    def run(*args: str, ok: bool = True):
        result = cutout("admin", *args, env=env)
        if ok:
            assert result.returncode == 0, result.stderr
        return result

    return run


def test_an_operator_sets_up_a_tenant_with_two_keys_and_revokes_one(admin, sessions, settings):
    name = f"acme-{uuid.uuid4().hex[:6]}"
    created = json.loads(
        admin(
            "tenants",
            "create",
            "--name",
            name,
            "--credits",
            "10",
            "--rate-limit",
            "120",
            "--burst",
            "20",
            "--max-concurrent-jobs",
            "3",
            "--json",
        ).stdout
    )
    second = json.loads(admin("keys", "create", name, "--name", "ci", "--json").stdout)
    assert api_keys.is_well_formed(second["api_key"])

    listed = json.loads(admin("keys", "list", name, "--json").stdout)
    assert [key["name"] for key in listed] == ["default", "ci"]
    listing_text = admin("keys", "list", name).stdout
    for key in (created["api_key"], second["api_key"]):
        assert key not in listing_text, "a listing never shows a key"
        assert key[len(api_keys.PREFIX) + 6 :] not in json.dumps(listed)

    tenants = json.loads(admin("tenants", "list", "--json").stdout)
    (row,) = [t for t in tenants if t["name"] == name]
    assert (row["balance"], row["rate_limit_per_minute"], row["rate_limit_burst"]) == (10, 120, 20)
    assert (row["max_concurrent_jobs"], row["active_keys"]) == (3, 2)

    revoked = json.loads(admin("keys", "revoke", name, listed[1]["prefix"]).stdout)
    assert revoked == {"revoked": listed[1]["id"]}
    secret = settings.api_key_secret.get_secret_value()
    with sessions() as session:
        assert api_keys.find_caller(session, second["api_key"], secret) is None
        assert api_keys.find_caller(session, created["api_key"], secret) is not None
    assert admin("keys", "revoke", name, listed[1]["id"], ok=False).returncode == 1


def test_credits_move_only_with_a_reason_and_never_below_zero(admin, make_tenant, sessions):
    tenant = make_tenant(credits=5)
    assert json.loads(admin("grant", tenant.name, "7", "--reason", "invoice 42").stdout) == {
        "balance": 12
    }
    assert json.loads(admin("adjust", tenant.name, "-2", "--reason", "goodwill").stdout) == {
        "balance": 10
    }
    refused = admin("adjust", tenant.name, "-11", "--reason", "too much", ok=False)
    assert refused.returncode == 1
    assert "below zero" in refused.stderr
    assert admin("adjust", tenant.name, "-3", ok=False).returncode == 2, "a reason is required"
    with sessions() as session:
        reasons = session.execute(
            text(
                "SELECT kind, amount, reason FROM ledger_entries WHERE tenant_id = :t ORDER BY id"
            ),
            {"t": tenant.id},
        ).all()
    assert [tuple(r) for r in reasons][1:] == [
        ("grant", 7, "invoice 42"),
        ("adjustment", -2, "goodwill"),
    ]


def test_set_plan_and_usage_per_day(admin, make_tenant, sessions):
    from storage import jobs
    from storage.error_codes import ErrorCode
    from tests.storage.test_ledger import new_job

    tenant = make_tenant(credits=10)
    plan = json.loads(admin("set-plan", tenant.name, "--max-concurrent-jobs", "2", "--json").stdout)
    assert plan == {
        "rate_limit_per_minute": 1000,
        "rate_limit_burst": 1000,
        "max_concurrent_jobs": 2,
    }
    assert admin("set-plan", tenant.name, ok=False).returncode == 2

    shadow, plain = new_job(tenant.id, 4), new_job(tenant.id, 1)
    with transaction(sessions) as session:
        jobs.create_and_debit(session, shadow)
        jobs.create_and_debit(session, plain)
        jobs.fail_and_refund(session, shadow.id, ErrorCode.UNKNOWN_FOREGROUND, "empty")
    (today,) = json.loads(admin("usage", tenant.name, "--json").stdout)
    assert (today["jobs"], today["debited"], today["refunded"]) == (2, 5, 4)


def test_reconcile_exits_non_zero_when_a_balance_disagrees_with_its_entries(
    admin, make_tenant, sessions
):
    tenant = make_tenant(credits=3)
    assert "reconciled" in admin("reconcile").stdout

    with transaction(sessions) as session:  # written behind the ledger's back
        session.execute(
            text("UPDATE credit_accounts SET balance = 300 WHERE tenant_id = :t"),
            {"t": tenant.id},
        )
    try:
        broken = admin("reconcile", ok=False)
        assert broken.returncode == 1
        assert f"MISMATCH tenant {tenant.name}" in broken.stderr
        assert "balance 300, entries sum to 3" in broken.stderr
    finally:
        with transaction(sessions) as session:
            session.execute(
                text("UPDATE credit_accounts SET balance = 3 WHERE tenant_id = :t"),
                {"t": tenant.id},
            )
    assert admin("reconcile").returncode == 0
