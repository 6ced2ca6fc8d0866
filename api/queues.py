"""How many jobs wait in each Celery queue, read straight from Redis.

Celery's Redis transport keeps a queue as a list (plus one list per priority step) under the
stack's key prefix, and records every declared queue in a ``_kombu.binding.*`` set. Reading the
lists' lengths is O(1) and needs no Celery machinery, so the API can afford it per request
(backpressure) and per scrape (``cutout_queue_depth``).
"""

from __future__ import annotations

from redis.asyncio import Redis

from storage.settings import Settings
from workers.contract import queue_name

# kombu's separator between a queue's name and its priority step, and its default steps.
_SEP = "\x06\x16"
_PRIORITY_STEPS = (3, 6, 9)


def _prefix(settings: Settings) -> str:
    return f"{settings.redis_namespace}:"


async def known_queues(redis: Redis, settings: Settings) -> list[str]:
    """The queues workers have declared on this stack's Redis, and always the default one."""
    prefix = _prefix(settings)
    queues = {queue_name(settings.redis_namespace, settings.default_queue)}
    async for key in redis.scan_iter(match=f"{prefix}_kombu.binding.*", count=100):
        for member in await redis.smembers(key):
            text = member.decode() if isinstance(member, bytes) else member
            queues.add(text.split(_SEP)[-1])
    return sorted(queues)


async def depth(redis: Redis, settings: Settings, queue: str) -> int:
    """Messages waiting (not yet taken by a worker) in ``queue``, across priority steps."""
    key = f"{_prefix(settings)}{queue}"
    async with redis.pipeline(transaction=False) as pipe:
        pipe.llen(key)
        for step in _PRIORITY_STEPS:
            pipe.llen(f"{key}{_SEP}{step}")
        lengths = await pipe.execute()
    return sum(int(length) for length in lengths)


async def depths(redis: Redis, settings: Settings) -> dict[str, int]:
    return {
        queue: await depth(redis, settings, queue) for queue in await known_queues(redis, settings)
    }
