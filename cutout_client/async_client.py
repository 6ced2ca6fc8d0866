"""``AsyncCutout``: the asyncio client, the same methods as ``Cutout`` awaited."""

from __future__ import annotations

import time
from types import TracebackType
from typing import Self

import anyio
import httpx

from cutout_client import _protocol as p
from cutout_client.client import _succeeded
from cutout_client.models import (
    Batch,
    BatchAccepted,
    BatchItem,
    Job,
    JobAccepted,
    RemovalResult,
    ShadowArg,
)
from cutout_client.retries import RetryPolicy


class AsyncCutout:
    """An asyncio client; see ``Cutout`` for the arguments. Use ``async with``.

    The ``wait_for_*`` methods keep ``Cutout``'s ``timeout=`` argument, so code moves between
    the two clients unchanged.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: float = 120.0,
        retry: RetryPolicy | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        key, url = p.resolve_config(api_key, base_url)
        self.base_url = url
        self.retry = retry or RetryPolicy()
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=timeout)
        self._auth = {"X-API-Key": key}

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def _send(self, call: p.Call) -> httpx.Response:
        headers = {**self._auth, **call.headers}
        kwargs = {**call.send_kwargs(), "headers": headers}
        async for attempt in self.retry.async_retrying():
            with attempt:
                response = await self._http.request(
                    call.method, self.base_url + call.path, **kwargs
                )
                return p.check(response)
        raise AssertionError("unreachable: tenacity re-raises the last error")

    async def remove_background(
        self,
        image: p.ImageArg = None,
        *,
        image_url: str | None = None,
        shadow: ShadowArg = None,
        as_url: bool = False,
        idempotency_key: str | None = None,
    ) -> RemovalResult:
        call = p.remove_call(image, image_url, shadow, as_url, idempotency_key)
        return p.removal_result(await self._send(call))

    async def credits(self) -> int:
        return p.balance(await self._send(p.get_call("/v1/credits")))

    async def download(self, url: str) -> bytes:
        response = await self._http.get(url)
        response.raise_for_status()
        return response.content

    async def submit_job(
        self,
        image: p.ImageArg = None,
        *,
        image_url: str | None = None,
        shadow: ShadowArg = None,
        webhook_url: str | None = None,
        idempotency_key: str | None = None,
    ) -> JobAccepted:
        call = p.submit_job_call(image, image_url, shadow, webhook_url, idempotency_key)
        return p.job_accepted(await self._send(call))

    async def get_job(self, job_id: str) -> Job:
        return p.job(await self._send(p.get_call(f"/v1/jobs/{job_id}")))

    async def wait_for_job(
        self,
        job_id: str,
        *,
        timeout: float = 300.0,
        poll_interval: float = 0.5,
    ) -> Job:
        deadline = time.monotonic() + timeout
        while True:
            job = await self.get_job(job_id)
            if job.finished:
                return _succeeded(job)
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {job.status} after {timeout:.0f} s")
            await anyio.sleep(poll_interval)

    async def submit_batch(
        self,
        items: list[BatchItem],
        *,
        webhook_url: str | None = None,
        idempotency_key: str | None = None,
    ) -> BatchAccepted:
        call = p.submit_batch_call(items, webhook_url, idempotency_key)
        return p.batch_accepted(await self._send(call))

    async def get_batch(self, batch_id: str) -> Batch:
        return p.batch(await self._send(p.get_call(f"/v1/batches/{batch_id}")))

    async def wait_for_batch(
        self,
        batch_id: str,
        *,
        timeout: float = 1800.0,
        poll_interval: float = 1.0,
    ) -> Batch:
        deadline = time.monotonic() + timeout
        while True:
            batch = await self.get_batch(batch_id)
            if batch.finished:
                return batch
            if time.monotonic() > deadline:
                raise TimeoutError(f"batch {batch_id} unfinished after {timeout:.0f} s")
            await anyio.sleep(poll_interval)
