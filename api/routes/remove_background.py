"""``POST /v1/remove-background``: the seed contract, synchronous from the caller's side."""

from __future__ import annotations

import uuid

import anyio
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from api import idempotency
from api.accept import PNG, wants_png
from api.deps import RateLimitedCaller, ServicesDep
from api.errors import ApiError
from api.image_input import prepared_image
from api.job_flow import accept_job, check_affordable, read_job, wait_for_outcome
from api.remove_request import RemovalRequest, parse_removal_request
from api.request_context import add_response_headers, current_request_id
from api.schemas import ErrorBody, ResultUrl, error_example
from storage.api_keys import Caller
from storage.error_codes import ErrorCode
from storage.jobs import UNFINISHED
from storage.models import Job, JobStatus

router = APIRouter(tags=["remove background"])

CREDITS_HEADER = "X-Credits-Charged"

_E = ErrorCode
_ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    400: {
        "model": ErrorBody,
        "description": "The input could not be processed.",
        "content": {
            "application/json": {
                "examples": {
                    code.value: error_example(code, message)
                    for code, message in [
                        (_E.INVALID_REQUEST_BODY, "The request body was empty or invalid."),
                        (_E.MISSING_PARAMETER, "Missing required parameter: image_url or image."),
                        (_E.INVALID_PARAMETER, "Invalid parameter shadow.opacity: ..."),
                        (_E.UNSUPPORTED_CONTENT_TYPE, "The content type must be ..."),
                        (_E.MALFORMED_IMAGE, "The image could not be decoded."),
                        (_E.UNSUPPORTED_IMAGE_FORMAT, "GIF images are not supported; ..."),
                        (_E.FILE_SIZE_TOO_LARGE, "File size too large; the limit is 25 MB."),
                        (_E.RESOLUTION_TOO_HIGH, "The image resolution is too high; ..."),
                        (_E.UNKNOWN_FOREGROUND, "The foreground subject ... not be detected."),
                    ]
                }
            }
        },
    },
    401: {"model": ErrorBody, "description": "The authentication token is missing or invalid."},
    403: {"model": ErrorBody, "description": "Insufficient credits."},
    409: {"model": ErrorBody, "description": "idempotency_key_in_use: the first is running."},
    422: {"model": ErrorBody, "description": "idempotency_key_mismatch: another body."},
    429: {"model": ErrorBody, "description": "Rate limit or concurrent-jobs cap; see Retry-After."},
    500: {"model": ErrorBody, "description": "Internal service error."},
    503: {"model": ErrorBody, "description": "The queue is unavailable; nothing was charged."},
    504: {"model": ErrorBody, "description": "The job took too long; it was refunded."},
}

_REQUEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/JsonBody"}},
            "multipart/form-data": {"schema": {"$ref": "#/components/schemas/MultipartBody"}},
        },
    }
}


@router.post(
    "/v1/remove-background",
    summary="Remove background",
    description=(
        "Removes the background from an image and optionally adds an AI-generated shadow"
        " (+3 credits). Send `Accept: image/*` for the PNG bytes; the default is JSON with a"
        " `result_url` valid for one hour. Input limits: 25 MB, 64×64 to 6000×6000 px."
    ),
    response_model=ResultUrl,
    responses={
        200: {"content": {PNG: {"schema": {"type": "string", "format": "binary"}}}},
        **_ERROR_RESPONSES,
    },
    openapi_extra=_REQUEST_BODY,
)
async def remove_background(
    request: Request, caller: RateLimitedCaller, services: ServicesDep
) -> Response:
    removal = await parse_removal_request(request, services.settings.max_image_bytes)
    key = idempotency.key_of(request)
    if key is None:
        job = await _run(request, services, caller, removal)
        return await _respond(request, services, job)
    async with idempotency.claimed(services, caller, key, removal) as earlier_job:
        if earlier_job is not None:
            job = await read_job(services, earlier_job)
            if job.status in UNFINISHED:
                raise idempotency.in_use()
            add_response_headers(request, {idempotency.REPLAYED_HEADER: "true"})
            return await _respond(request, services, job)
        job = await _run(request, services, caller, removal, key)
        return await _respond(request, services, job)


async def _run(
    request: Request,
    services: ServicesDep,
    caller: Caller,
    removal: RemovalRequest,
    idempotency_key: str | None = None,
) -> Job:
    """Fetch, check, charge, queue and wait: the finished job."""
    check_affordable(caller, removal.options)
    image = await prepared_image(services, removal)
    slot = uuid.uuid4().hex
    if not await services.slots.acquire(caller.tenant_id, caller.max_concurrent_jobs, slot):
        raise ApiError(
            ErrorCode.RATE_LIMIT_EXCEEDED,
            f"Too many concurrent jobs; your plan runs {caller.max_concurrent_jobs} at once.",
            headers={"Retry-After": "1"},
        )
    try:
        job = await accept_job(
            services,
            caller,
            image,
            removal.options,
            current_request_id(),
            idempotency_key=idempotency_key,
        )
        return await wait_for_outcome(services, job.id)
    finally:
        await services.slots.release(caller.tenant_id, slot)


async def _respond(request: Request, services: ServicesDep, job: Job) -> Response:
    """The answer a finished job gives, the first time and on every idempotent replay."""
    if job.status == JobStatus.FAILED:
        raise ApiError(ErrorCode(job.error_code), job.error_message or "The job failed.")
    assert job.result_key is not None
    headers = {CREDITS_HEADER: str(job.cost)}
    if wants_png(request.headers.get("accept")):
        png = await anyio.to_thread.run_sync(services.store.get, job.result_key)
        return Response(png, media_type=PNG, headers=headers)
    return JSONResponse(
        {"result_url": services.store.presigned_get(job.result_key)}, headers=headers
    )
