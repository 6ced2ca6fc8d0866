"""Liveness and readiness probes for orchestrators and ``make up``."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import anyio
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.deps import ServicesDep

router = APIRouter(tags=["operations"])
log = logging.getLogger(__name__)


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Postgres, Redis and S3 are reachable")
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
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )
