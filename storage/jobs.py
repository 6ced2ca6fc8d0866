"""Jobs: the row in Postgres is the source of truth for a job's state.

State moves only forward, ``queued → running → succeeded | failed``, each step a conditional
update, so a retried or duplicated Celery message cannot run a finished job again, and the two
terminal outcomes exclude each other: a job either has a result or was refunded, never both.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Select, bindparam, func, insert, literal, select, update
from sqlalchemy.orm import Session

from storage import ledger, metrics, outbox
from storage.error_codes import ErrorCode
from storage.models import CreditAccount, EntryKind, Job, JobStatus, LedgerEntry

UNFINISHED = (JobStatus.QUEUED, JobStatus.RUNNING)


@dataclass(frozen=True, slots=True)
class NewJob:
    id: uuid.UUID
    tenant_id: uuid.UUID
    api_key_id: uuid.UUID | None
    cost: int
    options: dict[str, Any]
    input_key: str
    request_id: str | None = None
    webhook_url: str | None = None
    batch_id: uuid.UUID | None = None
    batch_index: int | None = None


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    id: uuid.UUID
    tenant_id: uuid.UUID
    options: dict[str, Any]
    input_key: str
    attempts: int
    request_id: str | None


def create_and_debit(session: Session, job: NewJob) -> int:
    """Record the job and charge for it in one statement; returns the new balance.

    One round trip: a data-modifying CTE decrements the balance only where it covers the cost
    (``WHERE balance >= cost``), and inserts the job row and its debit entry only when that
    update matched. Concurrent requests serialize on the account row, so however many arrive at
    once, they can never overdraw it. Raises :class:`storage.ledger.InsufficientCredits` and
    writes nothing when the balance is short.
    """
    new_balance = session.scalar(
        _create_and_debit_statement(),
        {
            "job_id": job.id,
            "payer": job.tenant_id,
            "api_key_id": job.api_key_id,
            "cost": job.cost,
            "debit": -job.cost,
            "options": job.options,
            "input_key": job.input_key,
            "request_id": job.request_id,
            "webhook_url": job.webhook_url,
            "batch_id": job.batch_id,
            "batch_index": job.batch_index,
        },
    )
    if new_balance is None:
        raise ledger.InsufficientCredits(f"tenant {job.tenant_id} cannot pay {job.cost} credits")
    metrics.count_debit(session, job.cost)
    return new_balance


@functools.cache
def _create_and_debit_statement() -> Select[tuple[int]]:
    """Built once, with bound parameters: building the CTEs cost more than running them."""
    debited = (
        update(CreditAccount)
        .where(
            CreditAccount.tenant_id == bindparam("payer"),
            CreditAccount.balance >= bindparam("cost"),
        )
        .values(balance=CreditAccount.balance - bindparam("cost"))
        .returning(CreditAccount.tenant_id, CreditAccount.balance)
        .cte("debited")
    )
    columns = {
        "id": bindparam("job_id", type_=Job.id.type),
        "tenant_id": debited.c.tenant_id,
        "api_key_id": bindparam("api_key_id", type_=Job.api_key_id.type),
        "status": literal(JobStatus.QUEUED.value, Job.status.type),
        "cost": bindparam("cost", type_=Job.cost.type),
        "options": bindparam("options", type_=Job.options.type),
        "input_key": bindparam("input_key", type_=Job.input_key.type),
        "request_id": bindparam("request_id", type_=Job.request_id.type),
        "webhook_url": bindparam("webhook_url", type_=Job.webhook_url.type),
        "batch_id": bindparam("batch_id", type_=Job.batch_id.type),
        "batch_index": bindparam("batch_index", type_=Job.batch_index.type),
    }
    created = (
        insert(Job)
        .from_select(list(columns), select(*columns.values()), include_defaults=False)
        .returning(Job.id, Job.tenant_id)
        .cte("created")
    )
    entry = (
        insert(LedgerEntry)
        .from_select(
            ["tenant_id", "job_id", "kind", "amount"],
            select(
                created.c.tenant_id,
                created.c.id,
                literal(EntryKind.DEBIT.value, LedgerEntry.kind.type),
                bindparam("debit", type_=LedgerEntry.amount.type),
            ),
            include_defaults=False,
        )
        .returning(LedgerEntry.id)
        .cte("entry")
    )
    return select(debited.c.balance).add_cte(created, entry).select_from(debited)


def claim(session: Session, job_id: uuid.UUID, lease: timedelta) -> ClaimedJob | None:
    """Take a lease on a queued job, or on a running one whose worker vanished.

    Returns None when the job is finished (the message is a duplicate: drop it) or another
    attempt holds a live lease (see :func:`lease_left`: look again once it has expired).
    """
    row = session.execute(
        update(Job)
        .where(
            Job.id == job_id,
            (Job.status == JobStatus.QUEUED)
            | ((Job.status == JobStatus.RUNNING) & (Job.lease_expires_at < func.now())),
        )
        .values(
            status=JobStatus.RUNNING,
            attempts=Job.attempts + 1,
            started_at=func.coalesce(Job.started_at, func.now()),
            lease_expires_at=func.now() + lease,
        )
        .returning(Job.id, Job.tenant_id, Job.options, Job.input_key, Job.attempts, Job.request_id)
    ).one_or_none()
    return ClaimedJob(*row) if row else None


def lease_left(session: Session, job_id: uuid.UUID) -> float | None:
    """Seconds left on the live lease of a running job; None when it is not running."""
    return session.scalar(
        select(func.extract("epoch", Job.lease_expires_at - func.now())).where(
            Job.id == job_id, Job.status == JobStatus.RUNNING
        )
    )


def succeed(
    session: Session,
    job_id: uuid.UUID,
    result_key: str,
    shadow_light: dict[str, Any] | None = None,
) -> bool:
    """Record the result; False when the job already ended (another attempt got there first).

    A job with a webhook gets its ``job.succeeded`` event in the outbox in this transaction.
    ``shadow_light`` is the light the shadow was rendered with (``ShadowLight.to_json()``), so
    an automatic shadow can be reported and reproduced.
    """
    ended = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.RUNNING)
        .values(
            status=JobStatus.SUCCEEDED,
            result_key=result_key,
            shadow_light=shadow_light,
            finished_at=func.now(),
            lease_expires_at=None,
        )
        .returning(Job.webhook_url)
    ).one_or_none()
    if ended is None:
        return False
    metrics.count_success(session)
    if ended.webhook_url:
        outbox.record_completion(session, job_id)
    return True


@dataclass(frozen=True, slots=True)
class FailedJob:
    """A job this call ended as failed: whose it was (its concurrent-jobs slot's key,
    storage/job_slots.py) and the credits given back."""

    tenant_id: uuid.UUID
    refunded: int


def end_failed(
    session: Session, job_id: uuid.UUID, code: ErrorCode, message: str
) -> FailedJob | None:
    """End the job as failed and return its credits, in the caller's transaction.

    None when the job had already ended (nothing changes). A job with a webhook gets its
    ``job.failed`` event in the outbox in this transaction.
    """
    ended = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status.in_(UNFINISHED))
        .values(
            status=JobStatus.FAILED,
            error_code=code,
            error_message=message,
            finished_at=func.now(),
            lease_expires_at=None,
        )
        .returning(Job.webhook_url, Job.tenant_id)
    ).one_or_none()
    if ended is None:
        return None
    refunded = ledger.refund_job(session, job_id)
    metrics.count_failure(session, str(code), refunded)
    if ended.webhook_url:
        outbox.record_completion(session, job_id)
    return FailedJob(ended.tenant_id, refunded)


def fail_and_refund(
    session: Session, job_id: uuid.UUID, code: ErrorCode, message: str
) -> int | None:
    """:func:`end_failed`, for callers that only need the credits refunded (None: already
    ended)."""
    failed = end_failed(session, job_id, code, message)
    return None if failed is None else failed.refunded


def get(session: Session, job_id: uuid.UUID) -> Job | None:
    """A fresh read of the job row, bypassing the session's identity map."""
    return session.scalar(
        select(Job).where(Job.id == job_id).execution_options(populate_existing=True)
    )


def release(session: Session, job_id: uuid.UUID) -> bool:
    """Put a running job back to queued (a transient failure), keeping its attempt count."""
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.RUNNING)
        .values(status=JobStatus.QUEUED, lease_expires_at=None, enqueued_at=func.now())
    )
    return result.rowcount == 1


def get_for_tenant(session: Session, job_id: uuid.UUID, tenant_id: uuid.UUID) -> Job | None:
    """The job if it belongs to the tenant; another tenant's job is as good as absent."""
    return session.scalar(
        select(Job)
        .where(Job.id == job_id, Job.tenant_id == tenant_id)
        .execution_options(populate_existing=True)
    )
