"""What the sync and async clients share: configuration, building requests, reading
responses, mapping errors and deciding when a wait is over.

Nothing here does I/O, so ``Cutout`` and ``AsyncCutout`` differ only in how they send and sleep.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Generic, TypeVar

import httpx

from cutout_client.errors import JobFailed, from_response
from cutout_client.models import (
    Batch,
    BatchAccepted,
    BatchItem,
    Job,
    JobAccepted,
    RemovalResult,
    ShadowArg,
    shadow_param,
)
from cutout_client.retries import RetryPolicy

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
API_KEY_ENV = "CUTOUT_API_KEY"
BASE_URL_ENV = "CUTOUT_BASE_URL"
CREDITS_CHARGED = "x-credits-charged"
CREDITS_REMAINING = "x-credits-remaining"
IDEMPOTENCY_HEADER = "Idempotency-Key"

ImageArg = bytes | str | os.PathLike[str] | IO[bytes] | None


@dataclass
class Call:
    """One logical API call; every retry of it sends the same ``Idempotency-Key``."""

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None
    data: dict[str, str] | None = None
    files: list[tuple[str, tuple[str, bytes, str]]] | None = None

    def send_kwargs(self, auth: dict[str, str]) -> dict[str, Any]:
        """``httpx`` request arguments: the call's body and headers, with the API key."""
        kwargs: dict[str, Any] = {"headers": {**auth, **self.headers}}
        if self.json is not None:
            kwargs["json"] = self.json
        if self.data is not None:
            kwargs["data"] = self.data
        if self.files is not None:
            kwargs["files"] = self.files
        return kwargs


def resolve_config(api_key: str | None, base_url: str | None) -> tuple[str, str]:
    key = api_key or os.environ.get(API_KEY_ENV)
    if not key:
        raise ValueError(f"pass api_key= or set {API_KEY_ENV}")
    return key, (base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")


HttpT = TypeVar("HttpT", httpx.Client, httpx.AsyncClient)


class ClientCore(Generic[HttpT]):
    """The state both clients hold: where to send, with which key, how to retry.

    ``Cutout`` and ``AsyncCutout`` inherit this constructor, so their arguments and defaults
    cannot drift apart; each names the ``httpx`` client class it makes when given none.
    """

    _http_class: Callable[..., HttpT]

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: float = 120.0,
        retry: RetryPolicy | None = None,
        http_client: HttpT | None = None,
    ) -> None:
        key, url = resolve_config(api_key, base_url)
        self.base_url = url
        self.retry = retry or RetryPolicy()
        self._owns_http = http_client is None
        self._http: HttpT = http_client or self._http_class(timeout=timeout)
        self._auth = {"X-API-Key": key}

    def _request_args(self, call: Call) -> tuple[str, str, dict[str, Any]]:
        """Method, absolute URL and ``httpx`` arguments of one attempt at ``call``."""
        return call.method, self.base_url + call.path, call.send_kwargs(self._auth)


def read_image(image: ImageArg) -> tuple[bytes, str] | None:
    """The bytes and a file name, from bytes, a path or an open binary file."""
    if image is None:
        return None
    if isinstance(image, bytes):
        return image, "image"
    if isinstance(image, str | os.PathLike):
        path = Path(image)
        return path.read_bytes(), path.name
    return image.read(), Path(getattr(image, "name", "image")).name


def _idempotent(headers: dict[str, str], key: str | None) -> dict[str, str]:
    return {**headers, IDEMPOTENCY_HEADER: key or str(uuid.uuid4())}


def _body(
    image: ImageArg, image_url: str | None, shadow: ShadowArg, extra: dict[str, str]
) -> dict[str, Any]:
    """JSON for a URL, multipart for an upload: the two bodies the API accepts."""
    upload = read_image(image)
    shadow_value = shadow_param(shadow)
    if upload is None:
        if image_url is None:
            raise ValueError("pass image (bytes, path or file) or image_url")
        body: dict[str, Any] = {"image_url": image_url, "format": "png", **extra}
        if shadow_value is not None:
            body["shadow"] = shadow_value
        return {"json": body}
    data, name = upload
    form = {"format": "png", **extra}
    if image_url is not None:
        form["image_url"] = image_url
    if shadow_value is not None:
        form["shadow"] = json.dumps(shadow_value)
    return {"data": form, "files": [("image", (name, data, "application/octet-stream"))]}


def remove_call(
    image: ImageArg,
    image_url: str | None,
    shadow: ShadowArg,
    as_url: bool,
    idempotency_key: str | None,
) -> Call:
    accept = "application/json" if as_url else "image/png"
    return Call(
        "POST",
        "/v1/remove-background",
        headers=_idempotent({"Accept": accept}, idempotency_key),
        **_body(image, image_url, shadow, {}),
    )


def submit_job_call(
    image: ImageArg,
    image_url: str | None,
    shadow: ShadowArg,
    webhook_url: str | None,
    idempotency_key: str | None,
) -> Call:
    extra = {"webhook_url": webhook_url} if webhook_url else {}
    return Call(
        "POST",
        "/v1/jobs/remove-background",
        headers=_idempotent({"Accept": "application/json"}, idempotency_key),
        **_body(image, image_url, shadow, extra),
    )


def submit_batch_call(
    items: list[BatchItem], webhook_url: str | None, idempotency_key: str | None
) -> Call:
    """URL-only batches go as JSON; with uploads, multipart with ``image_<n>`` file parts."""
    if not 1 <= len(items) <= 100:
        raise ValueError("a batch holds 1 to 100 items")
    described: list[dict[str, Any]] = []
    files: list[tuple[str, tuple[str, bytes, str]]] = []
    for index, item in enumerate(items):
        entry: dict[str, Any] = {}
        if item.image is not None:
            part = f"image_{index}"
            files.append((part, (item.filename, item.image, "application/octet-stream")))
            entry["image"] = part
        elif item.image_url is not None:
            entry["image_url"] = item.image_url
        else:
            raise ValueError(f"batch item {index} has neither image nor image_url")
        if (value := shadow_param(item.shadow)) is not None:
            entry["shadow"] = value
        described.append(entry)
    defaults = {"webhook_url": webhook_url} if webhook_url else {}
    headers = _idempotent({"Accept": "application/json"}, idempotency_key)
    if files:
        form = {"items": json.dumps(described), **defaults}
        return Call("POST", "/v1/batches", headers, data=form, files=files)
    return Call("POST", "/v1/batches", headers, json={"items": described, **defaults})


def get_call(path: str) -> Call:
    return Call("GET", path, headers={"Accept": "application/json"})


def _int_header(response: httpx.Response, name: str) -> int | None:
    value = response.headers.get(name)
    return int(value) if value is not None and value.strip().lstrip("-").isdigit() else None


def check(response: httpx.Response) -> httpx.Response:
    if response.is_error:
        raise from_response(response)
    return response


def removal_result(response: httpx.Response) -> RemovalResult:
    charged = _int_header(response, CREDITS_CHARGED) or 0
    common = {
        "credits_charged": charged,
        "request_id": response.headers.get("x-request-id"),
        "credits_remaining": _int_header(response, CREDITS_REMAINING),
    }
    if response.headers.get("content-type", "").startswith("image/"):
        return RemovalResult(png=response.content, **common)
    return RemovalResult(result_url=response.json()["result_url"], **common)


def _accepted(response: httpx.Response) -> dict[str, Any]:
    """What every 202 answer carries besides its ids."""
    return {
        "status_url": response.json().get("status_url"),
        "credits_charged": _int_header(response, CREDITS_CHARGED),
        "request_id": response.headers.get("x-request-id"),
    }


def job_accepted(response: httpx.Response) -> JobAccepted:
    return JobAccepted(job_id=str(response.json()["job_id"]), **_accepted(response))


def job(response: httpx.Response) -> Job:
    return Job.from_json(response.json())


def batch_accepted(response: httpx.Response) -> BatchAccepted:
    body = response.json()
    return BatchAccepted(
        batch_id=str(body["batch_id"]),
        job_ids=tuple(str(job_id) for job_id in body.get("job_ids") or []),
        **_accepted(response),
    )


def batch(response: httpx.Response) -> Batch:
    return Batch.from_json(response.json())


def balance(response: httpx.Response) -> int:
    body = response.json()
    return int(body.get("balance", body.get("credits", 0)))


class Waiter:
    """When to stop polling a job or batch: once it has finished, or (raising) at the deadline.

    ``what`` names it in the timeout's message, e.g. ``"job 123"`` or ``"batch 7"``.

    The clients call ``done`` after each fetch and sleep ``poll_interval`` in their own way when
    it says no.
    """

    def __init__(self, what: str, timeout: float) -> None:
        self.what = what
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout

    def done(self, state: Job | Batch) -> bool:
        if state.finished:
            return True
        if time.monotonic() > self.deadline:
            status = f"still {state.status}" if isinstance(state, Job) else "unfinished"
            raise TimeoutError(f"{self.what} {status} after {self.timeout:.0f} s")
        return False


def succeeded(job: Job) -> Job:
    """The finished job, or ``JobFailed`` when it failed (its credits were refunded)."""
    if job.status == "failed":
        raise JobFailed(
            job.error or "The job failed; its credits were refunded.",
            status=200,
            error_code=job.error_code,
        )
    return job
