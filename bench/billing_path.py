"""The billing path: what auth + rate limit + debit cost, and whether it holds under concurrency.

Starts a private stack (bench/stack.py: fresh database, Redis namespace, S3, API, one worker)
and measures:

1. ``path``: the median cost of the billing path per request, in process, with the API's own
   code on its asyncpg engine and Redis client: key lookup (with plan), the Lua
   rate-limit script, and the one-statement job+debit (each a real round trip, run
   sequentially ``--runs`` times); beside it, ``GET /v1/credits`` over HTTP (auth + rate limit)
   and ``GET /healthz`` (no billing) to show the HTTP share.
2. ``shadow_1000``: 1,000 concurrent shadow requests (4 credits each) against a balance of 100
   through HTTP: how many were admitted, the final balance, the sum of the entries.
3. ``idempotency_50``: 50 concurrent requests with one ``Idempotency-Key``: jobs and debits.
4. ``rate_1000``: 1,000 concurrent ``GET /v1/credits`` at 100 requests/minute: how many admitted.

    .venv/bin/python bench/billing_path.py [--runs 300] [--connections 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import write_result  # noqa: E402
from bench.stack import Stack, stack  # noqa: E402

PHOTO = (REPO / "docs" / "samples" / "coffee.jpg").read_bytes()


def ms(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 3),
        "p90_ms": round(ordered[int(len(ordered) * 0.9)] * 1000, 3),
        "runs": len(values),
    }


async def billing_path(key: str, runs: int) -> dict[str, object]:
    """The three billing steps the API runs for a request, timed one request at a time."""
    from api.rate_limit import RateLimiter, limits_redis
    from storage import api_keys, jobs
    from storage.db import make_async_engine, make_async_sessionmaker
    from storage.settings import get_settings

    settings = get_settings()
    engine = make_async_engine(settings)
    sessions = make_async_sessionmaker(engine)
    redis = limits_redis(settings.redis_url, settings.rate_limit_redis_timeout_seconds)
    limiter = RateLimiter(redis, settings.redis_namespace)
    secret = settings.api_key_secret.get_secret_value()
    steps: dict[str, list[float]] = {"auth": [], "rate_limit": [], "debit": [], "total": []}
    try:
        for run in range(runs + 20):  # the first 20 warm the pools
            started = time.perf_counter()
            async with sessions() as session:
                caller = await session.run_sync(api_keys.find_caller, key, secret)
            authed = time.perf_counter()
            decision = await limiter.hit(
                caller.tenant_id, caller.rate_limit_per_minute, caller.rate_limit_burst
            )
            limited = time.perf_counter()
            job_id = uuid.uuid4()
            new_job = jobs.NewJob(job_id, caller.tenant_id, caller.api_key_id, 1, {}, f"b/{job_id}")
            async with sessions.begin() as session:
                await session.run_sync(jobs.create_and_debit, new_job)
            done = time.perf_counter()
            assert decision.allowed
            if run >= 20:
                steps["auth"].append(authed - started)
                steps["rate_limit"].append(limited - authed)
                steps["debit"].append(done - limited)
                steps["total"].append(done - started)
    finally:
        await redis.aclose()
        await engine.dispose()
    return {name: ms(values) for name, values in steps.items()}


def http_medians(url: str, key: str, runs: int) -> dict[str, object]:
    timings: dict[str, list[float]] = {"GET /healthz": [], "GET /v1/credits": []}
    with httpx.Client(base_url=url, timeout=60) as http:
        for run in range(runs + 20):
            for path, headers in (("/healthz", {}), ("/v1/credits", {"X-API-Key": key})):
                started = time.perf_counter()
                response = http.get(path, headers=headers)
                elapsed = time.perf_counter() - started
                response.raise_for_status()
                if run >= 20:
                    timings[f"GET {path}"].append(elapsed)
    return {name: ms(values) for name, values in timings.items()}


async def fire(url: str, count: int, connections: int, send) -> list[httpx.Response]:
    """``count`` requests at once (at most ``connections`` in flight); transport failures are
    counted apart, by type, never retried."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=url, timeout=900, limits=limits) as http:
        return await asyncio.gather(*(send(http) for _ in range(count)), return_exceptions=True)


def statuses(responses: list) -> dict[str, int]:
    return dict(
        Counter(
            str(r.status_code) if isinstance(r, httpx.Response) else type(r).__name__
            for r in responses
        )
    )


def tenant_ledger(tenant_key: str) -> dict[str, object]:
    from sqlalchemy import text

    from storage import api_keys, ledger
    from storage.db import make_engine, make_sessionmaker
    from storage.settings import get_settings

    settings = get_settings()
    engine = make_engine(settings)
    try:
        with make_sessionmaker(engine)() as session:
            caller = api_keys.find_caller(
                session, tenant_key, settings.api_key_secret.get_secret_value()
            )
            rows = session.execute(
                text("SELECT kind, amount FROM ledger_entries WHERE tenant_id = :t"),
                {"t": caller.tenant_id},
            ).all()
            balance = ledger.balance(session, caller.tenant_id)
            statuses = session.execute(
                text("SELECT status, count(*) FROM jobs WHERE tenant_id = :t GROUP BY status"),
                {"t": caller.tenant_id},
            ).all()
    finally:
        engine.dispose()
    debits = [amount for kind, amount in rows if kind == "debit"]
    return {
        "balance": balance,
        "debits": len(debits),
        "refunds": sum(1 for kind, _ in rows if kind == "refund"),
        "entries_sum_excluding_grant": sum(amount for kind, amount in rows if kind != "grant"),
        "jobs": dict(statuses),
    }


def shadow_1000(s: Stack, connections: int) -> dict[str, object]:
    key = s.tenant(credits=100, rate_limit=100_000, burst=100_000)

    async def send(http: httpx.AsyncClient) -> httpx.Response:
        return await http.post(
            "/v1/remove-background",
            headers={"X-API-Key": key},
            files={"image": ("coffee.jpg", PHOTO)},
            data={"shadow": "true"},
        )

    started = time.perf_counter()
    responses = asyncio.run(fire(s.api_url, 1000, connections, send))
    return {
        "requests": 1000,
        "seconds": round(time.perf_counter() - started, 1),
        "statuses": statuses(responses),
        **tenant_ledger(key),
    }


def idempotency_50(s: Stack) -> dict[str, object]:
    key = s.tenant(credits=10, rate_limit=100_000, burst=100_000)

    async def send(http: httpx.AsyncClient) -> httpx.Response:
        return await http.post(
            "/v1/remove-background",
            headers={"X-API-Key": key, "Idempotency-Key": "bench-retry-storm"},
            files={"image": ("coffee.jpg", PHOTO)},
        )

    responses = asyncio.run(fire(s.api_url, 50, 50, send))
    replayed = sum(
        1
        for r in responses
        if isinstance(r, httpx.Response) and r.headers.get("idempotent-replayed") == "true"
    )
    return {
        "requests": 50,
        "statuses": statuses(responses),
        "replayed": replayed,
        **tenant_ledger(key),
    }


def rate_1000(s: Stack, connections: int) -> dict[str, object]:
    key = s.tenant(credits=1, rate_limit=100, burst=100)

    async def send(http: httpx.AsyncClient) -> httpx.Response:
        return await http.get("/v1/credits", headers={"X-API-Key": key})

    responses = asyncio.run(fire(s.api_url, 1000, connections, send))
    return {"requests": 1000, "limit_per_minute": 100, "statuses": statuses(responses)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--connections", type=int, default=100)
    args = parser.parse_args()

    extra = {
        "CUTOUT_DATABASE_POOL_SIZE": "20",
        "CUTOUT_JOB_WAIT_TIMEOUT_SECONDS": "900",
        "CUTOUT_RATE_LIMIT_REDIS_TIMEOUT_SECONDS": "10",
    }
    with stack(worker_concurrency=2, extra_env=extra) as s:
        os.environ.update(s.env)
        from storage.settings import get_settings

        get_settings.cache_clear()
        path_key = s.tenant(credits=args.runs + 100, rate_limit=1_000_000, burst=1_000_000)
        result = {
            "command": f"bench/billing_path.py --runs {args.runs} --connections {args.connections}",
            "path": asyncio.run(billing_path(path_key, args.runs)),
            "http": http_medians(s.api_url, path_key, args.runs),
            "rate_1000": rate_1000(s, args.connections),
            "idempotency_50": idempotency_50(s),
            "shadow_1000": shadow_1000(s, args.connections),
        }
    print(result)
    write_result("billing_path", result)


if __name__ == "__main__":
    main()
