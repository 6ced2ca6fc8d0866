"""``POST /v1/remove-background``: the seed contract, synchronous from the caller's side."""

from __future__ import annotations

import json
from typing import Any

import anyio
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from api.accept import PNG, wants_png
from api.deps import RateLimitedCaller, ServicesDep
from api.errors import ApiError
from api.image_input import prepared_image
from api.job_flow import accept_job, wait_for_outcome
from api.remove_request import parse_removal_request
from api.request_context import current_request_id
from api.schemas import ErrorBody, ResultUrl, error_example
from storage.error_codes import ErrorCode
from storage.models import JobStatus
from workers.contract import ShadowLight

router = APIRouter(tags=["remove background"])

CREDITS_HEADER = "X-Credits-Charged"
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
    429: {"model": ErrorBody, "description": "Rate limit exceeded; see Retry-After."},
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
                SHADOW_LIGHT_SOURCE_HEADER: {
                    "description": "With a shadow: where the light came from.",
                    "schema": {"type": "string", "enum": ["manual", "estimated", "default"]},
                },
            },
        },
        **_ERROR_RESPONSES,
    },
    openapi_extra=_REQUEST_BODY,
)
async def remove_background(
    request: Request, caller: RateLimitedCaller, services: ServicesDep
) -> Response:
    removal = await parse_removal_request(request, services.settings.max_image_bytes)
    image = await prepared_image(services, removal)
    job = await accept_job(services, caller, image, removal.options, current_request_id())
    job = await wait_for_outcome(services, job.id)
    if job.status == JobStatus.FAILED:
        raise ApiError(ErrorCode(job.error_code), job.error_message or "The job failed.")

    assert job.result_key is not None
    headers = {CREDITS_HEADER: str(job.cost), **shadow_headers(job.shadow_light)}
    if wants_png(request.headers.get("accept")):
        png = await anyio.to_thread.run_sync(services.store.get, job.result_key)
        return Response(png, media_type=PNG, headers=headers)
    return JSONResponse(
        {"result_url": services.store.presigned_get(job.result_key)}, headers=headers
    )
