"""The rate limiter and the concurrent-jobs cap against real Redis, under real concurrency."""

from __future__ import annotations

import asyncio
import logging
import uuid

import http_sf
import pytest
from redis import Redis as SyncRedis

from api.job_slots import JobSlots
from api.rate_limit import RateLimiter, limits_redis
from api.rate_limit_headers import rate_limit_headers
from storage.job_slots import release, slots_key


@pytest.fixture
async def redis(settings):
    client = limits_redis(
        settings.redis_url, timeout_seconds=settings.rate_limit_redis_timeout_seconds
    )
    yield client
    await client.aclose()


@pytest.fixture
def namespace(settings) -> str:
    return f"{settings.redis_namespace}:{uuid.uuid4().hex[:8]}"


async def test_1000_concurrent_requests_at_100_per_minute_admit_exactly_100(redis, namespace):
    limiter = RateLimiter(redis, namespace)
    tenant = uuid.uuid4()

    decisions = await asyncio.gather(*(limiter.hit(tenant, 100, 100) for _ in range(1000)))

    admitted = [d for d in decisions if d.allowed]
    refused = [d for d in decisions if not d.allowed]
    assert len(admitted) == 100
    assert len(refused) == 900
    assert sorted(d.remaining for d in admitted) == list(range(100))
    assert all(1 <= d.retry_after_seconds <= 60 for d in refused)
    assert not any(d.degraded for d in decisions)


async def test_a_burst_of_5_admits_5_at_once_out_of_a_minutes_60(redis, namespace):
    limiter = RateLimiter(redis, namespace)
    tenant = uuid.uuid4()
    decisions = [await limiter.hit(tenant, 60, 5) for _ in range(8)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False] * 3
    # one request per second refills the burst: the next is about a second away
    assert decisions[-1].retry_after_ms <= 1000
    assert decisions[4].burst_remaining == 0
    assert decisions[4].remaining == 55


async def test_tenants_do_not_share_limits(redis, namespace):
    limiter = RateLimiter(redis, namespace)
    one, two = uuid.uuid4(), uuid.uuid4()
    assert (await limiter.hit(one, 1, 1)).allowed
    assert not (await limiter.hit(one, 1, 1)).allowed
    assert (await limiter.hit(two, 1, 1)).allowed


async def test_the_limiter_fails_open_and_says_so_when_redis_is_unreachable(caplog):
    unreachable = limits_redis("redis://127.0.0.1:1/0", timeout_seconds=0.25)
    limiter = RateLimiter(unreachable, "nowhere")
    with caplog.at_level(logging.WARNING, logger="api.rate_limit"):
        decisions = [await limiter.hit(uuid.uuid4(), 1, 1) for _ in range(3)]
    await unreachable.aclose()
    assert all(d.allowed and d.degraded for d in decisions)
    warnings = [r for r in caplog.records if "failing open" in r.getMessage()]
    assert len(warnings) == 1, "logged once, not once per request"


def test_headers_follow_the_ietf_draft_as_structured_fields():
    from api.rate_limit import Decision

    headers = rate_limit_headers(Decision(True, 0, 100, 42, 30_500, 10, 3, 4_200))
    policy = http_sf.parse(headers["RateLimit-Policy"].encode(), tltype="list")
    state = http_sf.parse(headers["RateLimit"].encode(), tltype="list")
    assert policy == [("minute", {"q": 100, "w": 60}), ("burst", {"q": 10, "w": 6})]
    assert state == [("minute", {"r": 42, "t": 31}), ("burst", {"r": 3, "t": 5})]


def ids(count: int) -> list[uuid.UUID]:
    return [uuid.uuid4() for _ in range(count)]


async def test_the_concurrent_jobs_cap_holds_slots_until_released(redis, namespace):
    slots = JobSlots(redis, namespace, 60, 60)
    tenant = uuid.uuid4()
    jobs = ids(20)
    taken = await asyncio.gather(*(slots.acquire(tenant, 3, [job]) for job in jobs))
    assert sum(a.admitted for a in taken) == 3
    winner = next(job for job, a in zip(jobs, taken, strict=True) if a.admitted)
    await slots.release(tenant, [winner])
    assert (await slots.acquire(tenant, 3, ids(1))).admitted
    refused = await slots.acquire(tenant, 3, ids(1))
    assert not refused.admitted
    assert refused.free == 0


async def test_a_batch_takes_all_its_slots_or_none_under_concurrency(redis, namespace):
    """Ten batches of 2 race for a cap of 5: exactly two are admitted, never half of one."""
    slots = JobSlots(redis, namespace, 60, 60)
    tenant = uuid.uuid4()
    decisions = await asyncio.gather(*(slots.acquire(tenant, 5, ids(2)) for _ in range(10)))
    assert sum(d.admitted for d in decisions) == 2
    assert await redis.zcard(slots_key(namespace, tenant)) == 4
    assert {d.free for d in decisions if not d.admitted} == {1}, "refusals say what is free"
    one_more = await slots.acquire(tenant, 5, ids(1))
    assert one_more.admitted
    assert one_more.free == 0


async def test_a_slot_whose_holder_died_lapses(redis, namespace):
    slots = JobSlots(redis, namespace, request_ttl_seconds=0.05, job_ttl_seconds=60)
    tenant = uuid.uuid4()
    assert (await slots.acquire(tenant, 1, ids(1))).admitted
    await asyncio.sleep(0.1)
    assert (await slots.acquire(tenant, 1, ids(1))).admitted


async def test_a_recorded_async_jobs_slot_outlives_the_request_and_a_release_is_final(
    redis, namespace
):
    slots = JobSlots(redis, namespace, request_ttl_seconds=0.05, job_ttl_seconds=60)
    tenant = uuid.uuid4()
    (queued,) = ids(1)
    assert (await slots.acquire(tenant, 1, [queued])).admitted
    await slots.extend(tenant, [queued])
    await asyncio.sleep(0.1)
    assert not (await slots.acquire(tenant, 1, ids(1))).admitted, "still held by the queued job"
    assert await redis.pttl(slots_key(namespace, tenant)) > 50_000

    await slots.release(tenant, [queued])
    await slots.extend(tenant, [queued])  # a late extension does not bring it back
    assert (await slots.acquire(tenant, 1, ids(1))).admitted


async def test_a_worker_gives_back_a_slot_the_api_took(redis, namespace, settings):
    """The API's asynchronous client and a worker's synchronous one share the key scheme."""
    slots = JobSlots(redis, namespace, 60, 60)
    tenant = uuid.uuid4()
    (job,) = ids(1)
    assert (await slots.acquire(tenant, 1, [job])).admitted
    worker_redis = SyncRedis.from_url(settings.redis_url)
    try:
        release(worker_redis, namespace, tenant, [job])
    finally:
        worker_redis.close()
    assert (await slots.acquire(tenant, 1, ids(1))).admitted


async def test_the_cap_fails_open_when_redis_is_unreachable():
    unreachable = limits_redis("redis://127.0.0.1:1/0", timeout_seconds=0.25)
    slots = JobSlots(unreachable, "nowhere", 60, 60)
    tenant = uuid.uuid4()
    try:
        assert all([(await slots.acquire(tenant, 1, ids(1))).admitted for _ in range(3)])
        await slots.extend(tenant, ids(1))
        await slots.release(tenant, ids(1))
    finally:
        await unreachable.aclose()


async def test_a_known_refusal_is_answered_without_redis_until_redis_would_admit(redis, namespace):
    """After a refusal, the process answers 429s itself; the first admission Redis would give
    is not refused: the remembered instant is never later than Redis's."""
    limiter = RateLimiter(redis, namespace)
    tenant = uuid.uuid4()
    assert (await limiter.hit(tenant, 600, 1)).allowed  # one every 100 ms, no burst
    refused = await limiter.hit(tenant, 600, 1)
    assert not refused.allowed
    assert limiter.known_refusal(tenant, 600, 1) is not None

    # Redis forgets the tenant; this process still knows it is refused (no Redis asked) ...
    await redis.delete(
        f"{namespace}:ratelimit:{tenant}:window", f"{namespace}:ratelimit:{tenant}:gcra"
    )
    again = await limiter.hit(tenant, 600, 1)
    assert not again.allowed
    assert again.retry_after_ms <= refused.retry_after_ms
    # ... while another process, which never saw the refusal, asks Redis and is admitted.
    assert (await RateLimiter(redis, namespace).hit(tenant, 600, 1)).allowed

    await asyncio.sleep(refused.retry_after_ms / 1000 + 0.15)
    assert limiter.known_refusal(tenant, 600, 1) is None
    assert (await limiter.hit(tenant, 600, 1)).allowed, "admitted once Redis admits"


async def test_a_new_plan_is_decided_by_redis_at_once(redis, namespace):
    limiter = RateLimiter(redis, namespace)
    tenant = uuid.uuid4()
    assert (await limiter.hit(tenant, 600, 1)).allowed
    assert not (await limiter.hit(tenant, 600, 1)).allowed
    # A larger burst admits at once in Redis; the old plan's remembered refusal must not apply.
    assert (await limiter.hit(tenant, 600, 5)).allowed
