"""One delivery at a time, against real Postgres, with the transport replaced by a recorder.

The HTTP side is covered end to end in tests/e2e/test_webhooks.py; here, what each kind of
answer does to the event, and that what is sent verifies with the tenant's secret."""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from standardwebhooks.webhooks import Webhook

from storage import jobs, outbox, webhook_secrets
from storage.db import transaction
from storage.models import EventStatus, WebhookEvent
from workers.webhook_delivery import Dispatcher
from workers.webhook_http import Refused


def finished_event(sessions, tenant_id: uuid.UUID) -> str:
    job_id = uuid.uuid4()
    new = jobs.NewJob(
        job_id, tenant_id, None, 1, {}, f"inputs/{job_id}", webhook_url="https://hooks.example/x"
    )
    with transaction(sessions) as session:
        jobs.create_and_debit(session, new)
        jobs.claim(session, job_id, timedelta(seconds=30))
        jobs.succeed(session, job_id, f"results/{job_id}.png")
    return outbox.event_id_for(job_id)


class Recorder:
    def __init__(self, answer: int | Exception) -> None:
        self.answer = answer
        self.sent: list[tuple[str, bytes, dict[str, str]]] = []

    def __call__(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        self.sent.append((url, body, dict(headers)))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def dispatcher(settings, sessions, answer: int | Exception) -> tuple[Dispatcher, Recorder]:
    recorder = Recorder(answer)
    return Dispatcher(settings, sessions, recorder, random.Random(3)), recorder


def status_of(sessions, event_id: str) -> WebhookEvent:
    with sessions() as session:
        return session.get(WebhookEvent, event_id)


def test_a_2xx_delivers_a_body_signed_with_the_tenant_secret(settings, sessions, make_tenant):
    tenant = make_tenant()
    event_id = finished_event(sessions, tenant.id)
    with transaction(sessions) as session:
        [secret] = [row.secret for row in webhook_secrets.active(session, tenant.id)]
    deliver, recorder = dispatcher(settings, sessions, 202)

    assert deliver.deliver(event_id).status == EventStatus.DELIVERED
    [(url, body, headers)] = recorder.sent
    assert url == "https://hooks.example/x"
    assert Webhook(secret).verify(body, headers)["type"] == "job.succeeded"
    assert deliver.deliver(event_id).status is None, "a delivered event is not sent again"
    assert len(recorder.sent) == 1


def test_a_network_error_is_retried_later_within_the_window(settings, sessions, make_tenant):
    event_id = finished_event(sessions, make_tenant().id)
    deliver, _ = dispatcher(settings, sessions, ConnectionRefusedError("refused"))

    delivery = deliver.deliver(event_id)

    assert delivery.status == EventStatus.PENDING
    delay = (delivery.next_attempt_at - datetime.now(UTC)).total_seconds()
    base = settings.webhook_retry_base_seconds
    assert 0.5 * base < delay <= 1.2 * base
    assert deliver.deliver(event_id).status is None, "not due before next_attempt_at"


def test_a_forbidden_destination_is_not_retried(settings, sessions, make_tenant):
    event_id = finished_event(sessions, make_tenant().id)
    deliver, _ = dispatcher(settings, sessions, Refused("10.0.0.7 is private"))

    assert deliver.deliver(event_id).status == EventStatus.FAILED
    assert status_of(sessions, event_id).status == EventStatus.FAILED
