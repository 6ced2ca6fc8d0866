"""The webhook outbox against real Postgres: written with the job's completion, then worked
through attempt by attempt."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from storage import jobs, outbox
from storage.db import transaction
from storage.error_codes import ErrorCode
from storage.models import EventStatus, WebhookAttempt, WebhookEvent

HOOK = "https://hooks.example.com/cutout"
LEASE = timedelta(seconds=30)


def running_job(sessions, tenant_id: uuid.UUID, webhook_url: str | None = HOOK, cost: int = 1):
    job_id = uuid.uuid4()
    new = jobs.NewJob(
        job_id, tenant_id, None, cost, {}, f"inputs/{tenant_id}/{job_id}", webhook_url=webhook_url
    )
    with transaction(sessions) as session:
        jobs.create_and_debit(session, new)
        jobs.claim(session, job_id, LEASE)
    return job_id


def event_of(sessions, job_id: uuid.UUID) -> WebhookEvent | None:
    with sessions() as session:
        return session.scalar(select(WebhookEvent).where(WebhookEvent.job_id == job_id))


def test_success_writes_one_event_in_the_same_transaction(sessions, make_tenant):
    tenant = make_tenant()
    job_id = running_job(sessions, tenant.id)

    def crash_before_commit() -> None:
        with transaction(sessions) as session:
            assert jobs.succeed(session, job_id, "results/x.png")
            raise RuntimeError("crash before commit")

    with pytest.raises(RuntimeError):
        crash_before_commit()
    assert event_of(sessions, job_id) is None, "a rolled-back completion leaves no event"

    with transaction(sessions) as session:
        assert jobs.succeed(session, job_id, "results/x.png")
    event = event_of(sessions, job_id)
    assert event is not None
    assert event.id == f"msg_{job_id.hex}"
    assert event.url == HOOK
    assert event.status == EventStatus.PENDING
    assert event.payload["type"] == "job.succeeded"
    assert event.payload["data"]["job_id"] == str(job_id)
    assert event.payload["data"]["credits_charged"] == 1


def test_failure_writes_a_failed_event_with_the_refund(sessions, make_tenant, balance_of):
    tenant = make_tenant(credits=10)
    job_id = running_job(sessions, tenant.id, cost=4)
    with transaction(sessions) as session:
        assert jobs.fail_and_refund(session, job_id, ErrorCode.MALFORMED_IMAGE, "bad") == 4
        assert outbox.pending_event(session, job_id) == f"msg_{job_id.hex}"
    event = event_of(sessions, job_id)
    assert event.payload["type"] == "job.failed"
    assert event.payload["data"]["error_code"] == "malformed_image"
    assert event.payload["data"]["credits_refunded"] == 4
    assert balance_of(tenant.id) == 10


def test_a_job_without_webhook_writes_no_event(sessions, make_tenant):
    tenant = make_tenant()
    job_id = running_job(sessions, tenant.id, webhook_url=None)
    with transaction(sessions) as session:
        jobs.succeed(session, job_id, "results/x.png")
        assert outbox.pending_event(session, job_id) is None
    assert event_of(sessions, job_id) is None


def finished_event(sessions, tenant_id, url: str = HOOK) -> str:
    job_id = running_job(sessions, tenant_id, webhook_url=url)
    with transaction(sessions) as session:
        jobs.succeed(session, job_id, "results/x.png")
    return outbox.event_id_for(job_id)


def attempts_of(sessions, event_id: str) -> list[WebhookAttempt]:
    with sessions() as session:
        return list(
            session.scalars(
                select(WebhookAttempt)
                .where(WebhookAttempt.event_id == event_id)
                .order_by(WebhookAttempt.attempt)
            )
        )


def test_a_claimed_event_is_leased_and_its_attempt_recorded_as_started(sessions, make_tenant):
    event_id = finished_event(sessions, make_tenant().id)
    with transaction(sessions) as session:
        claimed = outbox.claim(session, event_id, LEASE)
    assert claimed is not None
    assert claimed.attempt == 1
    with transaction(sessions) as session:
        assert outbox.claim(session, event_id, LEASE) is None, "the lease keeps others off"
        assert event_id not in outbox.due(session)
    [started] = attempts_of(sessions, event_id)
    assert started.attempt == 1
    assert started.duration_ms is None

    # The dispatcher dies; once its lease expires the same event is due again.
    with transaction(sessions) as session:
        session.execute(
            update(WebhookEvent)
            .where(WebhookEvent.id == event_id)
            .values(lease_expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        assert event_id in outbox.due(session)
        again = outbox.claim(session, event_id, LEASE)
    assert again is not None
    assert again.id == event_id
    assert again.attempt == 2


def test_a_500_schedules_a_retry_and_a_2xx_delivers(sessions, make_tenant):
    event_id = finished_event(sessions, make_tenant().id)
    retry_at = datetime.now(UTC) - timedelta(seconds=1)
    with transaction(sessions) as session:
        claimed = outbox.claim(session, event_id, LEASE)
        status = outbox.finish_attempt(
            session, claimed, duration_ms=12, status_code=500, error=None, next_attempt_at=retry_at
        )
    assert status == EventStatus.PENDING
    with transaction(sessions) as session:
        claimed = outbox.claim(session, event_id, LEASE)
        status = outbox.finish_attempt(
            session, claimed, duration_ms=9, status_code=204, error=None, next_attempt_at=None
        )
    assert status == EventStatus.DELIVERED
    assert [(a.attempt, a.status_code) for a in attempts_of(sessions, event_id)] == [
        (1, 500),
        (2, 204),
    ]
    assert event_of_id(sessions, event_id).status == EventStatus.DELIVERED


def event_of_id(sessions, event_id: str) -> WebhookEvent:
    with sessions() as session:
        return session.get(WebhookEvent, event_id)


def test_timeouts_past_the_window_fail_the_event_for_good(sessions, make_tenant):
    event_id = finished_event(sessions, make_tenant().id)
    with transaction(sessions) as session:
        claimed = outbox.claim(session, event_id, LEASE)
        status = outbox.finish_attempt(
            session,
            claimed,
            duration_ms=None,
            status_code=None,
            error="ReadTimeout",
            next_attempt_at=None,
        )
    assert status == EventStatus.FAILED
    assert attempts_of(sessions, event_id)[0].error == "ReadTimeout"


def test_410_disables_the_endpoint_and_stops_its_other_events(sessions, make_tenant):
    tenant = make_tenant()
    first = finished_event(sessions, tenant.id)
    second = finished_event(sessions, tenant.id)
    elsewhere = finished_event(sessions, tenant.id, url="https://other.example.com/hook")
    with transaction(sessions) as session:
        claimed = outbox.claim(session, first, LEASE)
        status = outbox.finish_attempt(
            session, claimed, duration_ms=5, status_code=410, error=None, next_attempt_at=None
        )
    assert status == EventStatus.DISABLED
    assert event_of_id(sessions, second).status == EventStatus.DISABLED
    assert event_of_id(sessions, elsewhere).status == EventStatus.PENDING
    with sessions() as session:
        assert outbox.is_disabled(session, tenant.id, HOOK)
        assert [e.url for e in outbox.disabled_endpoints(session, tenant.id)] == [HOOK]

    # A later job's event to the disabled URL is stopped before anything is sent.
    later = finished_event(sessions, tenant.id)
    with transaction(sessions) as session:
        claimed = outbox.claim(session, later, LEASE)
        assert outbox.stop_if_disabled(session, claimed)
    assert event_of_id(sessions, later).status == EventStatus.DISABLED

    with transaction(sessions) as session:
        outbox.set_endpoint_disabled(session, tenant.id, HOOK, None)
        assert not outbox.is_disabled(session, tenant.id, HOOK)
