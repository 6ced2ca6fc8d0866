"""Batches: ``POST /v1/batches`` submits up to 100 jobs, charged all or nothing;
``GET /v1/batches/{id}`` tells how far they got."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.batch_request import parse_batch
from api.deps import CallerDep, RateLimitedCaller, ServicesDep
from api.error_docs import READ_ERRORS, error_responses
from api.job_flow import accept_batch
from api.job_views import absolute, batch_view
from api.request_context import current_request_id
from api.routes.remove_background import CREDITS_HEADER
from api.schemas import BatchAccepted, BatchBody
from storage.error_codes import ErrorCode
from storage.pricing import job_cost

router = APIRouter(tags=["batches"])


@router.post(
    "/v1/batches",
    summary="Submit a batch",
    description=(
        "Up to 100 items, each a `/v1/remove-background` body (plus `webhook_url`), as JSON"
        ' (`{"items": [...]}`) or multipart (an `items` JSON field whose items name file parts'
        " with `image`). One job per item, charged per item in one transaction: when the balance"
        " cannot pay for every item, nothing is charged (403). An invalid item refuses the batch"
        " (400, the message names `items[i]`). Each item holds one of the plan's concurrent-job"
        " slots until its job ends: a batch is admitted only when all its items fit in the free"
        " slots (else 429, nothing charged), so it holds at most `max_concurrent_jobs` items."
    ),
    status_code=202,
    response_model=BatchAccepted,
    responses=error_responses(code for code in ErrorCode if code != ErrorCode.TIMEOUT),
)
async def submit_batch(
    request: Request, caller: RateLimitedCaller, services: ServicesDep
) -> JSONResponse:
    items = await parse_batch(request, services, caller.max_concurrent_jobs)
    batch_id, job_ids = await accept_batch(services, caller, items, current_request_id())
    charged = sum(job_cost(shadow=item.options.shadow is not None) for item in items)
    return JSONResponse(
        {
            "batch_id": str(batch_id),
            "status_url": absolute(request, f"/v1/batches/{batch_id}"),
            "job_ids": [str(job_id) for job_id in job_ids],
        },
        status_code=202,
        headers={CREDITS_HEADER: str(charged)},
    )


@router.get(
    "/v1/batches/{batch_id}",
    summary="A batch's progress",
    description="Counts per status, credits, and every job in submission order.",
    response_model=BatchBody,
    responses=error_responses(READ_ERRORS),
)
async def get_batch(
    batch_id: str, request: Request, caller: CallerDep, services: ServicesDep
) -> JSONResponse:
    return JSONResponse(await batch_view(services, request, caller, batch_id))
