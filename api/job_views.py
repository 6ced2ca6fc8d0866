"""Job and batch bodies as the tenant sees them, with the parts that depend on the moment:
a freshly signed ``result_url`` and the webhook's delivery attempts so far."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request

from api.errors import ApiError
from api.services import Services
from storage import batches, jobs, outbox
from storage.api_keys import Caller
from storage.error_codes import ErrorCode
from storage.job_summary import status_path, summarize
from storage.models import Job, JobStatus, WebhookAttempt, WebhookEvent


def parse_id(raw: str, what: str) -> uuid.UUID:
    """A malformed id is answered like an unknown one: 404."""
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise ApiError(ErrorCode.NOT_FOUND, f"No such {what}.") from None


def absolute(request: Request, path: str) -> str:
    return str(request.base_url).rstrip("/") + path


def job_body(services: Services, request: Request, job: Job) -> dict[str, Any]:
    body = summarize(job)
    body["status_url"] = absolute(request, status_path(job.id))
    body["expired"] = job.purged_at is not None
    if job.status == JobStatus.SUCCEEDED and job.purged_at is None:
        assert job.result_key is not None
        body["result_url"] = services.store.presigned_get(job.result_key)
    return body


def _webhook_body(
    job: Job, event: WebhookEvent | None, attempts: list[WebhookAttempt]
) -> dict[str, Any]:
    if event is None:  # the job has not finished: nothing to announce yet
        return {"webhook_id": None, "url": job.webhook_url, "status": "waiting", "attempts": []}
    return {
        "webhook_id": event.id,
        "url": event.url,
        "status": event.status,
        "next_attempt_at": event.next_attempt_at.isoformat() if event.status == "pending" else None,
        "attempts": [
            {
                "attempt": row.attempt,
                "started_at": row.started_at.isoformat(),
                "duration_ms": row.duration_ms,
                "status_code": row.status_code,
                "error": row.error,
                # Started, never answered, and the event moved on: its dispatcher died.
                "interrupted": row.duration_ms is None and row.attempt < event.attempts,
            }
            for row in attempts
        ],
    }


async def job_view(
    services: Services, request: Request, caller: Caller, raw_id: str
) -> dict[str, Any]:
    """``GET /v1/jobs/{id}``; another tenant's job is answered 404, like a missing one."""
    job_id = parse_id(raw_id, "job")
    async with services.sessions() as session:
        job = await session.run_sync(jobs.get_for_tenant, job_id, caller.tenant_id)
        if job is None:
            raise ApiError(ErrorCode.NOT_FOUND, "No such job.")
        event, attempts = await session.run_sync(outbox.for_job, job_id)
    body = job_body(services, request, job)
    body["webhook"] = _webhook_body(job, event, attempts) if job.webhook_url else None
    return body


async def batch_view(
    services: Services, request: Request, caller: Caller, raw_id: str
) -> dict[str, Any]:
    """``GET /v1/batches/{id}``: progress counts and every job, in submission order."""
    batch_id = parse_id(raw_id, "batch")
    async with services.sessions() as session:
        batch = await session.run_sync(batches.get_for_tenant, batch_id, caller.tenant_id)
        if batch is None:
            raise ApiError(ErrorCode.NOT_FOUND, "No such batch.")
        members = await session.run_sync(batches.jobs_of, batch_id)
    counts = {status.value: 0 for status in JobStatus}
    for job in members:
        counts[job.status] += 1
    finished = counts[JobStatus.SUCCEEDED] + counts[JobStatus.FAILED]
    return {
        "batch_id": str(batch.id),
        "created_at": batch.created_at.isoformat(),
        "total": batch.item_count,
        "counts": counts,
        "done": finished == batch.item_count,
        "credits_charged": sum(job.cost for job in members),
        "credits_refunded": sum(job.cost for job in members if job.status == JobStatus.FAILED),
        "jobs": [job_body(services, request, job) for job in members],
    }
