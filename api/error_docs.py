"""OpenAPI examples for every ``error_code``: what ``/docs`` shows under each route's responses.

``EXAMPLES`` holds one realistic message per code (a test checks it covers the whole
``ErrorCode`` vocabulary); ``error_responses`` groups them by HTTP status into FastAPI's
``responses=`` form, so a route lists each error it can answer with, with an example body.
"""

from __future__ import annotations

from collections.abc import Iterable

from api.schemas import ErrorBody, error_example
from storage.error_codes import ErrorCode, http_status

_E = ErrorCode
EXAMPLES: dict[ErrorCode, str] = {
    _E.INVALID_REQUEST_BODY: "The request body was empty or invalid.",
    _E.MISSING_PARAMETER: "Missing required parameter: image_url or image.",
    _E.INVALID_PARAMETER: "Invalid parameter shadow.opacity: Input should be less than or equal"
    " to 1.",
    _E.UNSUPPORTED_CONTENT_TYPE: "The content type must be application/json or"
    " multipart/form-data.",
    _E.MALFORMED_IMAGE: "The image could not be decoded.",
    _E.UNSUPPORTED_IMAGE_FORMAT: "GIF images are not supported; send JPEG, PNG or WebP.",
    _E.FILE_SIZE_TOO_LARGE: "File size too large; the limit is 25 MB.",
    _E.RESOLUTION_TOO_HIGH: "The image resolution is too high; the limit is 6000 px a side.",
    _E.UNKNOWN_FOREGROUND: "The foreground subject of the image could not be detected.",
    _E.INVALID_AUTH_TOKEN: "API Token not found",
    _E.INSUFFICIENT_API_CREDITS: "Insufficient credits available",
    _E.RATE_LIMIT_EXCEEDED: "Too many requests",
    _E.NOT_FOUND: "Not found.",
    _E.TIMEOUT: "The job did not finish in time; it was refunded.",
    _E.SERVICE_UNAVAILABLE: "The job queue is unavailable; nothing was charged. Retry later.",
    _E.SERVICE_OVERLOADED: "The service is overloaded; nothing was charged. Retry later.",
    _E.INTERNAL_ERROR: "Internal service error.",
    _E.IDEMPOTENCY_KEY_IN_USE: "A request with this Idempotency-Key is still in progress; retry"
    " after it finishes.",
    _E.IDEMPOTENCY_KEY_MISMATCH: "This Idempotency-Key was already used with a different request"
    " body.",
}

# What any authenticated route can answer with; a GET of one's own job or batch adds 404.
ACCOUNT_ERRORS = (_E.INVALID_AUTH_TOKEN, _E.INTERNAL_ERROR)
READ_ERRORS = (*ACCOUNT_ERRORS, _E.NOT_FOUND)

_DESCRIPTIONS: dict[int, str] = {
    400: "The input could not be processed.",
    401: "The authentication token is missing or invalid.",
    403: "Insufficient credits.",
    404: "Not found (another tenant's job or batch is not found either).",
    409: "Conflict.",
    422: "Unprocessable request.",
    429: "Rate limit exceeded; see Retry-After.",
    500: "Internal service error.",
    503: "Unavailable; nothing was charged. See Retry-After.",
    504: "The job took too long; it was refunded.",
}


def error_responses(codes: Iterable[ErrorCode] = ErrorCode) -> dict[int | str, dict[str, object]]:
    """``responses=`` for a route: per status, the error schema and one example per code."""
    by_status: dict[int, dict[str, object]] = {}
    for code in codes:
        status = http_status(code)
        examples = by_status.setdefault(status, {})
        examples[code.value] = error_example(code, EXAMPLES.get(code, code.value))
    return {
        status: {
            "model": ErrorBody,
            "description": _DESCRIPTIONS.get(status, "Error."),
            "content": {"application/json": {"examples": examples}},
        }
        for status, examples in sorted(by_status.items())
    }
