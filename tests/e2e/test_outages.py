"""When Postgres or Redis is unreachable: billing never fails open, the rate limiter does.

Each test starts its own API process pointed at a closed port for one of the two services.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from cutout import devstack
from storage import api_keys
from tests.conftest import Server
from tests.e2e.test_remove_background import ENDPOINT
from tests.images import sample

CLOSED = "127.0.0.1:1"


@pytest.fixture
def api_with(database, store, stack_env, run_dir):
    started: list[Server] = []

    def start(**overrides: str) -> Server:
        port = devstack.free_port()
        log = run_dir / f"api-outage-{uuid.uuid4().hex[:6]}.log"
        process = devstack.spawn(devstack.api_argv(port), {**stack_env, **overrides}, log)
        url = f"http://127.0.0.1:{port}"
        devstack.wait_until(lambda: devstack.http_ok(f"{url}/healthz"), 90, "API", process)
        server = Server(url, process, log)
        started.append(server)
        return server

    yield start
    for server in started:
        devstack.stop(server.process)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=60) as client:
        yield client


def test_postgres_unreachable_answers_503_and_charges_nothing(api_with, http):
    api = api_with(CUTOUT_DATABASE_URL=f"postgresql://postgres@{CLOSED}/cutout")
    key = api_keys.generate_key()  # well formed, so the API must ask the database

    credits = http.get(f"{api.url}/v1/credits", headers={"X-API-Key": key})
    job = http.post(
        f"{api.url}{ENDPOINT}",
        headers={"X-API-Key": key},
        files={"image": ("p", sample("coffee.jpg"))},
    )

    for response in (credits, job):
        assert response.status_code == 503, response.text
        assert response.json()["error_code"] == "service_unavailable"
        assert int(response.headers["retry-after"]) >= 1
    assert "database unavailable" in api.log.read_text()


def test_redis_unreachable_the_limiter_fails_open_and_logs_it(api_with, http, make_tenant):
    tenant = make_tenant(credits=6, per_minute=1)
    api = api_with(CUTOUT_REDIS_URL=f"redis://{CLOSED}/0")

    answers = [
        http.get(f"{api.url}/v1/credits", headers={"X-API-Key": tenant.api_key}) for _ in range(3)
    ]

    assert [r.status_code for r in answers] == [200, 200, 200], "1/minute, yet all admitted"
    assert all(r.json() == {"balance": 6} for r in answers)
    assert all("ratelimit" not in r.headers for r in answers), "no counts we did not make"
    assert "rate limiter: Redis unavailable" in api.log.read_text()
