"""Small background chores of an API process, kept off the request path.

- ``last_used_at`` of API keys: requests only note the time in memory (a dict write); one batched
  UPDATE every ``key_usage_flush_seconds`` writes them all, and a final flush runs at shutdown.
  A request never waits for, or fails because of, this bookkeeping.
- Expired ``Idempotency-Key`` rows are purged once an hour.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker

from api.background import BackgroundTask
from storage import api_keys, idempotency

log = logging.getLogger(__name__)

PURGE_EVERY = timedelta(hours=1)


class KeyUsage:
    """The last use of each key seen since the previous flush."""

    def __init__(self) -> None:
        self._pending: dict[uuid.UUID, datetime] = {}

    def touch(self, key_id: uuid.UUID) -> None:
        self._pending[key_id] = datetime.now(UTC)

    def drain(self) -> dict[uuid.UUID, datetime]:
        pending, self._pending = self._pending, {}
        return pending

    def restore(self, pending: dict[uuid.UUID, datetime]) -> None:
        """Put back what a failed flush could not write, keeping newer uses."""
        for key_id, at in pending.items():
            self._pending[key_id] = max(at, self._pending.get(key_id, at))


class Housekeeping:
    def __init__(
        self,
        sessions: async_sessionmaker,
        usage: KeyUsage,
        flush_seconds: float,
        idempotency_ttl: timedelta,
    ) -> None:
        self._sessions = sessions
        self.usage = usage
        self._flush_seconds = flush_seconds
        self._idempotency_ttl = idempotency_ttl
        self._task = BackgroundTask(self._loop, "housekeeping")

    def start(self) -> None:
        self._task.start()

    async def stop(self) -> None:
        await self._task.stop()
        await self.flush_key_usage()

    async def flush_key_usage(self) -> None:
        pending = self.usage.drain()
        if not pending:
            return
        try:
            async with self._sessions.begin() as session:
                await session.run_sync(api_keys.record_last_used, pending)
        except Exception:
            self.usage.restore(pending)
            log.warning("last_used_at of %d keys not written; will retry", len(pending))

    async def purge_idempotency_keys(self) -> None:
        try:
            async with self._sessions.begin() as session:
                purged = await session.run_sync(idempotency.purge_expired, self._idempotency_ttl)
        except Exception:
            log.warning("expired idempotency keys not purged", exc_info=True)
            return
        if purged:
            log.info("purged %d expired idempotency keys", purged)

    async def _loop(self) -> None:
        next_purge = 0.0
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._flush_seconds)
            await self.flush_key_usage()
            if loop.time() >= next_purge:
                next_purge = loop.time() + PURGE_EVERY.total_seconds()
                await self.purge_idempotency_keys()
