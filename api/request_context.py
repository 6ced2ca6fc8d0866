"""Per-request context: the request id, and the cap on how many body bytes we will read.

Pure ASGI middleware rather than ``BaseHTTPMiddleware``: it wraps ``receive`` so an oversized
upload is refused while it streams in (never buffered whole), and it adds no per-request task.
"""

from __future__ import annotations

import re
import uuid

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from storage import logs

REQUEST_ID_HEADER = "X-Request-ID"
_HEADER_KEY = REQUEST_ID_HEADER.lower().encode()
_ACCEPTABLE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def current_request_id() -> str:
    return logs.request_id.get() or "-"


def add_response_headers(request: Request, headers: dict[str, str]) -> None:
    """Headers for whatever response this request ends with, success or error alike."""
    request.state.extra_headers = {**getattr(request.state, "extra_headers", {}), **headers}


class BodyTooLarge(Exception):
    """Raised from ``receive`` once the body exceeds the limit; rendered as a 400."""


class RequestContextMiddleware:
    def __init__(
        self, app: ASGIApp, max_body_bytes: int, path_limits: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.path_limits = path_limits or {}  # e.g. a batch of uploads may be larger

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        offered = headers.get(REQUEST_ID_HEADER, "")
        request_id = offered if _ACCEPTABLE_ID.match(offered) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        logs.request_id.set(request_id)  # task-local: uvicorn runs each request in its own task

        limit = self.path_limits.get(scope["path"], self.max_body_bytes)
        declared = headers.get("content-length", "")
        too_large_declared = declared.isdigit() and int(declared) > limit
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            if too_large_declared:
                raise BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == _HEADER_KEY for name, _ in headers):
                    headers.append((_HEADER_KEY, request_id.encode()))
                for name, value in state.get("extra_headers", {}).items():
                    headers.append((name.lower().encode(), value.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, limited_receive, send_with_id)
