from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from cutout_client import Cutout


class Recorder(httpx.HTTPTransport):
    """The real transport, remembering each exchange: (status, Idempotency-Key)."""

    def __init__(self) -> None:
        super().__init__()
        self.exchanges: list[tuple[int, str | None]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        self.exchanges.append((response.status_code, request.headers.get("idempotency-key")))
        return response


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def sdk(api, worker, make_tenant, recorder) -> Iterator[tuple[Cutout, object]]:
    """A sync client for a fresh tenant with 20 credits, and that tenant."""
    tenant = make_tenant(credits=20)
    http = httpx.Client(transport=recorder, timeout=90)
    with Cutout(api_key=tenant.api_key, base_url=api.url, http_client=http) as client:
        yield client, tenant
    http.close()
