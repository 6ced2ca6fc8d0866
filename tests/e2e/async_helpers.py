"""Polling helpers for asynchronous jobs and batches in end-to-end tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx


def wait_for(check: Callable[[], Any], timeout: float = 120, what: str = "condition") -> Any:
    """Poll until ``check`` returns something truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def finished_job(client: httpx.Client, key: str, job_id: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        body = client.get(f"/v1/jobs/{job_id}", headers={"X-API-Key": key}).json()
        return body if body["status"] in ("succeeded", "failed") else None

    return wait_for(check, what=f"job {job_id}")


def finished_batch(client: httpx.Client, key: str, batch_id: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        body = client.get(f"/v1/batches/{batch_id}", headers={"X-API-Key": key}).json()
        return body if body["done"] else None

    return wait_for(check, timeout=300, what=f"batch {batch_id}")
