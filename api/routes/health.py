"""Liveness and readiness probes for orchestrators and ``make up``.

``/readyz`` gates on what the API itself needs (Postgres, Redis, S3). It also lists the worker
processes whose heartbeat says their model is loaded, with the model and execution provider, but
does not fail without them: jobs queue while workers restart, and backpressure bounds the queue.
Each worker has its own ``/readyz`` (see :mod:`workers.monitor`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import anyio
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.deps import ServicesDep
from storage.heartbeats import Heartbeat, key_prefix

router = APIRouter(tags=["operations"])
log = logging.getLogger(__name__)


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def worker_heartbeats(services: ServicesDep) -> list[dict[str, object]]:
    workers = []
    async for key in services.redis.scan_iter(match=f"{key_prefix(services.settings)}*"):
        raw = await services.redis.get(key)
        if raw is not None:
            beat = Heartbeat.decode(raw)
            workers.append(
                {
                    "host": beat.host,
                    "pid": beat.pid,
                    "model": beat.model,
                    "provider": beat.provider,
                    "model_load_seconds": beat.model_load_seconds,
                }
            )
    return sorted(workers, key=lambda w: (str(w["host"]), int(str(w["pid"]))))


@router.get("/readyz", summary="Postgres, Redis and S3 are reachable; workers with their model")
async def readyz(services: ServicesDep) -> JSONResponse:
    checks: dict[str, str] = {}

    async def check(name: str, probe: Callable[[], Awaitable[object]]) -> None:
        try:
            with anyio.fail_after(3):
                await probe()
            checks[name] = "ok"
        except Exception as error:
            log.warning("readiness check %s failed: %r", name, error)
            checks[name] = "unavailable"

    async def postgres() -> None:
        async with services.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def s3() -> None:
        await anyio.to_thread.run_sync(services.store.ping)

    await check("postgres", postgres)
    await check("redis", services.redis.ping)
    await check("s3", s3)
    ready = all(state == "ok" for state in checks.values())
    workers: list[dict[str, object]] = []
    if checks["redis"] == "ok":
        try:
            with anyio.fail_after(3):
                workers = await worker_heartbeats(services)
        except Exception as error:
            log.warning("worker heartbeats not read: %r", error)
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks, "workers": workers},
        status_code=200 if ready else 503,
    )
