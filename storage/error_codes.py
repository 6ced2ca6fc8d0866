"""The ``error_code`` vocabulary shared by the API and the workers.

The first block is the seed contract's, verbatim; the rest are additive extensions, each
documented in docs/errors.md. A job that fails in a worker records one of these codes, and the API
renders it with the status given here.
"""

from __future__ import annotations

import enum


class ErrorCode(enum.StrEnum):
    # --- from the seed contract
    INVALID_REQUEST_BODY = "invalid_request_body"
    MISSING_PARAMETER = "missing_parameter"
    INVALID_PARAMETER = "invalid_parameter"
    UNSUPPORTED_CONTENT_TYPE = "unsupported_content_type"
    MALFORMED_IMAGE = "malformed_image"
    UNSUPPORTED_IMAGE_FORMAT = "unsupported_image_format"
    FILE_SIZE_TOO_LARGE = "file_size_too_large"
    RESOLUTION_TOO_HIGH = "resolution_too_high"
    UNKNOWN_FOREGROUND = "unknown_foreground"
    INVALID_AUTH_TOKEN = "invalid_auth_token"  # noqa: S105 (an error code, not a secret)
    INSUFFICIENT_API_CREDITS = "insufficient_api_credits"
    RATE_LIMIT_EXCEEDED = "rate_limit_exceeded"
    # --- additive
    NOT_FOUND = "not_found"
    TIMEOUT = "timeout"
    SERVICE_UNAVAILABLE = "service_unavailable"
    SERVICE_OVERLOADED = "service_overloaded"
    INTERNAL_ERROR = "internal_error"
    IDEMPOTENCY_KEY_IN_USE = "idempotency_key_in_use"
    IDEMPOTENCY_KEY_MISMATCH = "idempotency_key_mismatch"


STATUS_BY_CODE: dict[ErrorCode, int] = {
    ErrorCode.INVALID_AUTH_TOKEN: 401,
    ErrorCode.INSUFFICIENT_API_CREDITS: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.IDEMPOTENCY_KEY_IN_USE: 409,
    ErrorCode.IDEMPOTENCY_KEY_MISMATCH: 422,
    ErrorCode.RATE_LIMIT_EXCEEDED: 429,
    ErrorCode.INTERNAL_ERROR: 500,
    ErrorCode.SERVICE_UNAVAILABLE: 503,
    ErrorCode.SERVICE_OVERLOADED: 503,
    ErrorCode.TIMEOUT: 504,
}


def http_status(code: ErrorCode) -> int:
    """Input problems are the client's (400); the table lists every other status."""
    return STATUS_BY_CODE.get(code, 400)
