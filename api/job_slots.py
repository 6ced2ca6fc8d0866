"""Taking and giving back concurrent-jobs slots from the API (the scheme: storage/job_slots.py).

A job takes its slot, named by its id, before it is charged, with the request's lifetime; an
asynchronous job, once recorded, extends it to the lifetime of a queued job, since the request
ends long before the job does. Like the rate limiter (and on its Redis client), the cap fails
open when Redis does not answer: admitted, and logged.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from api.errors import ApiError
from api.rate_limit import FailOpenLog
from storage.error_codes import ErrorCode
from storage.job_slots import ACQUIRE, EXTEND, members, slots_key

REDIS_DOWN = (RedisError, OSError, TimeoutError)


@dataclass(frozen=True, slots=True)
class Admission:
    admitted: bool
    free: int  # slots left free after the call (admitted), or free now (refused)


class JobSlots:
    def __init__(
        self, redis: Redis, namespace: str, request_ttl_seconds: float, job_ttl_seconds: float
    ) -> None:
        self._redis = redis
        self._acquire = redis.register_script(ACQUIRE)
        self._extend = redis.register_script(EXTEND)
        self._namespace = namespace
        self._request_ttl_ms = int(request_ttl_seconds * 1000)
        self._job_ttl_ms = int(job_ttl_seconds * 1000)
        self._fail_open = FailOpenLog("concurrent-jobs cap")

    def _key(self, tenant_id: uuid.UUID) -> str:
        return slots_key(self._namespace, tenant_id)

    async def acquire(
        self, tenant_id: uuid.UUID, cap: int, job_ids: Sequence[uuid.UUID]
    ) -> Admission:
        """One slot per job, all or none, with the request's lifetime."""
        try:
            admitted, free = await self._acquire(
                keys=[self._key(tenant_id)], args=[cap, self._request_ttl_ms, *members(job_ids)]
            )
        except REDIS_DOWN as error:
            self._fail_open.failed(error)
            return Admission(True, cap)
        return Admission(bool(admitted), int(free))

    async def extend(self, tenant_id: uuid.UUID, job_ids: Sequence[uuid.UUID]) -> None:
        """Keep recorded asynchronous jobs' slots for as long as such a job can run."""
        try:
            await self._extend(
                keys=[self._key(tenant_id)], args=[self._job_ttl_ms, *members(job_ids)]
            )
        except REDIS_DOWN as error:
            self._fail_open.failed(error)  # the slots lapse with the request's lifetime

    async def release(self, tenant_id: uuid.UUID, job_ids: Sequence[uuid.UUID]) -> None:
        if not job_ids:
            return
        try:
            await self._redis.zrem(self._key(tenant_id), *members(job_ids))
        except REDIS_DOWN as error:
            self._fail_open.failed(error)  # the slots lapse at their expiry


def too_many_jobs(cap: int, wanted: int, free: int) -> ApiError:
    """The 429 of a full cap; a batch is told how many slots are free for it."""
    if wanted == 1:
        message = f"Too many concurrent jobs; your plan runs {cap} at once."
    else:
        message = (
            f"Too many concurrent jobs for a batch of {wanted}: {free} of your plan's {cap}"
            " job slots are free. Retry when enough of your jobs have finished."
        )
    return ApiError(ErrorCode.RATE_LIMIT_EXCEEDED, message, headers={"Retry-After": "1"})
