"""Credits, idempotency and rate limits through real HTTP, with concurrency that means it."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter

import http_sf
import httpx
import numpy as np
from sqlalchemy import text

from api.job_slots import JobSlots
from api.rate_limit import limits_redis
from storage import api_keys, ledger
from storage.db import transaction
from tests.e2e.test_remove_background import ENDPOINT, upload
from tests.images import rgba, sample

CREDITS = "/v1/credits"


def sf_list(value: str) -> dict[str, dict[str, int]]:
    return dict(http_sf.parse(value.encode(), tltype="list"))


def entries_of(sessions, tenant_id) -> list[tuple[str, int]]:
    with sessions() as session:
        rows = session.execute(
            text("SELECT kind, amount FROM ledger_entries WHERE tenant_id = :t ORDER BY id"),
            {"t": tenant_id},
        )
        return [tuple(row) for row in rows]


def jobs_of(sessions, tenant_id) -> list[tuple[str, int]]:
    with sessions() as session:
        rows = session.execute(
            text("SELECT status, cost FROM jobs WHERE tenant_id = :t"), {"t": tenant_id}
        )
        return [tuple(row) for row in rows]


async def fire(url: str, count: int, send, connections: int = 50) -> list[httpx.Response]:
    """``count`` requests issued at once, at most ``connections`` in flight.

    The cap keeps one uvicorn process on a small, shared CI machine from queueing requests past
    its database pool's timeout.
    """
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as http:
        return await asyncio.gather(*(send(http) for _ in range(count)))


# --- GET /v1/credits and the rate-limit headers -----------------------------------------------


def test_credits_shows_the_balance_with_rate_limit_headers(client, make_tenant):
    tenant = make_tenant(credits=7, per_minute=30, burst=5)
    response = client.get(CREDITS, headers={"X-API-Key": tenant.api_key})

    assert response.status_code == 200, response.text
    assert response.json() == {"balance": 7}
    policy = sf_list(response.headers["ratelimit-policy"])
    state = sf_list(response.headers["ratelimit"])
    assert policy == {"minute": {"q": 30, "w": 60}, "burst": {"q": 5, "w": 10}}
    assert state["minute"]["r"] == 29
    assert state["burst"]["r"] == 4
    assert 0 < state["minute"]["t"] <= 60


def test_credits_needs_a_valid_key_and_is_in_the_openapi_document(client):
    response = client.get(CREDITS, headers={"X-API-Key": api_keys.generate_key()})
    assert response.status_code == 401
    assert response.json()["error_code"] == "invalid_auth_token"
    operation = client.get("/openapi.json").json()["paths"][CREDITS]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/Credits"}


def test_a_balance_follows_the_jobs_a_tenant_runs(client, make_tenant):
    """A tenant with 10 credits runs a shadow job and a plain one: 5 left, and /v1/credits
    says so; a job it cannot afford is refused and leaves the balance alone."""
    tenant = make_tenant(credits=10)
    headers = {"X-API-Key": tenant.api_key}
    assert upload(client, tenant.api_key, sample("coffee.jpg"), shadow="true").status_code == 200
    assert upload(client, tenant.api_key, sample("coffee.jpg")).status_code == 200
    assert client.get(CREDITS, headers=headers).json() == {"balance": 5}
    assert upload(client, tenant.api_key, sample("coffee.jpg"), shadow="true").status_code == 200
    refused = upload(client, tenant.api_key, sample("coffee.jpg"), shadow="true")
    assert refused.status_code == 403
    assert client.get(CREDITS, headers=headers).json() == {"balance": 1}


def test_a_429_carries_retry_after_and_the_rate_limit_headers(client, make_tenant):
    tenant = make_tenant(per_minute=2)
    headers = {"X-API-Key": tenant.api_key}
    assert [client.get(CREDITS, headers=headers).status_code for _ in range(2)] == [200, 200]
    refused = client.get(CREDITS, headers=headers)
    assert refused.status_code == 429
    assert refused.json()["error_code"] == "rate_limit_exceeded"
    retry_after = int(refused.headers["retry-after"])
    state = sf_list(refused.headers["ratelimit"])
    assert state["minute"]["r"] == 0
    assert 1 <= retry_after <= 60
    assert state["minute"]["t"] <= retry_after


def test_300_concurrent_requests_at_100_per_minute_admit_exactly_100(api, make_tenant):
    """Over HTTP; the limiter takes 1,000 simultaneous calls in tests/api/test_rate_limit.py,
    and bench/billing_path.py sends 1,000 through the API."""
    tenant = make_tenant(per_minute=100)

    async def send(http: httpx.AsyncClient) -> httpx.Response:
        return await http.get(CREDITS, headers={"X-API-Key": tenant.api_key})

    responses = asyncio.run(fire(api.url, 300, send, connections=50))

    assert Counter(r.status_code for r in responses) == {200: 100, 429: 200}
    assert all(int(r.headers["retry-after"]) >= 1 for r in responses if r.status_code == 429)


def test_100_concurrent_shadow_requests_against_20_credits_run_exactly_5(
    api, worker, make_tenant, sessions, balance_of
):
    """The HTTP path end to end; tests/storage/test_ledger_concurrency.py and
    bench/billing_path.py run the 1,000-request version."""
    tenant = make_tenant(credits=20, per_minute=10_000, concurrency=1000)
    photo = sample("coffee.jpg")

    async def send(http: httpx.AsyncClient) -> httpx.Response:
        return await http.post(
            ENDPOINT,
            headers={"X-API-Key": tenant.api_key},
            files={"image": ("p", photo)},
            data={"shadow": "true"},
        )

    responses = asyncio.run(fire(api.url, 100, send))

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {200: 5, 403: 95}, statuses
    assert all(
        r.json()["error_code"] == "insufficient_api_credits"
        for r in responses
        if r.status_code == 403
    )
    assert balance_of(tenant.id) == 0
    entries = entries_of(sessions, tenant.id)
    assert [amount for kind, amount in entries if kind == "debit"] == [-4] * 5
    assert sum(amount for kind, amount in entries if kind != "grant") == -20
    assert Counter(jobs_of(sessions, tenant.id)) == {("succeeded", 4): 5}


# --- Idempotency-Key ----------------------------------------------------------------------------


def test_a_retry_with_the_same_key_replays_the_result_and_charges_nothing(
    client, make_tenant, balance_of, sessions
):
    tenant = make_tenant(credits=5)
    headers = {
        "X-API-Key": tenant.api_key,
        "Accept": "image/png",
        "Idempotency-Key": "order-7-photo-1",
    }
    files = {"image": ("cat.jpg", sample("chelsea.jpg"))}

    original = client.post(ENDPOINT, headers=headers, files=files)
    retried = client.post(ENDPOINT, headers=headers, files=files)

    assert original.status_code == retried.status_code == 200
    assert "idempotent-replayed" not in original.headers
    assert retried.headers["idempotent-replayed"] == "true"
    assert retried.headers["x-credits-charged"] == "1"
    assert np.array_equal(rgba(original.content), rgba(retried.content))
    assert rgba(retried.content).shape == (300, 451, 4)
    assert balance_of(tenant.id) == 4
    assert jobs_of(sessions, tenant.id) == [("succeeded", 1)]

    as_json = client.post(ENDPOINT, headers={**headers, "Accept": "application/json"}, files=files)
    assert as_json.status_code == 200
    assert as_json.headers["idempotent-replayed"] == "true"
    assert rgba(httpx.get(as_json.json()["result_url"]).content).shape == (300, 451, 4)
    assert balance_of(tenant.id) == 4


def test_the_same_key_with_another_body_is_refused_422(client, make_tenant, balance_of):
    tenant = make_tenant(credits=5)
    headers = {"X-API-Key": tenant.api_key, "Idempotency-Key": "k-1"}
    assert (
        client.post(ENDPOINT, headers=headers, files={"image": ("a", sample("coffee.jpg"))})
    ).status_code == 200
    other = client.post(ENDPOINT, headers=headers, files={"image": ("b", sample("chelsea.jpg"))})
    assert other.status_code == 422
    assert other.json()["error_code"] == "idempotency_key_mismatch"
    shadowed = client.post(
        ENDPOINT,
        headers=headers,
        files={"image": ("a", sample("coffee.jpg"))},
        data={"shadow": "true"},
    )
    assert shadowed.json()["error_code"] == "idempotency_key_mismatch"
    assert balance_of(tenant.id) == 4


def test_a_refused_request_does_not_keep_its_key(client, make_tenant, sessions, balance_of):
    """No credits: 403, and the key stays free; after a grant the same key runs the job."""
    tenant = make_tenant(credits=0)
    headers = {"X-API-Key": tenant.api_key, "Idempotency-Key": "after-top-up"}
    files = {"image": ("a", sample("coffee.jpg"))}
    assert client.post(ENDPOINT, headers=headers, files=files).status_code == 403
    with transaction(sessions) as session:
        ledger.grant(session, tenant.id, 1, reason="top-up")
    response = client.post(ENDPOINT, headers=headers, files=files)
    assert response.status_code == 200
    assert "idempotent-replayed" not in response.headers
    assert balance_of(tenant.id) == 0


def test_50_concurrent_requests_with_one_key_make_one_job_and_one_debit(
    api, worker, make_tenant, sessions, balance_of
):
    tenant = make_tenant(credits=10)
    photo = sample("coffee.jpg")

    async def send(http: httpx.AsyncClient) -> httpx.Response:
        return await http.post(
            ENDPOINT,
            headers={"X-API-Key": tenant.api_key, "Idempotency-Key": "burst-of-retries"},
            files={"image": ("p", photo)},
        )

    responses = asyncio.run(fire(api.url, 50, send))

    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {200, 409}, statuses
    originals = [
        r for r in responses if r.status_code == 200 and "idempotent-replayed" not in r.headers
    ]
    assert len(originals) == 1
    in_use = [r for r in responses if r.status_code == 409]
    assert all(r.json()["error_code"] == "idempotency_key_in_use" for r in in_use)
    assert jobs_of(sessions, tenant.id) == [("succeeded", 1)]
    assert [kind for kind, _ in entries_of(sessions, tenant.id)] == ["grant", "debit"]
    assert balance_of(tenant.id) == 9


# --- concurrent-jobs cap, key bookkeeping --------------------------------------------------------


def test_the_concurrent_jobs_cap_refuses_a_job_beyond_it(client, make_tenant, settings, balance_of):
    tenant = make_tenant(credits=5, concurrency=1)

    running_job = uuid.uuid4()

    async def hold_then(action):
        redis = limits_redis(settings.redis_url, 1.0)
        slots = JobSlots(redis, settings.redis_namespace, 60, 60)
        try:
            return await action(slots)
        finally:
            await redis.aclose()

    held = asyncio.run(hold_then(lambda slots: slots.acquire(tenant.id, 1, [running_job])))
    assert held.admitted
    refused = upload(client, tenant.api_key, sample("coffee.jpg"))
    assert refused.status_code == 429
    assert refused.json()["error_code"] == "rate_limit_exceeded"
    assert "concurrent" in refused.json()["error"]
    assert balance_of(tenant.id) == 5

    asyncio.run(hold_then(lambda slots: slots.release(tenant.id, [running_job])))
    assert upload(client, tenant.api_key, sample("coffee.jpg")).status_code == 200
    assert upload(client, tenant.api_key, sample("coffee.jpg")).status_code == 200, "released"
    assert balance_of(tenant.id) == 3


def test_last_used_at_is_recorded_after_the_request(client, make_tenant, sessions):
    tenant = make_tenant()
    with sessions() as session:
        (before,) = api_keys.list_keys(session, tenant.id)
    assert before.last_used_at is None
    assert client.get(CREDITS, headers={"X-API-Key": tenant.api_key}).status_code == 200

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with sessions() as session:
            (key,) = api_keys.list_keys(session, tenant.id)
        if key.last_used_at is not None:
            break
        time.sleep(0.1)
    assert key.last_used_at is not None
    assert key.last_used_at >= before.created_at
