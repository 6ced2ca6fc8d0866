"""Request dependencies, as ``Annotated`` aliases that keep route signatures readable."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader

from api.errors import ApiError
from api.rate_limit import Decision
from api.rate_limit_headers import rate_limit_headers
from api.request_context import add_response_headers
from api.services import Services
from storage import api_keys
from storage.api_keys import Caller
from storage.error_codes import ErrorCode

# Header names are case-insensitive, so Pixelcut's ``X-API-KEY`` arrives here too.
_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False)


async def get_services(request: Request) -> Services:
    # async: FastAPI runs a plain ``def`` dependency in a worker thread, on every request.
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


async def authenticate(
    services: ServicesDep, key: Annotated[str | None, Depends(_api_key_header)]
) -> Caller:
    """The caller behind the key: from this process's key cache, else from Postgres."""
    if not key or not api_keys.is_well_formed(key):  # refused without a database round trip
        raise ApiError(ErrorCode.INVALID_AUTH_TOKEN, "API Token not found")
    key_hash = api_keys.hash_key(key, services.settings.api_key_secret.get_secret_value())
    caller = services.keys.get(key_hash)
    if caller is None:
        generation = services.keys.generation
        async with services.sessions() as session:
            caller = await session.run_sync(api_keys.find_caller_by_hash, key_hash)
        if caller is None:
            raise ApiError(ErrorCode.INVALID_AUTH_TOKEN, "API Token not found")
        services.keys.put(key_hash, caller, generation)
    services.housekeeping.usage.touch(caller.api_key_id)  # written later, in one batch
    return caller


CallerDep = Annotated[Caller, Depends(authenticate)]


async def rate_limited(request: Request, caller: CallerDep, services: ServicesDep) -> Caller:
    decision = await services.limiter.hit(
        caller.tenant_id, caller.rate_limit_per_minute, caller.rate_limit_burst
    )
    if not decision.degraded:
        add_response_headers(request, rate_limit_headers(decision))
    if not decision.allowed:
        raise rate_limit_refusal(decision)
    return caller


def rate_limit_refusal(decision: Decision) -> ApiError:
    """The 429 of a refused request (also answered by :mod:`api.refusal_fast_path`)."""
    return ApiError(
        ErrorCode.RATE_LIMIT_EXCEEDED,
        "Too many requests",
        headers={"Retry-After": str(decision.retry_after_seconds)},
    )


RateLimitedCaller = Annotated[Caller, Depends(rate_limited)]
