"""Periodic repairs: stuck jobs and expired objects. Each is safe to run anywhere, any time.

- A job can stay ``queued`` with no Celery message behind it, e.g. when the API crashed between
  its commit and the enqueue, or Redis lost its data; a ``running`` job's message can vanish with
  its worker. Such a job is sent again (the job row's lease drops any duplicate message), and
  after ``stuck_job_max_requeues`` re-sends it is failed and refunded instead.
- Inputs and results of finished jobs are deleted after the retention period; the job row stays
  (``purged_at`` set), so the tenant still sees what happened.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from storage import jobs
from storage.error_codes import ErrorCode
from storage.models import Job, JobStatus


@dataclass
class StuckJobs:
    requeued: list[uuid.UUID] = field(default_factory=list)
    failed: list[uuid.UUID] = field(default_factory=list)
    # The model each re-sent job asked for (None: the server's default), so the sender can
    # route it to the queue of workers that have that model, as the API did.
    models: dict[uuid.UUID, str | None] = field(default_factory=dict)
    # The tenant of each failed job, whose concurrent-jobs slot the caller gives back after
    # commit (storage/job_slots.py).
    owners: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)


def stuck_jobs(
    session: Session, after: timedelta, max_requeues: int, limit: int = 500
) -> StuckJobs:
    """Mark stuck jobs re-sent (the caller sends them after commit) or fail and refund them."""
    stale = func.now() - after
    rows = session.execute(
        select(Job.id, Job.tenant_id, Job.requeues, Job.options)
        .where(
            or_(
                and_(Job.status == JobStatus.QUEUED, Job.enqueued_at < stale),
                and_(Job.status == JobStatus.RUNNING, Job.lease_expires_at < stale),
            )
        )
        .order_by(Job.enqueued_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    found = StuckJobs()
    for job_id, tenant_id, requeues, options in rows:
        if requeues >= max_requeues:
            jobs.fail_and_refund(
                session,
                job_id,
                ErrorCode.INTERNAL_ERROR,
                f"The job was not picked up after {requeues + 1} attempts to queue it.",
            )
            found.failed.append(job_id)
            found.owners[job_id] = tenant_id
        else:
            session.execute(
                update(Job)
                .where(Job.id == job_id)
                .values(requeues=Job.requeues + 1, enqueued_at=func.now())
            )
            found.requeued.append(job_id)
            found.models[job_id] = (options or {}).get("model")
    return found


@dataclass(frozen=True, slots=True)
class ExpiredJob:
    id: uuid.UUID
    keys: tuple[str, ...]


def expired(session: Session, retention: timedelta, limit: int = 500) -> list[ExpiredJob]:
    """Finished jobs whose objects outlived the retention period and are still stored."""
    rows = session.execute(
        select(Job.id, Job.input_key, Job.result_key)
        .where(
            Job.finished_at.is_not(None),
            Job.finished_at < func.now() - retention,
            Job.purged_at.is_(None),
        )
        .order_by(Job.finished_at)
        .limit(limit)
    ).all()
    return [
        ExpiredJob(row.id, tuple(k for k in (row.input_key, row.result_key) if k)) for row in rows
    ]


def mark_purged(session: Session, job_ids: list[uuid.UUID]) -> None:
    if job_ids:
        session.execute(update(Job).where(Job.id.in_(job_ids)).values(purged_at=func.now()))
