"""``AsyncCutout``: the asyncio client, the same methods as ``Cutout`` awaited.

Requests, responses, errors and waiting rules live in ``_protocol``; this module only sends them
with ``httpx.AsyncClient`` and sleeps with ``anyio.sleep``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Self, TypeVar

import anyio
import httpx

from cutout_client import _protocol as p
from cutout_client import models as m

StateT = TypeVar("StateT", m.Job, m.Batch)


class AsyncCutout(p.ClientCore[httpx.AsyncClient]):
    """An asyncio client; see ``Cutout`` for the arguments. Use ``async with``.

    The ``wait_for_*`` methods keep ``Cutout``'s ``timeout=`` argument, so code moves between
    the two clients unchanged.
    """

    _http_class = httpx.AsyncClient

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
        method, url, kwargs = self._request_args(call)
        async for attempt in self.retry.async_retrying():
            with attempt:
                return p.check(await self._http.request(method, url, **kwargs))
        raise AssertionError("unreachable: tenacity re-raises the last error")

    async def _poll(
        self, fetch: Callable[[], Awaitable[StateT]], waiter: p.Waiter, interval: float
    ) -> StateT:
        while True:
            state = await fetch()
            if waiter.done(state):
                return state
            await anyio.sleep(interval)

    async def remove_background(
        self,
        image: p.ImageArg = None,
        *,
        image_url: str | None = None,
        shadow: m.ShadowArg = None,
        as_url: bool = False,
        idempotency_key: str | None = None,
    ) -> m.RemovalResult:
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
        shadow: m.ShadowArg = None,
        webhook_url: str | None = None,
        idempotency_key: str | None = None,
    ) -> m.JobAccepted:
        call = p.submit_job_call(image, image_url, shadow, webhook_url, idempotency_key)
        return p.job_accepted(await self._send(call))

    async def get_job(self, job_id: str) -> m.Job:
        return p.job(await self._send(p.get_call(f"/v1/jobs/{job_id}")))

    async def wait_for_job(
        self, job_id: str, *, timeout: float = 300.0, poll_interval: float = 0.5
    ) -> m.Job:
        waiter = p.Waiter(f"job {job_id}", timeout)
        return p.succeeded(await self._poll(lambda: self.get_job(job_id), waiter, poll_interval))

    async def submit_batch(
        self,
        items: list[m.BatchItem],
        *,
        webhook_url: str | None = None,
        idempotency_key: str | None = None,
    ) -> m.BatchAccepted:
        call = p.submit_batch_call(items, webhook_url, idempotency_key)
        return p.batch_accepted(await self._send(call))

    async def get_batch(self, batch_id: str) -> m.Batch:
        return p.batch(await self._send(p.get_call(f"/v1/batches/{batch_id}")))

    async def wait_for_batch(
        self, batch_id: str, *, timeout: float = 1800.0, poll_interval: float = 1.0
    ) -> m.Batch:
        waiter = p.Waiter(f"batch {batch_id}", timeout)
        return await self._poll(lambda: self.get_batch(batch_id), waiter, poll_interval)
