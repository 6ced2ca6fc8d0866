"""Per-tenant rate limits, decided atomically in Redis.

One Lua script applies two rules and records a request only when both admit it:

- a sliding-window log: at most ``limit`` requests in any rolling 60 s (exact, so 1,000 requests
  at once against 100/minute admit exactly 100);
- GCRA with a tolerance of ``burst`` requests: the same average rate, but no more than ``burst``
  at once, so a tenant cannot spend a whole minute's allowance in one instant unless its plan
  says so.

Redis's own clock is used, so API processes on several hosts agree.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass

from redis.asyncio import Redis

WINDOW_MS = 60_000

_SCRIPT = """
local window_key, gcra_key = KEYS[1], KEYS[2]
local limit, burst, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local member = ARGV[4]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = window / limit

redis.call('ZREMRANGEBYSCORE', window_key, '-inf', now - window)
local used = redis.call('ZCARD', window_key)
local window_wait = 0
if used >= limit then
  local oldest = redis.call('ZRANGE', window_key, 0, 0, 'WITHSCORES')
  window_wait = tonumber(oldest[2]) + window - now
end

local tat = tonumber(redis.call('GET', gcra_key) or now)
if tat < now then tat = now end
local gcra_wait = tat + interval - now - interval * burst
if gcra_wait < 0 then gcra_wait = 0 end

if window_wait > 0 or gcra_wait > 0 then
  return {0, math.max(window_wait, gcra_wait), limit - used}
end
redis.call('ZADD', window_key, now, member)
redis.call('PEXPIRE', window_key, window)
redis.call('SET', gcra_key, tat + interval, 'PX', math.ceil(tat + interval - now))
return {1, 0, limit - used - 1}
"""


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    retry_after_ms: int
    remaining: int

    @property
    def retry_after_seconds(self) -> int:
        return max(1, math.ceil(self.retry_after_ms / 1000))


class RateLimiter:
    def __init__(self, redis: Redis, namespace: str) -> None:
        self._script = redis.register_script(_SCRIPT)
        self._namespace = namespace

    async def hit(self, tenant_id: uuid.UUID, limit: int, burst: int) -> Decision:
        base = f"{self._namespace}:ratelimit:{tenant_id}"
        allowed, wait_ms, remaining = await self._script(
            keys=[f"{base}:window", f"{base}:gcra"],
            args=[limit, burst, WINDOW_MS, uuid.uuid4().hex],
        )
        return Decision(bool(allowed), int(wait_ms), max(int(remaining), 0))
