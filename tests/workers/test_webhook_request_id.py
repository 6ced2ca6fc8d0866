"""A webhook delivery carries the request id of the job it reports, in its logs and headers."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import timedelta

from storage import jobs, logs, outbox
from storage.db import transaction
from workers.webhook_delivery import Dispatcher


def test_delivery_logs_and_sends_the_jobs_request_id(sessions, make_tenant, settings, caplog):
    tenant = make_tenant()
    job_id = uuid.uuid4()
    new = jobs.NewJob(
        job_id,
        tenant.id,
        None,
        1,
        {},
        f"inputs/{tenant.id}/{job_id}",
        request_id="hook-trace-0001",
        webhook_url="https://hooks.example.com/cutout?token=receivers0secret",
    )
    with transaction(sessions) as session:
        jobs.create_and_debit(session, new)
        jobs.claim(session, job_id, timedelta(seconds=30))
        jobs.succeed(session, job_id, "results/x.png")
        event_id = outbox.pending_event(session, job_id)
    sent: list[Mapping[str, str]] = []

    def receiver(url: str, body: bytes, headers: Mapping[str, str]) -> int:
        sent.append(headers)
        return 204

    caplog.handler.addFilter(logs.ContextFilter())
    with caplog.at_level(logging.INFO, logger="workers.webhook_delivery"):
        Dispatcher(settings, sessions, receiver).deliver(event_id)

    assert sent[0]["X-Request-ID"] == "hook-trace-0001"
    assert sent[0]["webhook-id"] == event_id
    records = [r for r in caplog.records if r.name == "workers.webhook_delivery"]
    assert records, "the attempt was logged"
    assert all(r.request_id == "hook-trace-0001" for r in records)
    assert all(r.job_id == str(job_id) for r in records)
