"""Request dependencies, as ``Annotated`` aliases that keep route signatures readable."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader

from api.errors import ApiError
from api.rate_limit_headers import rate_limit_headers
from api.request_context import add_response_headers
from api.services import Services
from storage import api_keys
from storage.api_keys import Caller
from storage.error_codes import ErrorCode

# Header names are case-insensitive, so Pixelcut's ``X-API-KEY`` arrives here too.
_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False)


def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


async def authenticate(
    services: ServicesDep, key: Annotated[str | None, Depends(_api_key_header)]
) -> Caller:
    if not key:
        raise ApiError(ErrorCode.INVALID_AUTH_TOKEN, "API Token not found")
    secret = services.settings.api_key_secret.get_secret_value()
    if not api_keys.is_well_formed(key):  # refused without a database round trip
        raise ApiError(ErrorCode.INVALID_AUTH_TOKEN, "API Token not found")
    async with services.sessions() as session:
        caller = await session.run_sync(api_keys.find_caller, key, secret)
    if caller is None:
        raise ApiError(ErrorCode.INVALID_AUTH_TOKEN, "API Token not found")
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
        raise ApiError(
            ErrorCode.RATE_LIMIT_EXCEEDED,
            "Too many requests",
            headers={"Retry-After": str(decision.retry_after_seconds)},
        )
    return caller


RateLimitedCaller = Annotated[Caller, Depends(rate_limited)]
