"""An unexpected failure becomes a generic 500 that still names the request, and leaks nothing."""

from __future__ import annotations

import httpx

from api.app import create_app
from api.deps import authenticate


async def test_unexpected_errors_are_generic_500s_with_a_request_id(settings, caplog):
    app = create_app(settings)

    async def explode() -> None:
        raise RuntimeError("internal detail 7f3a")

    app.dependency_overrides[authenticate] = explode
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/v1/remove-background", json={})

    assert response.status_code == 500
    assert response.json() == {"error": "Internal service error.", "error_code": "internal_error"}
    request_id = response.headers["x-request-id"]
    assert "7f3a" not in response.text
    logged = [record for record in caplog.records if request_id in record.getMessage()]
    assert logged, "the failure is logged with the request id the client saw"
    assert logged[0].exc_info is not None
    assert "internal detail 7f3a" in str(logged[0].exc_info[1])
