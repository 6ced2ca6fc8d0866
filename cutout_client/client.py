"""``Cutout``: the synchronous client.

Requests, responses, errors and waiting rules live in ``_protocol``; this module only sends them
with ``httpx.Client`` and sleeps with ``time.sleep``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType
from typing import Self, TypeVar

import httpx

from cutout_client import _protocol as p
from cutout_client import models as m

StateT = TypeVar("StateT", m.Job, m.Batch)


class Cutout(p.ClientCore[httpx.Client]):
    """A client for one Cutout server and API key.

    ``api_key`` and ``base_url`` default to ``$CUTOUT_API_KEY`` and ``$CUTOUT_BASE_URL``. Pass
    ``http_client`` to bring your own ``httpx.Client`` (proxies, transports, event hooks);
    ``timeout`` (seconds) and ``retry`` (a ``RetryPolicy``) are keyword-only.
    """

    _http_class = httpx.Client

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def _send(self, call: p.Call) -> httpx.Response:
        method, url, kwargs = self._request_args(call)
        for attempt in self.retry.retrying():
            with attempt:
                return p.check(self._http.request(method, url, **kwargs))
        raise AssertionError("unreachable: tenacity re-raises the last error")

    def _poll(self, fetch: Callable[[], StateT], waiter: p.Waiter, interval: float) -> StateT:
        while True:
            state = fetch()
            if waiter.done(state):
                return state
            time.sleep(interval)

    def remove_background(
        self,
        image: p.ImageArg = None,
        *,
        image_url: str | None = None,
        shadow: m.ShadowArg = None,
        as_url: bool = False,
        idempotency_key: str | None = None,
    ) -> m.RemovalResult:
        """Cut out one image (bytes, a path or an open file) or the image at ``image_url``.

        Returns the PNG bytes, or with ``as_url=True`` a ``result_url`` valid for one hour.
        """
        call = p.remove_call(image, image_url, shadow, as_url, idempotency_key)
        return p.removal_result(self._send(call))

    def credits(self) -> int:
        """The caller's balance (``GET /v1/credits``)."""
        return p.balance(self._send(p.get_call("/v1/credits")))

    def download(self, url: str) -> bytes:
        """Fetch a ``result_url`` (presigned, so no API key is sent)."""
        response = self._http.get(url)
        response.raise_for_status()
        return response.content

    # --- asynchronous jobs

    def submit_job(
        self,
        image: p.ImageArg = None,
        *,
        image_url: str | None = None,
        shadow: m.ShadowArg = None,
        webhook_url: str | None = None,
        idempotency_key: str | None = None,
    ) -> m.JobAccepted:
        """Queue a job (``POST /v1/jobs/remove-background``); it is charged when accepted."""
        call = p.submit_job_call(image, image_url, shadow, webhook_url, idempotency_key)
        return p.job_accepted(self._send(call))

    def get_job(self, job_id: str) -> m.Job:
        return p.job(self._send(p.get_call(f"/v1/jobs/{job_id}")))

    def wait_for_job(
        self, job_id: str, *, timeout: float = 300.0, poll_interval: float = 0.5
    ) -> m.Job:
        """Poll until the job has finished; raise ``JobFailed`` if it failed (it was refunded)."""
        waiter = p.Waiter(f"job {job_id}", timeout)
        return p.succeeded(self._poll(lambda: self.get_job(job_id), waiter, poll_interval))

    def submit_batch(
        self,
        items: list[m.BatchItem],
        *,
        webhook_url: str | None = None,
        idempotency_key: str | None = None,
    ) -> m.BatchAccepted:
        """Queue up to 100 items at once; all are charged, or none when credits are short."""
        call = p.submit_batch_call(items, webhook_url, idempotency_key)
        return p.batch_accepted(self._send(call))

    def get_batch(self, batch_id: str) -> m.Batch:
        return p.batch(self._send(p.get_call(f"/v1/batches/{batch_id}")))

    def wait_for_batch(
        self, batch_id: str, *, timeout: float = 1800.0, poll_interval: float = 1.0
    ) -> m.Batch:
        """Poll until every job of the batch has finished (failed jobs are in ``jobs``)."""
        waiter = p.Waiter(f"batch {batch_id}", timeout)
        return self._poll(lambda: self.get_batch(batch_id), waiter, poll_interval)
