"""Business metrics counted where the money and the job states change: after the commit.

The storage functions that debit, refund and finish jobs run inside their caller's transaction,
which may still roll back. So they do not count directly: they queue an increment on the session
(:func:`after_commit`), and a session event applies it once the transaction commits, or drops it
on rollback. Whichever process commits (API, worker, a sweeper) counts, so the sum over all
processes is exact. In a worker these counters live in Prometheus' multiprocess files (see
``cutout worker``), which the worker's metrics server aggregates.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import Counter
from sqlalchemy import event
from sqlalchemy.orm import Session

JOBS_FINISHED = Counter(
    "cutout_jobs_finished_total",
    "Jobs that reached a final state, by outcome and error code (empty when it succeeded).",
    ["outcome", "error_code"],
)
CREDITS_DEBITED = Counter("cutout_credits_debited_total", "Credits charged for accepted jobs.")
CREDITS_REFUNDED = Counter("cutout_credits_refunded_total", "Credits returned for failed jobs.")

_PENDING = "cutout_metrics_after_commit"


def after_commit(session: Session, action: Callable[[], None]) -> None:
    """Run ``action`` once ``session``'s current transaction commits; never if it rolls back."""
    session.info.setdefault(_PENDING, []).append(action)


@event.listens_for(Session, "after_commit")
def _apply(session: Session) -> None:
    for action in session.info.pop(_PENDING, []):
        action()


@event.listens_for(Session, "after_rollback")
def _discard(session: Session) -> None:
    session.info.pop(_PENDING, None)


def count_debit(session: Session, credits: int) -> None:
    after_commit(session, lambda: CREDITS_DEBITED.inc(credits))


def count_success(session: Session) -> None:
    after_commit(session, lambda: JOBS_FINISHED.labels("succeeded", "").inc())


def count_failure(session: Session, error_code: str, refunded: int) -> None:
    def apply() -> None:
        JOBS_FINISHED.labels("failed", error_code).inc()
        CREDITS_REFUNDED.inc(refunded)

    after_commit(session, apply)
