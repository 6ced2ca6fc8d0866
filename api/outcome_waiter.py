"""Waiting for job outcomes without a thread, or a Redis connection, per waiting request.

One subscription per API process listens on the job-outcome channel and resolves the future of
whichever request waits for that job. Notifications are hints: a waiter also re-reads the job
row every ``poll_seconds``, so a notification lost to a Redis restart only delays the answer.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from api.background import ChannelListener
from storage.outcomes import Outcome

log = logging.getLogger(__name__)


class OutcomeWaiter:
    def __init__(self, redis: Redis, channel: str, poll_seconds: float = 2.0) -> None:
        self._poll_seconds = poll_seconds
        self._waiting: dict[uuid.UUID, asyncio.Future[str]] = {}
        self._listener = ChannelListener(
            redis,
            channel,
            lambda data: self._resolve(Outcome.decode(data)),
            name="outcome-listener",
            on_lost=lambda error: log.warning(
                "outcome subscription lost (%r); polling until it is back", error
            ),
        )

    async def start(self) -> None:
        await self._listener.start()

    async def stop(self) -> None:
        await self._listener.stop()

    def _resolve(self, outcome: Outcome) -> None:
        future = self._waiting.get(outcome.job_id)
        if future is not None and not future.done():
            future.set_result(outcome.status)

    def expect(self, job_id: uuid.UUID) -> None:
        """Register interest before the job is enqueued, so no notification can be missed."""
        self._waiting[job_id] = asyncio.get_running_loop().create_future()

    def forget(self, job_id: uuid.UUID) -> None:
        self._waiting.pop(job_id, None)

    async def wait(
        self, job_id: uuid.UUID, seconds: float, is_finished: Callable[[], Awaitable[bool]]
    ) -> bool:
        """True once the job finished; False when ``seconds`` passed first."""
        future = self._waiting[job_id]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        try:
            while (remaining := deadline - loop.time()) > 0:
                try:
                    await asyncio.wait_for(
                        asyncio.shield(future), min(self._poll_seconds, remaining)
                    )
                    return True
                except TimeoutError:
                    if await is_finished():
                        return True
            return False
        finally:
            self.forget(job_id)
