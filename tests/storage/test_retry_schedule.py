"""The webhook retry schedule: exponential, jittered, and covering the whole 24 h window."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from storage.retry_schedule import JITTER, RetryPolicy
from storage.settings import Settings

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_default_schedule_retries_with_growing_delays_until_24_hours_after_the_event():
    policy = RetryPolicy.from_settings(Settings())
    rng = random.Random(7)
    now, attempts, delays = T0, 1, []
    while (next_at := policy.next_attempt(T0, now, attempts, rng)) is not None:
        delays.append((next_at - now).total_seconds())
        now, attempts = next_at, attempts + 1

    assert now == T0 + timedelta(hours=24), "the last attempt falls at the end of the window"
    assert 8 <= attempts <= 16
    first_delays = delays[:6]
    assert first_delays == sorted(first_delays), "backoff grows"
    assert delays[0] < 10
    assert delays[5] > 1000
    assert max(delays) <= 6 * 3600 * (1 + JITTER)


def test_jitter_spreads_delays_within_twenty_percent():
    policy = RetryPolicy(base_seconds=10, factor=2, max_delay_seconds=1000, window_seconds=10**6)
    rng = random.Random(1)
    third = [policy.delay(3, rng) for _ in range(500)]
    assert min(third) >= 40 * (1 - JITTER)
    assert max(third) <= 40 * (1 + JITTER)
    assert max(third) - min(third) > 10, "delays differ from one event to the next"
    assert max(policy.delay(30, rng) for _ in range(100)) <= 1000 * (1 + JITTER)


def test_no_retry_once_the_window_is_over():
    policy = RetryPolicy(base_seconds=1, factor=2, max_delay_seconds=60, window_seconds=3600)
    assert policy.next_attempt(T0, T0 + timedelta(hours=1), 12) is None
    last = policy.next_attempt(T0, T0 + timedelta(minutes=59, seconds=30), 12)
    assert last == T0 + timedelta(hours=1)
