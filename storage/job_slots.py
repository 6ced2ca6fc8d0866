"""The per-tenant cap on concurrent jobs: one Redis slot per job in flight, named by the job id.

A tenant's slots are the members of one sorted set, ``<namespace>:jobslots:<tenant>``, each
scored by the instant it lapses on its own. The API takes a job's slot before charging it (all
of a batch's slots at once, or none: :data:`ACQUIRE`); whichever process ends the job gives the
slot back, after the commit that ended it: the worker (succeeded or failed), the sweeper (a
stuck job failed and refunded), or the API (a job it could not enqueue, a synchronous wait that
timed out). Because the member is the job id, any of them can release it, and the release is
the same ``ZREM`` whichever endpoint accepted the job.

This module is what the API (asynchronous Redis client, api/job_slots.py) and the workers and
sweeper (synchronous client, :func:`release`) share: the key, the scripts and the lifetimes.
A slot that is never given back (its process died, Redis did not answer) lapses at its expiry,
so a lost release costs the tenant capacity for a bounded time, never for good.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable

import redis
from redis.exceptions import RedisError

from storage.settings import Settings

log = logging.getLogger(__name__)

# KEYS[1] the tenant's set; ARGV: cap, ttl in ms, then one member per job. Admits every job or
# none (a batch is never half admitted); returns {admitted (1/0), slots free after the call}.
ACQUIRE = """
local key, cap, ttl = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
local held = redis.call('ZCARD', key)
local wanted = #ARGV - 2
if held + wanted > cap then return {0, math.max(cap - held, 0)} end
for i = 3, #ARGV do redis.call('ZADD', key, now + ttl, ARGV[i]) end
if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
return {1, cap - held - wanted}
"""

# KEYS[1] the tenant's set; ARGV: ttl in ms, then members. Pushes the expiry of slots still held
# later (never earlier, never re-adding one already released or lapsed).
EXTEND = """
local key, ttl = KEYS[1], tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 2, #ARGV do redis.call('ZADD', key, 'XX', 'GT', now + ttl, ARGV[i]) end
if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
return 1
"""


def slots_key(namespace: str, tenant_id: uuid.UUID) -> str:
    return f"{namespace}:jobslots:{tenant_id}"


def members(job_ids: Iterable[uuid.UUID]) -> list[str]:
    return [str(job_id) for job_id in job_ids]


def request_ttl_seconds(settings: Settings) -> float:
    """Lifetime of a slot while the request that took it is alive.

    Every slot starts with it: it covers storing the input and charging (seconds), and for a
    synchronous job the whole wait, after which the API fails the job and gives the slot back
    itself. So only a dead API process leaves such a slot behind, and it lapses a minute after
    the longest wait, as before slots were named by jobs.
    """
    return settings.job_wait_timeout_seconds + 60


def queued_job_ttl_seconds(settings: Settings) -> float:
    """Lifetime of an asynchronous job's slot once the job is recorded: as long as it can run.

    Nobody waits for such a job, so the request's lifetime says nothing; the sweeper bounds it
    instead. A job is found stuck when it stayed queued ``stuck_job_after_seconds``, or as long
    after the lease of a dead worker (``task_time_limit_seconds`` + 5) expired; a sweep notices
    within ``sweep_interval_seconds``; after ``stuck_job_max_requeues`` re-sends the next such
    finding fails and refunds it. So with a sweeper running, a job ends within
    ``(stuck_job_max_requeues + 1)`` such rounds (defaults: 4 × 725 s ≈ 48 min), and its slot
    must not lapse before: the cap would admit jobs beyond it while this one can still run.
    The slot lapsing on its own only matters when its release was lost.
    """
    one_round = (
        settings.stuck_job_after_seconds
        + settings.task_time_limit_seconds
        + 5
        + settings.sweep_interval_seconds
    )
    return (settings.stuck_job_max_requeues + 1) * one_round


def release(
    client: redis.Redis, namespace: str, tenant_id: uuid.UUID, job_ids: Iterable[uuid.UUID]
) -> None:
    """Give finished jobs' slots back, from synchronous code (worker, sweeper).

    Best effort, like every release: when Redis does not answer, the slot lapses at its expiry.
    """
    names = members(job_ids)
    if not names:
        return
    try:
        client.zrem(slots_key(namespace, tenant_id), *names)
    except (RedisError, OSError) as error:
        log.warning("tenant %s: job slots %s left to lapse (%r)", tenant_id, names, error)
