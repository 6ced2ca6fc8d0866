"""The ``Idempotency-Key`` header of ``POST /v1/remove-background`` and
``POST /v1/jobs/remove-background``.

A client that retries with the same key and the same body gets the original job's outcome
(``Idempotent-Replayed: true``) and is charged nothing more. The same key while its first request
is still running answers 409 ``idempotency_key_in_use``; the same key with a different body
answers 422 ``idempotency_key_mismatch``. Keys are scoped to the tenant and kept
``idempotency_key_ttl_hours``. On the asynchronous endpoint a retry gets the original 202 (the
same ``job_id``, with the job's status as it is now). See docs/billing.md.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import TypeVar

from fastapi import Request

from api.errors import ApiError
from api.job_flow import read_job
from api.remove_request import RemovalRequest
from api.request_context import add_response_headers
from api.services import Services
from storage import idempotency
from storage.api_keys import Caller
from storage.error_codes import ErrorCode
from storage.idempotency import Claim
from storage.models import Job

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"

T = TypeVar("T")


def key_of(request: Request) -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= idempotency.MAX_KEY_LENGTH or not key.isprintable():
        raise ApiError(
            ErrorCode.INVALID_PARAMETER,
            f"Invalid parameter {HEADER}: 1 to {idempotency.MAX_KEY_LENGTH} printable characters.",
        )
    return key


def fingerprint(removal: RemovalRequest) -> bytes:
    """The body's meaning, not its bytes: a multipart retry may use another boundary."""
    image = hashlib.sha256(removal.image).hexdigest() if removal.image is not None else None
    meaning = {"image": image, "image_url": removal.image_url, "options": removal.options.to_json()}
    if removal.webhook_url is not None:  # asynchronous jobs; absent, old fingerprints still hold
        meaning["webhook_url"] = removal.webhook_url
    canonical = json.dumps(meaning, sort_keys=True)
    return hashlib.sha256(canonical.encode()).digest()


def _lock(services: Services) -> timedelta:
    """Longer than any request takes to reach acceptance (the image download dominates)."""
    return timedelta(seconds=services.settings.image_url_timeout_seconds + 30)


@asynccontextmanager
async def claimed(
    services: Services, caller: Caller, key: str, removal: RemovalRequest
) -> AsyncIterator[uuid.UUID | None]:
    """Yields None when this request owns the key, or the job id an earlier request created.

    When the block raises before a job was attached to the key, the key is released so the
    client can retry it (a refused request costs nothing and creates nothing).
    """
    async with services.sessions.begin() as session:
        begun = await session.run_sync(
            idempotency.begin,
            caller.tenant_id,
            key,
            fingerprint(removal),
            ttl=timedelta(hours=services.settings.idempotency_key_ttl_hours),
            lock=_lock(services),
        )
    if begun.claim == Claim.MISMATCH:
        raise ApiError(
            ErrorCode.IDEMPOTENCY_KEY_MISMATCH,
            f"This {HEADER} was already used with a different request body.",
        )
    if begun.claim == Claim.IN_FLIGHT:
        raise in_use()
    if begun.claim == Claim.REPLAY:
        yield begun.job_id
        return
    try:
        yield None
    except BaseException:
        async with services.sessions.begin() as session:
            await session.run_sync(idempotency.release, caller.tenant_id, key)
        raise


def in_use() -> ApiError:
    return ApiError(
        ErrorCode.IDEMPOTENCY_KEY_IN_USE,
        f"A request with this {HEADER} is still in progress; retry after it finishes.",
        headers={"Retry-After": "1"},
    )


async def at_most_once(
    request: Request,
    services: Services,
    caller: Caller,
    removal: RemovalRequest,
    submit: Callable[[str | None], Awaitable[T]],
    replay: Callable[[Job], Awaitable[T]],
) -> T:
    """``submit(key)`` for a new request (``key`` None without the header), or ``replay(job)``
    with the job an earlier request under the same key created: one job per key, whichever
    endpoint's answer the caller gets."""
    key = key_of(request)
    if key is None:
        return await submit(None)
    async with claimed(services, caller, key, removal) as earlier_job:
        if earlier_job is None:
            return await submit(key)
        return await replay(await read_job(services, earlier_job))


def mark_replayed(request: Request) -> None:
    add_response_headers(request, {REPLAYED_HEADER: "true"})
