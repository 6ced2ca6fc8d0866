"""``Cutout``: the synchronous client."""

from __future__ import annotations

import time
from types import TracebackType
from typing import Self

import httpx

from cutout_client import _protocol as p
from cutout_client.errors import JobFailed
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


class Cutout:
    """A client for one Cutout server and API key.

    ``api_key`` and ``base_url`` default to ``$CUTOUT_API_KEY`` and ``$CUTOUT_BASE_URL``. Pass
    ``http_client`` to bring your own ``httpx.Client`` (proxies, transports, event hooks).
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: float = 120.0,
        retry: RetryPolicy | None = None,
        http_client: httpx.Client | None = None,
    ) -> None:
        key, url = p.resolve_config(api_key, base_url)
        self.base_url = url
        self.retry = retry or RetryPolicy()
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(timeout=timeout)
        self._auth = {"X-API-Key": key}

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
        headers = {**self._auth, **call.headers}
        kwargs = {**call.send_kwargs(), "headers": headers}
        for attempt in self.retry.retrying():
            with attempt:
                response = self._http.request(call.method, self.base_url + call.path, **kwargs)
                return p.check(response)
        raise AssertionError("unreachable: tenacity re-raises the last error")

    def remove_background(
        self,
        image: p.ImageArg = None,
        *,
        image_url: str | None = None,
        shadow: ShadowArg = None,
        as_url: bool = False,
        idempotency_key: str | None = None,
    ) -> RemovalResult:
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
        shadow: ShadowArg = None,
        webhook_url: str | None = None,
        idempotency_key: str | None = None,
    ) -> JobAccepted:
        """Queue a job (``POST /v1/jobs/remove-background``); it is charged when accepted."""
        call = p.submit_job_call(image, image_url, shadow, webhook_url, idempotency_key)
        return p.job_accepted(self._send(call))

    def get_job(self, job_id: str) -> Job:
        return p.job(self._send(p.get_call(f"/v1/jobs/{job_id}")))

    def wait_for_job(
        self, job_id: str, *, timeout: float = 300.0, poll_interval: float = 0.5
    ) -> Job:
        """Poll until the job has finished; raise ``JobFailed`` if it failed (it was refunded)."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.get_job(job_id)
            if job.finished:
                return _succeeded(job)
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {job.status} after {timeout:.0f} s")
            time.sleep(poll_interval)

    def submit_batch(
        self,
        items: list[BatchItem],
        *,
        webhook_url: str | None = None,
        idempotency_key: str | None = None,
    ) -> BatchAccepted:
        """Queue up to 100 items at once; all are charged, or none when credits are short."""
        return p.batch_accepted(
            self._send(p.submit_batch_call(items, webhook_url, idempotency_key))
        )

    def get_batch(self, batch_id: str) -> Batch:
        return p.batch(self._send(p.get_call(f"/v1/batches/{batch_id}")))

    def wait_for_batch(
        self, batch_id: str, *, timeout: float = 1800.0, poll_interval: float = 1.0
    ) -> Batch:
        """Poll until every job of the batch has finished (failed jobs are in ``jobs``)."""
        deadline = time.monotonic() + timeout
        while True:
            batch = self.get_batch(batch_id)
            if batch.finished:
                return batch
            if time.monotonic() > deadline:
                raise TimeoutError(f"batch {batch_id} unfinished after {timeout:.0f} s")
            time.sleep(poll_interval)


def _succeeded(job: Job) -> Job:
    if job.status == "failed":
        raise JobFailed(
            job.error or "The job failed; its credits were refunded.",
            status=200,
            error_code=job.error_code,
        )
    return job
