"""Authenticated API keys, remembered per API process for a few seconds.

Without it every request pays a Postgres round trip to authenticate its key. With it, a key
seen in the last ``CUTOUT_API_KEY_CACHE_SECONDS`` is answered from memory, keyed by the key's
HMAC (the plaintext is never kept). What changes the answer is announced on Redis
(``storage/key_notices.py``) and evicted here at once:

- a revoked key (``cutout admin keys revoke``): its entry goes;
- a tenant's new plan (``cutout admin set-plan``): the tenant's entries go.

A notice can be lost (Redis down when it was published, or while this process was
reconnecting), so entries also expire after the TTL, which bounds how long a revoked key can
still be used. On every (re)subscription the whole cache is dropped, since notices may have been
missed meanwhile. Unknown keys are never cached: a flood of made-up keys costs lookups, not
memory. Balances are not cached either; they are read where they are needed.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable

from redis.asyncio import Redis

from api.background import ChannelListener
from storage import key_notices
from storage.api_keys import Caller

log = logging.getLogger(__name__)


class KeyCache:
    """Key hash → :class:`Caller`, each entry valid ``ttl`` seconds, at most ``max_entries``.

    ``generation`` moves on every eviction notice: a lookup that started before a notice must
    not store its (possibly stale) answer, see :meth:`put`.
    """

    def __init__(
        self,
        ttl: float,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[bytes, tuple[float, Caller]] = OrderedDict()
        self.generation = 0

    def get(self, key_hash: bytes) -> Caller | None:
        entry = self._entries.get(key_hash)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._entries[key_hash]
            return None
        return entry[1]

    def put(self, key_hash: bytes, caller: Caller, generation: int) -> None:
        """Remember ``caller`` unless a notice arrived since ``generation`` was read."""
        if self.ttl <= 0 or generation != self.generation:
            return
        self._entries[key_hash] = (self._clock() + self.ttl, caller)
        self._entries.move_to_end(key_hash)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)  # the oldest insertion

    def forget(self, matches: Callable[[Caller], bool]) -> None:
        self.generation += 1
        for key_hash in [h for h, (_, caller) in self._entries.items() if matches(caller)]:
            del self._entries[key_hash]

    def clear(self) -> None:
        self.generation += 1
        self._entries.clear()

    def apply(self, notice: bytes | str) -> None:
        decoded = key_notices.decode(notice)
        if decoded is None:
            self.clear()  # not understood: forgetting everything is always safe
            return
        kind, ident = decoded
        if kind == key_notices.KEY:
            self.forget(lambda caller: caller.api_key_id == ident)
        else:
            self.forget(lambda caller: caller.tenant_id == ident)


class KeyNoticeListener(ChannelListener):
    """One subscription per API process that applies key notices to its :class:`KeyCache`.

    The whole cache is dropped on every (re)subscription and on every lost connection: notices
    published meanwhile are gone.
    """

    def __init__(self, redis: Redis, channel: str, cache: KeyCache) -> None:
        super().__init__(
            redis,
            channel,
            cache.apply,
            name="key-notice-listener",
            on_subscribed=cache.clear,
            on_lost=self._lost,
        )
        self._cache = cache

    def _lost(self, error: Exception) -> None:
        log.warning("key notices lost (%r); cached keys expire within %s s", error, self._cache.ttl)
        self._cache.clear()
