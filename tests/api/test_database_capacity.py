"""Postgres refusing connections for lack of capacity is a retryable 503, never a 500.

A real API process connects as a role whose connection limit is 0, so every connection it
opens is refused with SQLSTATE 53300 ("too many connections"), as when the server's
``max_connections`` is used up.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url

from cutout import devstack
from storage.api_keys import generate_key
from tests.conftest import Server, start_api


@pytest.fixture
def api_without_connections(
    database: str, store: object, stack_env: dict[str, str], tmp_path: Path
) -> Iterator[Server]:
    role = f"cutout_full_{uuid.uuid4().hex[:8]}"
    admin_url = make_url(database).set(drivername="postgresql")
    with psycopg.connect(admin_url.render_as_string(hide_password=False), autocommit=True) as db:
        db.execute(f'CREATE ROLE "{role}" LOGIN CONNECTION LIMIT 0')
    limited = make_url(database).set(username=role, password=None)
    env = {**stack_env, "CUTOUT_DATABASE_URL": limited.render_as_string(hide_password=False)}
    server = start_api(env, tmp_path / "api.log")
    yield server
    devstack.stop(server.process)
    with psycopg.connect(admin_url.render_as_string(hide_password=False), autocommit=True) as db:
        db.execute(f'DROP ROLE "{role}"')


def test_too_many_connections_is_a_retryable_503(api_without_connections: Server) -> None:
    response = httpx.post(
        f"{api_without_connections.url}/v1/remove-background",
        headers={"X-API-Key": generate_key()},
        json={"image_url": "https://example.com/photo.jpg"},
        timeout=30,
    )
    assert response.status_code == 503
    assert response.json()["error_code"] == "service_unavailable"
    assert response.headers["retry-after"] == "5"
    log = api_without_connections.log.read_text()
    assert "53300" in log or "too many connections" in log
