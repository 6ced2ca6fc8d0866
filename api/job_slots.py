"""The per-tenant cap on concurrent jobs, as slots held in Redis.

A request takes a slot before its job is charged and gives it back when the job has finished
(the synchronous request returns). Slots are members of a sorted set scored by their expiry, so
a slot held by an API process that died lapses on its own instead of leaking the tenant's
capacity. Like the rate limiter (and on its Redis client), the cap fails open when Redis does
not answer.
"""

from __future__ import annotations

import uuid

from redis.asyncio import Redis
from redis.exceptions import RedisError

from api.rate_limit import FailOpenLog

_ACQUIRE = """
local key, cap, ttl, member = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
if redis.call('ZCARD', key) >= cap then return 0 end
redis.call('ZADD', key, now + ttl, member)
redis.call('PEXPIRE', key, ttl)
return 1
"""


class JobSlots:
    def __init__(self, redis: Redis, namespace: str, ttl_seconds: float) -> None:
        self._redis = redis
        self._acquire = redis.register_script(_ACQUIRE)
        self._namespace = namespace
        self._ttl_ms = int(ttl_seconds * 1000)
        self._fail_open = FailOpenLog("concurrent-jobs cap")

    def _key(self, tenant_id: uuid.UUID) -> str:
        return f"{self._namespace}:jobslots:{tenant_id}"

    async def acquire(self, tenant_id: uuid.UUID, cap: int, slot: str) -> bool:
        try:
            return bool(
                await self._acquire(keys=[self._key(tenant_id)], args=[cap, self._ttl_ms, slot])
            )
        except (RedisError, OSError, TimeoutError) as error:
            self._fail_open.failed(error)
            return True

    async def release(self, tenant_id: uuid.UUID, slot: str) -> None:
        try:
            await self._redis.zrem(self._key(tenant_id), slot)
        except (RedisError, OSError, TimeoutError) as error:
            self._fail_open.failed(error)  # the slot lapses with its ttl
