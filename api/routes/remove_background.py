"""``POST /v1/remove-background``: the seed contract, synchronous from the caller's side."""

from __future__ import annotations

import json
from typing import Any

import anyio
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from api import idempotency
from api.accept import PNG, wants_png
from api.deps import RateLimitedCaller, ServicesDep
from api.error_docs import error_responses
from api.errors import ApiError
from api.image_input import prepared_image
from api.job_flow import accept_job, check_affordable, wait_for_outcome
from api.remove_request import RemovalRequest, parse_removal_request
from api.request_context import current_request_id
from api.schemas import ResultUrl
from api.services import Services
from storage import ledger
from storage.api_keys import Caller
from storage.error_codes import ErrorCode
from storage.jobs import UNFINISHED
from storage.models import Job, JobStatus
from workers.contract import ShadowLight

router = APIRouter(tags=["remove background"])

CREDITS_HEADER = "X-Credits-Charged"
# Additive: the balance after this request, so clients (the playground, the CLI) can show it.
REMAINING_HEADER = "X-Credits-Remaining"
SHADOW_LIGHT_HEADER = "X-Shadow-Light"
SHADOW_LIGHT_SOURCE_HEADER = "X-Shadow-Light-Source"


def shadow_headers(recorded: dict[str, Any] | None) -> dict[str, str]:
    """The light a shadow was rendered with, as a ShadowParameter a caller can send back."""
    if not recorded:
        return {}
    light = ShadowLight.from_json(recorded)
    return {
        SHADOW_LIGHT_HEADER: json.dumps(light.as_parameter(), separators=(",", ":")),
        SHADOW_LIGHT_SOURCE_HEADER: light.source.value,
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
        " With a shadow, `X-Shadow-Light` holds the light used (a ShadowParameter object) and"
        " `X-Shadow-Light-Source` says whether it was `manual`, `estimated` or `default`."
    ),
    response_model=ResultUrl,
    responses={
        200: {
            "content": {PNG: {"schema": {"type": "string", "format": "binary"}}},
            "headers": {
                SHADOW_LIGHT_HEADER: {
                    "description": "With a shadow: the light used, as a ShadowParameter JSON"
                    " object; sent back as `shadow` it renders the same shadow.",
                    "schema": {"type": "string"},
                },
                REMAINING_HEADER: {
                    "description": "The caller's balance after this request (additive).",
                    "schema": {"type": "integer"},
                },
                SHADOW_LIGHT_SOURCE_HEADER: {
                    "description": "With a shadow: where the light came from.",
                    "schema": {"type": "string", "enum": ["manual", "estimated", "default"]},
                },
            },
        },
        **error_responses(),
    },
    openapi_extra=_REQUEST_BODY,
)
async def remove_background(
    request: Request, caller: RateLimitedCaller, services: ServicesDep
) -> Response:
    removal = await parse_removal_request(request, services.settings.max_image_bytes)

    async def submit(key: str | None) -> Response:
        return await _respond(request, services, await _run(services, caller, removal, key))

    async def replay(job: Job) -> Response:
        if job.status in UNFINISHED:
            raise idempotency.in_use()
        idempotency.mark_replayed(request)
        return await _respond(request, services, job)

    return await idempotency.at_most_once(request, services, caller, removal, submit, replay)


async def _run(
    services: Services,
    caller: Caller,
    removal: RemovalRequest,
    idempotency_key: str | None = None,
) -> Job:
    """Fetch, check, charge, queue and wait: the finished job.

    The job holds a concurrent-jobs slot from before its charge until it ends (accept_job);
    whoever ended it gave the slot back, and the request gives it back again once it has the
    outcome, which costs one ``ZREM`` and covers a release the worker could not make.
    """
    await check_affordable(services, caller, removal.options)
    image = await prepared_image(services, removal)
    job = await accept_job(
        services,
        caller,
        image,
        removal.options,
        current_request_id(),
        idempotency_key=idempotency_key,
    )
    finished = await wait_for_outcome(services, job.id)
    await services.slots.release(caller.tenant_id, [job.id])
    return finished


async def _respond(request: Request, services: Services, job: Job) -> Response:
    """The answer a finished job gives, the first time and on every idempotent replay."""
    if job.status == JobStatus.FAILED:
        raise ApiError(ErrorCode(job.error_code), job.error_message or "The job failed.")

    assert job.result_key is not None
    async with services.sessions() as session:
        remaining = await session.run_sync(ledger.balance, job.tenant_id)
    headers = {
        CREDITS_HEADER: str(job.cost),
        REMAINING_HEADER: str(remaining),
        **shadow_headers(job.shadow_light),
    }
    if wants_png(request.headers.get("accept")):
        png = await anyio.to_thread.run_sync(services.store.get, job.result_key)
        return Response(png, media_type=PNG, headers=headers)
    return JSONResponse(
        {"result_url": services.store.presigned_get(job.result_key)}, headers=headers
    )
