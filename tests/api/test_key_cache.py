"""The API's key cache: how long a key is trusted, and how revocations reach every process.

The clock is a plain counter here so the TTL bound is checked exactly, with no sleeping; the
notices go through the real Redis.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.asyncio import Redis

from api.key_cache import KeyCache, KeyNoticeListener
from storage import key_notices
from storage.api_keys import Caller


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def caller(tenant: uuid.UUID | None = None) -> Caller:
    return Caller(tenant or uuid.uuid4(), uuid.uuid4(), 60, 10, 4)


def test_a_cached_key_is_trusted_for_the_ttl_and_not_a_moment_longer():
    clock = Clock()
    cache = KeyCache(ttl=5.0, clock=clock)
    alice = caller()
    cache.put(b"alice", alice, cache.generation)
    clock.now += 4.999
    assert cache.get(b"alice") == alice
    clock.now += 0.001
    assert cache.get(b"alice") is None, "after the TTL the key must be looked up again"


def test_a_key_notice_evicts_that_key_and_a_tenant_notice_all_of_its_keys():
    cache = KeyCache(ttl=60.0, clock=Clock())
    tenant = uuid.uuid4()
    first, second, other = caller(tenant), caller(tenant), caller()
    for name, who in ((b"first", first), (b"second", second), (b"other", other)):
        cache.put(name, who, cache.generation)

    cache.apply(key_notices.encode(key_notices.KEY, first.api_key_id).encode())
    assert (cache.get(b"first"), cache.get(b"second")) == (None, second)

    cache.apply(key_notices.encode(key_notices.TENANT, tenant))
    assert cache.get(b"second") is None
    assert cache.get(b"other") == other, "another tenant's key stays"


def test_a_lookup_that_started_before_a_notice_does_not_cache_its_answer():
    """The race a revocation could lose: read from Postgres, revoked and announced meanwhile."""
    cache = KeyCache(ttl=60.0, clock=Clock())
    alice = caller()
    generation = cache.generation  # the lookup starts
    cache.apply(key_notices.encode(key_notices.KEY, alice.api_key_id))  # the notice lands
    cache.put(b"alice", alice, generation)  # the lookup's (stale) answer arrives
    assert cache.get(b"alice") is None


def test_an_unreadable_notice_forgets_everything_and_a_zero_ttl_caches_nothing():
    cache = KeyCache(ttl=60.0, clock=Clock())
    cache.put(b"alice", caller(), cache.generation)
    cache.apply(b"something-new:42")
    assert cache.get(b"alice") is None

    never = KeyCache(ttl=0, clock=Clock())
    never.put(b"alice", caller(), never.generation)
    assert never.get(b"alice") is None


def test_the_cache_holds_at_most_its_bound_dropping_the_oldest():
    cache = KeyCache(ttl=60.0, max_entries=2, clock=Clock())
    for name in (b"a", b"b", b"c"):
        cache.put(name, caller(), cache.generation)
    assert cache.get(b"a") is None
    assert cache.get(b"b") is not None
    assert cache.get(b"c") is not None


@pytest.fixture
async def redis(settings):
    client = Redis.from_url(settings.redis_url)
    yield client
    await client.aclose()


async def test_an_announced_revocation_reaches_a_listening_process(redis, settings):
    """``storage.key_notices.announce`` (what ``cutout admin keys revoke`` calls) over Redis."""
    isolated = settings.model_copy(update={"redis_namespace": f"keys-{uuid.uuid4().hex[:8]}"})
    cache = KeyCache(ttl=3600.0)
    listener = KeyNoticeListener(redis, key_notices.channel(isolated), cache)
    await listener.start()
    try:
        alice, bob = caller(), caller()
        for _ in range(200):  # until subscribed: the listener then clears the cache once
            if cache.generation:
                break
            await asyncio.sleep(0.05)
        assert cache.generation == 1
        cache.put(b"alice", alice, cache.generation)
        cache.put(b"bob", bob, cache.generation)

        assert await asyncio.to_thread(
            key_notices.announce, isolated, key_notices.KEY, alice.api_key_id
        )
        for _ in range(200):
            if cache.get(b"alice") is None:
                break
            await asyncio.sleep(0.05)
        assert cache.get(b"alice") is None, "evicted by the notice, long before its 1 h TTL"
        assert cache.get(b"bob") == bob
    finally:
        await listener.stop()


def test_announcing_without_redis_says_so_and_does_not_raise(settings):
    unreachable = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    assert not key_notices.announce(unreachable, key_notices.KEY, uuid.uuid4())
