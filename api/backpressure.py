"""Backpressure: refuse new jobs while their queue is deeper than the configured bound.

Checked before the input is stored or anything is debited, so a refused request costs the caller
nothing and costs us one Redis round trip. The answer is 503 ``service_overloaded`` with
``Retry-After``; clients that honour it spread their retries while the workers catch up.
"""

from __future__ import annotations

import logging

from api import queues
from api.errors import ApiError
from api.services import Services
from storage.error_codes import ErrorCode

log = logging.getLogger(__name__)


async def refuse_when_overloaded(services: Services, queue: str) -> None:
    settings = services.settings
    if not settings.max_queue_depth:
        return
    waiting = await queues.depth(services.redis, settings, queue)
    if waiting >= settings.max_queue_depth:
        log.warning(
            "queue %s holds %d jobs (bound %d): refusing", queue, waiting, settings.max_queue_depth
        )
        raise ApiError(
            ErrorCode.SERVICE_OVERLOADED,
            "The service is overloaded; nothing was charged. Retry after the Retry-After delay.",
            headers={"Retry-After": str(settings.overload_retry_after_seconds)},
        )
