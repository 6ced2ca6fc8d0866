"""Small inputs carried to the worker in Redis, beside the job's message, instead of S3.

An S3 PUT at acceptance (and a GET in the worker) is most of the ingress cost of a small photo.
Inputs up to ``CUTOUT_INLINE_INPUT_MAX_BYTES`` are therefore written to Redis, which already
carries the job's message, under a key named in the job row's ``input_key`` (``redis:`` prefix,
so every reader knows where to look); larger ones go to S3 as before.

The key lives until the job ends, so every attempt can read it (a retry after a worker was
killed, a re-send by the sweeper); it is deleted when the job ends, and
``CUTOUT_INLINE_INPUT_TTL_SECONDS`` clears what an ended job's process could not delete. If
Redis loses it anyway (a restart without persistence, eviction, the TTL), the worker finds no
input and fails the job, which refunds it: the job never hangs and is never charged for nothing.
"""

from __future__ import annotations

import uuid

from storage.settings import Settings

PREFIX = "redis:"


def fits(settings: Settings, size: int) -> bool:
    return size <= settings.inline_input_max_bytes


def input_key(settings: Settings, job_id: uuid.UUID) -> str:
    """The job row's ``input_key`` for an inline input."""
    return f"{PREFIX}{settings.redis_namespace}:input:{job_id}"


def is_inline(key: str) -> bool:
    return key.startswith(PREFIX)


def redis_key(key: str) -> str:
    """The Redis key behind an inline ``input_key``."""
    return key.removeprefix(PREFIX)


def split(keys: list[str]) -> tuple[list[str], list[str]]:
    """``(S3 keys, Redis keys)`` of a list of input keys."""
    return [k for k in keys if not is_inline(k)], [redis_key(k) for k in keys if is_inline(k)]
