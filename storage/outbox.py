"""The webhook outbox: events written with the job's completion, delivered afterwards.

An event row is inserted in the same transaction that ends the job (:mod:`storage.jobs`), so a job
never finishes without its event, and an event never announces a job that rolled back. The
dispatcher then works through the rows:

- :func:`claim` takes a lease on a due event and records the attempt as started, in one
  transaction; a dispatcher killed mid-delivery leaves the lease to expire, and the sweep hands
  the same row (same ``webhook-id``) to another dispatcher;
- :func:`finish_attempt` records the answer and moves the event on: delivered, retried later,
  given up after the retry window, or disabled when the endpoint answered 410 Gone.

The event id is ``msg_`` + the job id: one completion event per job, and a stable ``webhook-id``
receivers can deduplicate on.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from storage.job_summary import summarize
from storage.models import (
    EventStatus,
    Job,
    JobStatus,
    WebhookAttempt,
    WebhookEndpoint,
    WebhookEvent,
)

EVENT_TYPES = {JobStatus.SUCCEEDED: "job.succeeded", JobStatus.FAILED: "job.failed"}


def event_id_for(job_id: uuid.UUID) -> str:
    return f"msg_{job_id.hex}"


def record_completion(session: Session, job_id: uuid.UUID) -> str | None:
    """Write the finished job's event, in the caller's transaction; None without a webhook."""
    job = session.scalar(
        select(Job).where(Job.id == job_id).execution_options(populate_existing=True)
    )
    if job is None or job.webhook_url is None:
        return None
    event_type = EVENT_TYPES[JobStatus(job.status)]
    event_id = event_id_for(job.id)
    payload = {
        "type": event_type,
        "timestamp": (job.finished_at or datetime.now().astimezone()).isoformat(),
        "data": summarize(job),
    }
    session.execute(
        pg_insert(WebhookEvent)
        .values(
            id=event_id,
            tenant_id=job.tenant_id,
            job_id=job.id,
            url=job.webhook_url,
            event_type=event_type,
            payload=payload,
            status=EventStatus.PENDING,
        )
        .on_conflict_do_nothing()
    )
    return event_id


def pending_event(session: Session, job_id: uuid.UUID) -> str | None:
    """The job's event id when one awaits delivery (to hint a dispatcher after commit)."""
    return session.scalar(
        select(WebhookEvent.id).where(
            WebhookEvent.id == event_id_for(job_id), WebhookEvent.status == EventStatus.PENDING
        )
    )


@dataclass(frozen=True, slots=True)
class ClaimedEvent:
    id: str
    tenant_id: uuid.UUID
    url: str
    payload: dict[str, Any]
    attempt: int
    created_at: datetime


def origin(session: Session, event_id: str) -> tuple[str | None, str | None]:
    """The request id and job id behind an event, so its delivery logs under the same id."""
    row = session.execute(
        select(Job.request_id, Job.id)
        .join(WebhookEvent, WebhookEvent.job_id == Job.id)
        .where(WebhookEvent.id == event_id)
    ).one_or_none()
    return (row[0], str(row[1])) if row else (None, None)


def _due():
    return and_(
        WebhookEvent.status == EventStatus.PENDING,
        WebhookEvent.next_attempt_at <= func.now(),
        or_(WebhookEvent.lease_expires_at.is_(None), WebhookEvent.lease_expires_at < func.now()),
    )


def claim(session: Session, event_id: str, lease: timedelta) -> ClaimedEvent | None:
    """Lease a due event and record its attempt as started; None if not due or leased."""
    row = session.execute(
        update(WebhookEvent)
        .where(WebhookEvent.id == event_id, _due())
        .values(attempts=WebhookEvent.attempts + 1, lease_expires_at=func.now() + lease)
        .returning(
            WebhookEvent.id,
            WebhookEvent.tenant_id,
            WebhookEvent.url,
            WebhookEvent.payload,
            WebhookEvent.attempts,
            WebhookEvent.created_at,
        )
    ).one_or_none()
    if row is None:
        return None
    claimed = ClaimedEvent(*row)
    session.execute(
        insert(WebhookAttempt).values(
            event_id=claimed.id, attempt=claimed.attempt, started_at=func.now()
        )
    )
    return claimed


def due(session: Session, limit: int = 500) -> list[str]:
    """Events whose next attempt is due and that no live dispatcher holds."""
    return list(
        session.scalars(
            select(WebhookEvent.id)
            .where(_due())
            .order_by(WebhookEvent.next_attempt_at)
            .limit(limit)
        )
    )


def is_disabled(session: Session, tenant_id: uuid.UUID, url: str) -> bool:
    return (
        session.scalar(
            select(WebhookEndpoint.disabled_at).where(
                WebhookEndpoint.tenant_id == tenant_id,
                WebhookEndpoint.url == url,
                WebhookEndpoint.disabled_at.is_not(None),
            )
        )
        is not None
    )


def set_endpoint_disabled(
    session: Session, tenant_id: uuid.UUID, url: str, reason: str | None
) -> None:
    """Disable (with a reason) or re-enable (reason None) a tenant's webhook URL."""
    disabled_at = func.now() if reason else None
    session.execute(
        pg_insert(WebhookEndpoint)
        .values(tenant_id=tenant_id, url=url, disabled_at=disabled_at, disabled_reason=reason)
        .on_conflict_do_update(
            index_elements=["tenant_id", "url"],
            set_={"disabled_at": disabled_at, "disabled_reason": reason},
        )
    )


def disabled_endpoints(session: Session, tenant_id: uuid.UUID) -> list[WebhookEndpoint]:
    return list(
        session.scalars(
            select(WebhookEndpoint).where(
                WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.disabled_at.is_not(None)
            )
        )
    )


def _stop_endpoint_events(session: Session, tenant_id: uuid.UUID, url: str) -> None:
    session.execute(
        update(WebhookEvent)
        .where(
            WebhookEvent.tenant_id == tenant_id,
            WebhookEvent.url == url,
            WebhookEvent.status == EventStatus.PENDING,
        )
        .values(status=EventStatus.DISABLED, finished_at=func.now(), lease_expires_at=None)
    )


def finish_attempt(
    session: Session,
    event: ClaimedEvent,
    *,
    duration_ms: int | None,
    status_code: int | None,
    error: str | None,
    next_attempt_at: datetime | None,
) -> EventStatus:
    """Record the attempt's answer and move the event on; returns the event's new status.

    2xx: delivered. 410: the endpoint is disabled and its pending events stop. Anything else:
    retried at ``next_attempt_at``, or failed for good when that is None (window over). An
    attempt whose lease was lost to another dispatcher is recorded but changes nothing else.
    """
    session.execute(
        update(WebhookAttempt)
        .where(WebhookAttempt.event_id == event.id, WebhookAttempt.attempt == event.attempt)
        .values(duration_ms=duration_ms, status_code=status_code, error=error)
    )
    mine = and_(
        WebhookEvent.id == event.id,
        WebhookEvent.attempts == event.attempt,
        WebhookEvent.status == EventStatus.PENDING,
    )
    if status_code is not None and 200 <= status_code < 300:
        status, values = EventStatus.DELIVERED, {"finished_at": func.now()}
    elif status_code == 410:
        set_endpoint_disabled(session, event.tenant_id, event.url, "answered 410 Gone")
        _stop_endpoint_events(session, event.tenant_id, event.url)
        return EventStatus.DISABLED
    elif next_attempt_at is None:
        status, values = EventStatus.FAILED, {"finished_at": func.now()}
    else:
        status, values = EventStatus.PENDING, {"next_attempt_at": next_attempt_at}
    session.execute(
        update(WebhookEvent).where(mine).values(status=status, lease_expires_at=None, **values)
    )
    return status


def stop_if_disabled(session: Session, event: ClaimedEvent) -> bool:
    """True (and the event stopped) when its endpoint was disabled after the event was written."""
    if not is_disabled(session, event.tenant_id, event.url):
        return False
    session.execute(
        update(WebhookAttempt)
        .where(WebhookAttempt.event_id == event.id, WebhookAttempt.attempt == event.attempt)
        .values(duration_ms=0, error="not sent: the endpoint is disabled")
    )
    _stop_endpoint_events(session, event.tenant_id, event.url)
    return True


def for_job(
    session: Session, job_id: uuid.UUID
) -> tuple[WebhookEvent | None, list[WebhookAttempt]]:
    event = session.scalar(
        select(WebhookEvent)
        .where(WebhookEvent.job_id == job_id)
        .execution_options(populate_existing=True)
    )
    if event is None:
        return None, []
    attempts = session.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.event_id == event.id)
        .order_by(WebhookAttempt.attempt)
        .execution_options(populate_existing=True)
    )
    return event, list(attempts)
