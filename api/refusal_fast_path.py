"""429s for tenants already known to be over their limit, answered before routing.

A tenant past its rate limit tends to keep knocking, and each knock used to cost routing,
dependency solving, exception handling and a Redis round trip. When the key is in this
process's key cache (``api/key_cache.py``) and the rate limiter already knows the tenant is
refused until a later instant (``RateLimiter.known_refusal``), the answer is certain, so this
middleware gives it at once: the same status, body and headers (``Retry-After``, the
``RateLimit`` headers, ``X-Request-ID``) as the dependency :func:`api.deps.rate_limited` would.
Anything else (another route, an unknown or uncached key, a tenant not refused) goes through
the application as usual.

It sits inside the request-context and metrics middlewares, so the request id is bound and the
request is counted under its route.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from api import deps
from api.errors import error_response
from api.rate_limit_headers import rate_limit_headers
from storage import api_keys

_API_KEY = b"x-api-key"


def rate_limited_routes(app: FastAPI) -> dict[tuple[str, str], APIRoute]:
    """``(method, path) → route`` for the routes that depend on :func:`api.deps.rate_limited`.

    Only paths without parameters: they are matched by string equality here. Routers included
    with ``include_router`` are walked too (FastAPI keeps them as ``original_router``); should
    that change, the map is merely empty and every request takes the usual path.
    """

    def uses_rate_limit(dependant) -> bool:
        return any(
            dependency.call is deps.rate_limited or uses_rate_limit(dependency)
            for dependency in dependant.dependencies
        )

    def walk(routes) -> Iterator[APIRoute]:
        for route in routes:
            if isinstance(route, APIRoute):
                yield route
            elif (included := getattr(route, "original_router", None)) is not None:
                yield from walk(included.routes)

    return {
        (method, route.path): route
        for route in walk(app.routes)
        if "{" not in route.path and uses_rate_limit(route.dependant)
        for method in route.methods
    }


class RefusalFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._routes: dict[tuple[str, str], APIRoute] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and await self._refused(scope, receive, send):
            return
        await self.app(scope, receive, send)

    async def _refused(self, scope: Scope, receive: Receive, send: Send) -> bool:
        app = scope["app"]
        if self._routes is None:
            self._routes = rate_limited_routes(app)
        route = self._routes.get((scope["method"], scope["path"]))
        if route is None:
            return False
        key = next((value for name, value in scope["headers"] if name.lower() == _API_KEY), None)
        if key is None:
            return False
        services = app.state.services
        key_text = key.decode("latin-1")
        if not api_keys.is_well_formed(key_text):
            return False
        secret = services.settings.api_key_secret.get_secret_value()
        caller = services.keys.get(api_keys.hash_key(key_text, secret))
        if caller is None:
            return False
        decision = services.limiter.known_refusal(
            caller.tenant_id, caller.rate_limit_per_minute, caller.rate_limit_burst
        )
        if decision is None:
            return False
        services.housekeeping.usage.touch(caller.api_key_id)
        scope["route"] = route  # counted under its route template by the metrics middleware
        refusal = deps.rate_limit_refusal(decision)
        response = error_response(
            Request(scope),
            refusal.code,
            refusal.message,
            refusal.status,
            {**refusal.headers, **rate_limit_headers(decision)},
        )
        await response(scope, receive, send)
        return True
