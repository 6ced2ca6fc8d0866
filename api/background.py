"""Coroutines an API process runs beside its requests, for as long as it lives.

:class:`BackgroundTask` owns the start-and-cancel of one such coroutine; :class:`ChannelListener`
is the one kind several parts need, a Redis subscription kept alive across Redis restarts. What
arrives on a channel is a hint wherever it is used (the outcome waiter also polls the job row,
the key cache also expires its entries), so a lost connection is reported, waited out and
subscribed again, never raised.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

RESUBSCRIBE_AFTER_SECONDS = 1.0


class BackgroundTask:
    def __init__(self, run: Callable[[], Coroutine[Any, Any, None]], name: str) -> None:
        self._run = run
        self._name = name
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class ChannelListener:
    """Calls ``on_message`` with each message's data; ``on_subscribed`` after every
    (re)subscription, ``on_lost`` with the error when the connection drops."""

    def __init__(
        self,
        redis: Redis,
        channel: str,
        on_message: Callable[[bytes], None],
        *,
        name: str,
        on_lost: Callable[[Exception], None],
        on_subscribed: Callable[[], None] = lambda: None,
    ) -> None:
        self._redis = redis
        self._channel = channel
        self._on_message = on_message
        self._on_lost = on_lost
        self._on_subscribed = on_subscribed
        self._task = BackgroundTask(self._listen, name)

    async def start(self) -> None:
        self._task.start()

    async def stop(self) -> None:
        await self._task.stop()

    async def _listen(self) -> None:
        while True:
            try:
                async with self._redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self._channel)
                    self._on_subscribed()
                    async for message in pubsub.listen():
                        self._on_message(message["data"])
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as error:
                self._on_lost(error)
                await asyncio.sleep(RESUBSCRIBE_AFTER_SECONDS)
