"""Typed exceptions, one class per ``error_code`` the API can answer with.

Catch a specific class (``except InsufficientCredits``) or a family (``except InputError`` for
every 400, ``except CutoutError`` for all of them). A code this SDK version does not know yet still
raises the family class of its HTTP status, so an older client keeps working against a newer
server. ``tests/e2e/client/test_errors.py`` keeps the table in step with the server's vocabulary.
"""

from __future__ import annotations

import contextlib
import email.utils
import time
from typing import Any

import httpx

__all__ = [
    "ERROR_CLASSES",
    "AuthenticationError",
    "ConflictError",
    "CutoutError",
    "FileSizeTooLarge",
    "IdempotencyKeyInUse",
    "IdempotencyKeyMismatch",
    "InputError",
    "InsufficientCredits",
    "InternalError",
    "InvalidAuthToken",
    "InvalidParameter",
    "InvalidRequestBody",
    "JobFailed",
    "MalformedImage",
    "MissingParameter",
    "NotFound",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RateLimitExceeded",
    "ResolutionTooHigh",
    "ServerError",
    "ServiceOverloaded",
    "ServiceUnavailable",
    "Timeout",
    "UnknownForeground",
    "UnsupportedContentType",
    "UnsupportedImageFormat",
    "error_class",
    "from_response",
    "parse_retry_after",
]


class CutoutError(Exception):
    """Any error answer from the API, with its status, code, message and request id."""

    error_code: str = "unknown"

    def __init__(
        self,
        message: str,
        *,
        status: int,
        error_code: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        if error_code is not None:
            self.error_code = error_code
        self.request_id = request_id
        self.retry_after = retry_after

    def __str__(self) -> str:
        suffix = f" (request {self.request_id})" if self.request_id else ""
        return f"{self.error_code}: {self.message}{suffix}"


# Families, by HTTP status.
class InputError(CutoutError):
    """400: the request or its image could not be processed; retrying the same input won't help."""


class AuthenticationError(CutoutError):
    """401: the API key is missing, malformed, unknown or revoked."""


class PermissionDeniedError(CutoutError):
    """403: the caller may not do this (for example, not enough credits)."""


class NotFoundError(CutoutError):
    """404: no such path, job or batch (jobs of other tenants look missing too)."""


class ConflictError(CutoutError):
    """409/422: an Idempotency-Key clash."""


class RateLimitError(CutoutError):
    """429: too many requests; ``retry_after`` says when to try again."""


class ServerError(CutoutError):
    """5xx: the service failed; nothing was charged (or it was refunded)."""


# One class per code.
class InvalidRequestBody(InputError):
    error_code = "invalid_request_body"


class MissingParameter(InputError):
    error_code = "missing_parameter"


class InvalidParameter(InputError):
    error_code = "invalid_parameter"


class UnsupportedContentType(InputError):
    error_code = "unsupported_content_type"


class MalformedImage(InputError):
    error_code = "malformed_image"


class UnsupportedImageFormat(InputError):
    error_code = "unsupported_image_format"


class FileSizeTooLarge(InputError):
    error_code = "file_size_too_large"


class ResolutionTooHigh(InputError):
    error_code = "resolution_too_high"


class UnknownForeground(InputError):
    error_code = "unknown_foreground"


class InvalidAuthToken(AuthenticationError):
    error_code = "invalid_auth_token"


class InsufficientCredits(PermissionDeniedError):
    error_code = "insufficient_api_credits"


class NotFound(NotFoundError):
    error_code = "not_found"


class RateLimitExceeded(RateLimitError):
    error_code = "rate_limit_exceeded"


class InternalError(ServerError):
    error_code = "internal_error"


class ServiceUnavailable(ServerError):
    error_code = "service_unavailable"


class Timeout(ServerError):
    error_code = "timeout"


class ServiceOverloaded(ServerError):
    """503: the queue is deeper than the operator's bound; retry after ``retry_after``."""

    error_code = "service_overloaded"


class IdempotencyKeyInUse(ConflictError):
    """409: the first request with this Idempotency-Key is still running; retry shortly."""

    error_code = "idempotency_key_in_use"


class IdempotencyKeyMismatch(ConflictError):
    """422: the Idempotency-Key was already used with a different body; use a new key."""

    error_code = "idempotency_key_mismatch"


ERROR_CLASSES: dict[str, type[CutoutError]] = {
    cls.error_code: cls
    for cls in (
        InvalidRequestBody,
        MissingParameter,
        InvalidParameter,
        UnsupportedContentType,
        MalformedImage,
        UnsupportedImageFormat,
        FileSizeTooLarge,
        ResolutionTooHigh,
        UnknownForeground,
        InvalidAuthToken,
        InsufficientCredits,
        NotFound,
        RateLimitExceeded,
        InternalError,
        ServiceUnavailable,
        ServiceOverloaded,
        Timeout,
        IdempotencyKeyInUse,
        IdempotencyKeyMismatch,
    )
}

_FAMILIES: dict[int, type[CutoutError]] = {
    400: InputError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: ConflictError,
    429: RateLimitError,
}


class JobFailed(CutoutError):
    """An asynchronous job ended ``failed``; ``error_code`` is the job's (it was refunded)."""


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds: either delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def error_class(status: int, code: str | None) -> type[CutoutError]:
    if code in ERROR_CLASSES:
        return ERROR_CLASSES[code]
    return _FAMILIES.get(status, ServerError if status >= 500 else CutoutError)


def from_response(response: httpx.Response) -> CutoutError:
    """The exception for an error response, whatever its body looks like."""
    body: Any = None
    with contextlib.suppress(ValueError):
        body = response.json()
    code = body.get("error_code") if isinstance(body, dict) else None
    message = body.get("error") if isinstance(body, dict) else None
    cls = error_class(response.status_code, code if isinstance(code, str) else None)
    return cls(
        str(message or response.reason_phrase or "error"),
        status=response.status_code,
        error_code=code if isinstance(code, str) else None,
        request_id=response.headers.get("x-request-id"),
        retry_after=parse_retry_after(response.headers.get("retry-after")),
    )
