"""One error type for every refusal, and the handlers that render it.

Every error response has the seed's shape, ``{"error": "<a sentence>", "error_code": "<code>"}``,
and carries the request id in ``X-Request-ID`` so a user's report can be matched to our logs.
"""

from __future__ import annotations

import logging

from botocore.exceptions import BotoCoreError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.request_context import REQUEST_ID_HEADER, BodyTooLarge
from storage.error_codes import ErrorCode, http_status

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(
        self, code: ErrorCode, message: str, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = http_status(code)
        self.headers = headers or {}


def error_response(
    request: Request,
    code: ErrorCode,
    message: str,
    status: int | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    # The id is read from the request, not the context variable: the catch-all handler runs
    # in Starlette's outermost middleware, outside our request context.
    request_id = getattr(request.state, "request_id", "-")
    return JSONResponse(
        {"error": message, "error_code": code.value},
        status_code=status or http_status(code),
        headers={**(headers or {}), REQUEST_ID_HEADER: request_id},
    )


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(request, exc.code, exc.message, exc.status, exc.headers)


async def _body_too_large(request: Request, _: Exception) -> JSONResponse:
    return error_response(
        request, ErrorCode.FILE_SIZE_TOO_LARGE, "File size too large; the limit is 25 MB."
    )


async def _validation_error(request: Request, _: Exception) -> JSONResponse:
    return error_response(
        request, ErrorCode.INVALID_REQUEST_BODY, "The request body was empty or invalid."
    )


_HTTP_CODES = {
    400: (ErrorCode.INVALID_REQUEST_BODY, "The request body was empty or invalid."),
    404: (ErrorCode.NOT_FOUND, "Not found."),
    405: (ErrorCode.INVALID_REQUEST_BODY, "Method not allowed."),
}


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code, message = _HTTP_CODES.get(exc.status_code, (ErrorCode.INTERNAL_ERROR, "Error."))
    return error_response(request, code, message, exc.status_code, dict(exc.headers or {}))


# Redis or S3 that cannot be reached right now: the caller should retry, not report a bug.
# (Postgres has its own handler below.)
UNAVAILABLE = (RedisError, BotoCoreError)
UNAVAILABLE_RETRY_AFTER_SECONDS = 5


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning(
        "%s %s: a backing service is unreachable: %r", request.method, request.url.path, exc
    )
    return error_response(
        request,
        ErrorCode.SERVICE_UNAVAILABLE,
        "A backing service is unavailable; retry shortly.",
        headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER_SECONDS)},
    )


# Postgres unreachable (refused, timed out, dropped): the request cannot be authenticated or
# charged, and billing never fails open, so the answer is a retryable 503, not a 500.
DATABASE_UNAVAILABLE = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,
    ConnectionError,
    TimeoutError,
)


# SQLSTATE classes that mean "Postgres cannot serve you now", not "this request is wrong":
# connection exceptions (08), insufficient resources such as "too many clients already" (53)
# and operator intervention such as a shutdown in progress (57P). asyncpg reports these as plain
# server errors, which SQLAlchemy wraps in a bare DBAPIError.
_UNAVAILABLE_SQLSTATES = ("08", "53", "57P")


def _sqlstate(exc: sa_exc.DBAPIError) -> str:
    original = exc.orig
    while original is not None:
        code = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
        if code:
            return str(code)
        original = original.__cause__
    return ""


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    """A driver error: a retryable 503 when Postgres is out of capacity, else a 500."""
    assert isinstance(exc, sa_exc.DBAPIError)
    if _sqlstate(exc).startswith(_UNAVAILABLE_SQLSTATES):
        return await _database_unavailable(request, exc)
    return await _unexpected(request, exc)


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable on %s %s: %r", request.method, request.url.path, exc)
    return error_response(
        request,
        ErrorCode.SERVICE_UNAVAILABLE,
        "The service is temporarily unavailable. Retry shortly.",
        headers={"Retry-After": "5"},
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error(
        "unhandled error on %s %s (request %s)",
        request.method,
        request.url.path,
        getattr(request.state, "request_id", "-"),
        exc_info=exc,
    )
    return error_response(request, ErrorCode.INTERNAL_ERROR, "Internal service error.")


def install(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(BodyTooLarge, _body_too_large)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for unavailable in UNAVAILABLE:
        app.add_exception_handler(unavailable, _unavailable)
    for error_type in DATABASE_UNAVAILABLE:
        app.add_exception_handler(error_type, _database_unavailable)
    app.add_exception_handler(sa_exc.DBAPIError, _database_error)
    app.add_exception_handler(Exception, _unexpected)
