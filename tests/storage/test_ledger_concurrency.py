"""Charging under real concurrency: many transactions at once against one Postgres account.

The API charges through :func:`storage.jobs.create_and_debit` on its asyncpg engine; these tests
run that same code, the same way, 1,000 times at once: in a transaction (as when an idempotency
key is attached in the same transaction) and as one autocommitted statement (every other job).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import pytest
from sqlalchemy import text

from storage import jobs
from storage.db import (
    make_async_engine,
    make_async_sessionmaker,
    make_single_statement_sessionmaker,
)
from storage.ledger import InsufficientCredits
from tests.storage.test_ledger import new_job

SESSIONMAKERS = {
    "transaction": make_async_sessionmaker,
    "single statement": make_single_statement_sessionmaker,
}


@pytest.fixture(params=list(SESSIONMAKERS))
def mode(request) -> str:
    return request.param


async def charge_all(
    settings, tenant_id: uuid.UUID, costs: list[int], mode: str = "transaction"
) -> list[str]:
    # a generous connect timeout: the test is about the ledger, not a loaded CI machine
    wide = {"database_pool_size": 20, "database_connect_timeout_seconds": 120}
    engine = make_async_engine(settings.model_copy(update=wide))
    sessions = SESSIONMAKERS[mode](engine)

    async def charge(cost: int) -> str:
        try:
            async with sessions.begin() as session:
                await session.run_sync(jobs.create_and_debit, new_job(tenant_id, cost))
        except InsufficientCredits:
            return "refused"
        return "accepted"

    try:
        return await asyncio.gather(*(charge(cost) for cost in costs))
    finally:
        await engine.dispose()


def test_1000_concurrent_shadow_jobs_against_100_credits_accept_exactly_25(
    settings, sessions, make_tenant, balance_of, mode
):
    tenant = make_tenant(credits=100)

    outcomes = asyncio.run(charge_all(settings, tenant.id, [4] * 1000, mode))

    assert Counter(outcomes) == {"accepted": 25, "refused": 975}
    assert balance_of(tenant.id) == 0
    with sessions() as session:
        debits = (
            session.execute(
                text("SELECT amount FROM ledger_entries WHERE tenant_id = :t AND kind = 'debit'"),
                {"t": tenant.id},
            )
            .scalars()
            .all()
        )
        job_count = session.scalar(
            text("SELECT count(*) FROM jobs WHERE tenant_id = :t"), {"t": tenant.id}
        )
    assert sum(debits) == -100
    assert len(debits) == job_count == 25, "every accepted job has its debit, refused ones none"


def test_mixed_prices_at_once_spend_the_balance_to_exactly_zero(
    settings, make_tenant, balance_of, mode
):
    """37 credits, 300 requests alternating 1 and 4 credits: a 1-credit job is refused only at
    zero, and 150 of them could spend 150, so the balance must end at exactly 0, never below."""
    tenant = make_tenant(credits=37)
    outcomes = asyncio.run(charge_all(settings, tenant.id, [1, 4] * 150, mode))
    assert balance_of(tenant.id) == 0
    assert outcomes.count("accepted") >= 10


def test_a_single_statement_session_commits_each_statement_on_its_own(settings):
    """What keeps a charge's row lock short: no transaction spans the session's statements."""

    async def transaction_ids(make) -> tuple[int, int]:
        engine = make_async_engine(settings)
        try:
            async with make(engine).begin() as session:
                first = await session.scalar(text("SELECT txid_current()"))
                second = await session.scalar(text("SELECT txid_current()"))
            return first, second
        finally:
            await engine.dispose()

    first, second = asyncio.run(transaction_ids(make_single_statement_sessionmaker))
    assert first != second
    first, second = asyncio.run(transaction_ids(make_async_sessionmaker))
    assert first == second
