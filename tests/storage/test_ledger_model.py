"""The ledger against a model small enough to be obviously right, driven by Hypothesis.

Each step runs on real Postgres through the same storage functions the API and workers use:
grants, adjustments, job charges (1 or 4 credits), success, failure with refund, and
*concurrent retries* (the same refund or the same charge attempted twice at once from two
threads, as a redelivered message or a retried request would). After every step the balance
must equal the model's, equal the sum of the entries, and never be negative.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    rule,
)
from sqlalchemy.exc import IntegrityError

from storage import jobs, ledger
from storage.db import transaction
from storage.error_codes import ErrorCode
from storage.ledger import InsufficientCredits
from tests.storage.test_ledger import new_job


@pytest.fixture
def ledger_machine(sessions, make_tenant):
    class LedgerMachine(RuleBasedStateMachine):
        """Model: a balance, and each accepted job's cost and whether it ended."""

        open_jobs = Bundle("open_jobs")

        @initialize()
        def tenant(self) -> None:
            self.tenant_id = make_tenant(credits=0).id
            self.balance = 0
            self.refunded: set[uuid.UUID] = set()
            self.pool = ThreadPoolExecutor(max_workers=2)

        def teardown(self) -> None:
            self.pool.shutdown()

        @rule(amount=st.integers(1, 12))
        def grant(self, amount: int) -> None:
            with transaction(sessions) as session:
                ledger.grant(session, self.tenant_id, amount, reason="model grant")
            self.balance += amount

        @rule(amount=st.integers(-6, 6).filter(bool))
        def adjust(self, amount: int) -> None:
            try:
                with transaction(sessions) as session:
                    ledger.adjust(session, self.tenant_id, amount, reason="model adjustment")
            except InsufficientCredits:
                assert self.balance + amount < 0
                return
            self.balance += amount

        @rule(target=open_jobs, cost=st.sampled_from([1, 4]), retried=st.booleans())
        def charge(self, cost: int, retried: bool):
            """A request charges a job; ``retried`` sends the same job twice at once."""
            job = new_job(self.tenant_id, cost)

            def attempt() -> str:
                try:
                    with transaction(sessions) as session:
                        jobs.create_and_debit(session, job)
                except InsufficientCredits:
                    return "refused"
                except IntegrityError:
                    return "duplicate"
                return "charged"

            outcomes = list(self.pool.map(lambda _: attempt(), range(2 if retried else 1)))
            if cost > self.balance:
                assert set(outcomes) == {"refused"}
                return multiple()
            assert outcomes.count("charged") == 1, outcomes
            self.balance -= cost
            return (job.id, cost)

        @rule(job=consumes(open_jobs))
        def succeed(self, job) -> None:
            job_id, _ = job
            with transaction(sessions) as session:
                assert jobs.claim(session, job_id, timedelta(minutes=1)) is not None
                assert jobs.succeed(session, job_id, f"results/{job_id}.png")
            with transaction(sessions) as session:  # a late failure cannot refund it now
                assert jobs.fail_and_refund(session, job_id, ErrorCode.TIMEOUT, "late") is None

        @rule(job=consumes(open_jobs), concurrent=st.booleans())
        def fail(self, job, concurrent: bool) -> None:
            """The job fails; ``concurrent`` has two workers record the failure at once."""
            job_id, cost = job

            def attempt() -> int | None:
                with transaction(sessions) as session:
                    return jobs.fail_and_refund(
                        session, job_id, ErrorCode.MALFORMED_IMAGE, "model failure"
                    )

            refunds = list(self.pool.map(lambda _: attempt(), range(2 if concurrent else 1)))
            assert sorted(refunds, key=lambda r: r is None)[0] == cost
            assert refunds.count(None) == len(refunds) - 1
            self.balance += cost

        @invariant()
        def balance_matches_model_and_entries(self) -> None:
            if not hasattr(self, "tenant_id"):
                return
            with sessions() as session:
                stored = ledger.balance(session, self.tenant_id)
                total = ledger.entries_total(session, self.tenant_id)
            assert stored == self.balance == total
            assert stored >= 0

    return LedgerMachine


def test_the_ledger_behaves_like_its_model(ledger_machine):
    ledger_machine.TestCase.settings = settings(
        max_examples=12,
        stateful_step_count=15,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    ledger_machine.TestCase().runTest()
