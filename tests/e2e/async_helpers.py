"""Polling helpers for asynchronous jobs and batches in end-to-end tests."""

from __future__ import annotations

from typing import Any

import httpx

from tests.polling import wait_for

__all__ = ["finished_batch", "finished_job", "wait_for"]


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
