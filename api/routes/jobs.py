"""Asynchronous jobs: ``POST /v1/jobs/remove-background`` answers 202 once the job is paid for
and queued; ``GET /v1/jobs/{id}`` tells how it went (and a webhook can say so too)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api import idempotency
from api.deps import CallerDep, RateLimitedCaller, ServicesDep
from api.error_docs import READ_ERRORS, error_responses
from api.image_input import prepared_image
from api.job_flow import accept_job
from api.job_views import absolute, job_view
from api.remove_request import RemovalRequest, parse_removal_request
from api.request_context import current_request_id
from api.routes.remove_background import _REQUEST_BODY, CREDITS_HEADER
from api.schemas import JobAccepted, JobStatusBody
from api.services import Services
from api.webhook_check import check_webhook_url
from storage.api_keys import Caller
from storage.error_codes import ErrorCode
from storage.job_summary import status_path
from storage.models import Job, JobStatus

router = APIRouter(tags=["asynchronous jobs"])


@router.post(
    "/v1/jobs/remove-background",
    summary="Remove background, asynchronously",
    description=(
        "The body of `/v1/remove-background`, plus an optional `webhook_url` called when the job"
        " ends. Answers 202 once the input is validated and the credits are charged; poll"
        " `status_url` or wait for the webhook. A failed job is refunded."
    ),
    status_code=202,
    response_model=JobAccepted,
    responses=error_responses(code for code in ErrorCode if code != ErrorCode.TIMEOUT),
    openapi_extra=_REQUEST_BODY,
)
async def submit_job(
    request: Request, caller: RateLimitedCaller, services: ServicesDep
) -> JSONResponse:
    removal = await parse_removal_request(request, services.settings.max_image_bytes, webhook=True)
    check_webhook_url(services.settings, removal.webhook_url)

    async def submit(key: str | None) -> JSONResponse:
        return await _submit(request, services, caller, removal, key)

    async def replay(job: Job) -> JSONResponse:  # the first 202 again, with the status as it is now
        idempotency.mark_replayed(request)
        return _accepted(request, job.id, job.status, job.cost)

    return await idempotency.at_most_once(request, services, caller, removal, submit, replay)


async def _submit(
    request: Request,
    services: Services,
    caller: Caller,
    removal: RemovalRequest,
    idempotency_key: str | None = None,
) -> JSONResponse:
    image = await prepared_image(services, removal)
    job = await accept_job(
        services,
        caller,
        image,
        removal.options,
        current_request_id(),
        webhook_url=removal.webhook_url,
        wait=False,
        idempotency_key=idempotency_key,
    )
    return _accepted(request, job.id, JobStatus.QUEUED, job.cost)


def _accepted(request: Request, job_id: uuid.UUID, status: str, cost: int) -> JSONResponse:
    return JSONResponse(
        {
            "job_id": str(job_id),
            "status": status,
            "status_url": absolute(request, status_path(job_id)),
        },
        status_code=202,
        headers={CREDITS_HEADER: str(cost)},
    )


@router.get(
    "/v1/jobs/{job_id}",
    summary="A job's status",
    description=(
        "Status, timestamps, credits, the error on failure, a fresh `result_url` (valid 1 h) on"
        " success, and the webhook's delivery attempts. Another tenant's job is a 404."
    ),
    response_model=JobStatusBody,
    responses=error_responses(READ_ERRORS),
)
async def get_job(
    job_id: str, request: Request, caller: CallerDep, services: ServicesDep
) -> JSONResponse:
    return JSONResponse(await job_view(services, request, caller, job_id))
