"""Per-tenant rate limits, decided atomically in Redis.

One Lua script applies two rules and records a request only when both admit it:

- a sliding-window log: at most ``limit`` requests in any rolling 60 s (exact, so 1,000 requests
  at once against 100/minute admit exactly 100);
- GCRA with a tolerance of ``burst`` requests: the same average rate, but no more than ``burst``
  at once, so a tenant cannot spend a whole minute's allowance in one instant unless its plan
  says so.

Redis's own clock is used, so API processes on several hosts agree.

A refusal names the instant until which the tenant stays refused: other requests can only push
it later (each admission moves the GCRA's TAT forward and adds to the window), never earlier.
So each API process remembers "refused until" per tenant and plan, and answers the requests
that arrive before then with a 429 of its own, without asking Redis: a tenant hammering the API
past its limit costs no Redis round trip. The instant is taken from this process's clock
*before* the script ran, so it is never later than Redis's (the process asks Redis again a
little early rather than refusing a request Redis would admit). A new plan (new limits) is a
new key, so it is decided by Redis at once. When Redis cannot answer
within a short socket timeout (see :func:`limits_redis`) the limiter *fails open* (admits, and
logs it): a Redis outage must not take the service down with it. Billing never fails open;
it lives in Postgres.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from dataclasses import dataclass, replace

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

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
local window_reset = 0
if used > 0 then
  local oldest = redis.call('ZRANGE', window_key, 0, 0, 'WITHSCORES')
  window_reset = tonumber(oldest[2]) + window - now
  if used >= limit then window_wait = window_reset end
end

local tat = tonumber(redis.call('GET', gcra_key) or now)
if tat < now then tat = now end
local gcra_wait = tat + interval - now - interval * burst
if gcra_wait < 0 then gcra_wait = 0 end

if window_wait > 0 or gcra_wait > 0 then
  local burst_left = math.floor((now + interval * burst - tat) / interval)
  return {0, math.max(window_wait, gcra_wait), limit - used, window_reset, burst_left, tat - now}
end
redis.call('ZADD', window_key, now, member)
redis.call('PEXPIRE', window_key, window)
tat = tat + interval
redis.call('SET', gcra_key, tat, 'PX', math.ceil(tat - now))
if used == 0 then window_reset = window end
local burst_left = math.floor((now + interval * burst - tat) / interval)
return {1, 0, limit - used - 1, window_reset, burst_left, math.ceil(tat - now)}
"""


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    retry_after_ms: int
    limit: int
    remaining: int
    reset_ms: int
    burst: int
    burst_remaining: int
    burst_reset_ms: int
    degraded: bool = False  # Redis did not answer: admitted without counting

    def aged(self, elapsed_ms: float) -> Decision:
        """The same refusal, ``elapsed_ms`` later: every wait is that much shorter."""
        return replace(
            self,
            retry_after_ms=max(0, round(self.retry_after_ms - elapsed_ms)),
            reset_ms=max(0, round(self.reset_ms - elapsed_ms)),
            burst_reset_ms=max(0, round(self.burst_reset_ms - elapsed_ms)),
        )

    @property
    def retry_after_seconds(self) -> int:
        return max(1, math.ceil(self.retry_after_ms / 1000))

    @property
    def reset_seconds(self) -> int:
        return math.ceil(self.reset_ms / 1000)


def limits_redis(url: str, timeout_seconds: float, max_connections: int = 50) -> Redis:
    """The Redis client of the limiter and the job slots.

    Short socket timeouts make an unreachable or hung Redis fail open quickly. The pool *blocks*
    when all its connections are busy (a burst of requests), rather than raising: a busy pool is
    load, not an outage, and must not open the gates.
    """
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=5,
        socket_timeout=timeout_seconds,
        socket_connect_timeout=timeout_seconds,
    )
    return Redis(connection_pool=pool)


class FailOpenLog:
    """Logs an unreachable Redis at most once per ``every`` seconds, not once per request."""

    def __init__(self, what: str, every: float = 10.0) -> None:
        self._what = what
        self._every = every
        self._last = -math.inf

    def failed(self, error: BaseException) -> None:
        now = time.monotonic()
        if now - self._last >= self._every:
            self._last = now
            log.warning("%s: Redis unavailable (%r); failing open", self._what, error)


class RateLimiter:
    # Beyond this many remembered refusals, the expired ones are dropped (bounded memory).
    _MAX_REFUSALS = 10_000

    def __init__(self, redis: Redis, namespace: str) -> None:
        self._script = redis.register_script(_SCRIPT)
        self._namespace = namespace
        self._fail_open = FailOpenLog("rate limiter")
        # (tenant, limit, burst) -> (monotonic instant refused until, the refusal, when decided)
        self._refused: dict[tuple[uuid.UUID, int, int], tuple[float, Decision, float]] = {}

    def known_refusal(self, tenant_id: uuid.UUID, limit: int, burst: int) -> Decision | None:
        """The refusal Redis would give now, when this process knows it without asking."""
        plan = (tenant_id, limit, burst)
        refused = self._refused.get(plan)
        if refused is None:
            return None
        until, decision, decided = refused
        now = time.monotonic()
        if now >= until:
            del self._refused[plan]
            return None
        return decision.aged(1000 * (now - decided))

    async def hit(self, tenant_id: uuid.UUID, limit: int, burst: int) -> Decision:
        started = time.monotonic()
        known = self.known_refusal(tenant_id, limit, burst)
        if known is not None:
            return known
        plan = (tenant_id, limit, burst)
        base = f"{self._namespace}:ratelimit:{tenant_id}"
        try:
            allowed, wait_ms, remaining, reset_ms, burst_left, burst_reset = await self._script(
                keys=[f"{base}:window", f"{base}:gcra"],
                args=[limit, burst, WINDOW_MS, uuid.uuid4().hex],
            )
        except (RedisError, OSError, TimeoutError) as error:
            self._fail_open.failed(error)
            return Decision(True, 0, limit, limit, 0, burst, burst, 0, degraded=True)
        decision = Decision(
            allowed=bool(allowed),
            retry_after_ms=int(wait_ms),
            limit=limit,
            remaining=max(int(remaining), 0),
            reset_ms=max(int(reset_ms), 0),
            burst=burst,
            burst_remaining=min(max(int(burst_left), 0), burst),
            burst_reset_ms=max(int(burst_reset), 0),
        )
        if not decision.allowed:
            self._remember_refusal(plan, started, decision)
        return decision

    def _remember_refusal(
        self, plan: tuple[uuid.UUID, int, int], started: float, decision: Decision
    ) -> None:
        if len(self._refused) >= self._MAX_REFUSALS:
            now = time.monotonic()
            self._refused = {k: v for k, v in self._refused.items() if v[0] > now}
        self._refused[plan] = (started + decision.retry_after_ms / 1000, decision, started)
