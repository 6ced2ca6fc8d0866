"""What a tenant is told about a job: the body of ``GET /v1/jobs/{id}`` and of webhook events.

One function for both, so a webhook and a status poll never disagree. The API adds what depends
on the moment of the request (a fresh ``result_url``, the delivery attempts).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from storage.models import Job, JobStatus


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def status_path(job_id: uuid.UUID) -> str:
    return f"/v1/jobs/{job_id}"


def summarize(job: Job) -> dict[str, Any]:
    failed = job.status == JobStatus.FAILED
    return {
        "job_id": str(job.id),
        "status": job.status,
        "batch_id": str(job.batch_id) if job.batch_id else None,
        "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
        # Charged at acceptance; a failed job's debit is refunded, so it costs nothing.
        "credits_charged": job.cost,
        "credits_refunded": job.cost if failed else 0,
        "error_code": job.error_code,
        "error": job.error_message,
        # The light a shadow was rendered with and its source (docs/shadows.md); None without.
        "shadow_light": job.shadow_light,
        "status_url": status_path(job.id),
    }
