"""When to try a webhook again: exponential backoff with jitter, over a fixed window.

The n-th retry waits ``base * factor**(n-1)`` seconds (capped at ``max_delay``), scaled by a random
factor in [0.8, 1.2] so endpoints recovering from an outage are not hit by every event at once.
Retries stop at the end of the window (24 h by default): the last one is placed exactly there, so
the schedule always covers the whole window however the delays fall.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from storage.settings import Settings

JITTER = 0.2


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_seconds: float
    factor: float
    max_delay_seconds: float
    window_seconds: float

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(
            base_seconds=settings.webhook_retry_base_seconds,
            factor=settings.webhook_retry_factor,
            max_delay_seconds=settings.webhook_retry_max_delay_seconds,
            window_seconds=settings.webhook_retry_window_seconds,
        )

    def delay(self, failed_attempts: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after ``failed_attempts`` (≥ 1) attempts failed, jitter included."""
        nominal = min(
            self.base_seconds * self.factor ** (failed_attempts - 1), self.max_delay_seconds
        )
        return nominal * (rng or random).uniform(1 - JITTER, 1 + JITTER)

    def next_attempt(
        self,
        first_attempt: datetime,
        now: datetime,
        failed_attempts: int,
        rng: random.Random | None = None,
    ) -> datetime | None:
        """When to try again, or None once the window is over."""
        deadline = first_attempt + timedelta(seconds=self.window_seconds)
        if now >= deadline:
            return None
        return min(now + timedelta(seconds=self.delay(failed_attempts, rng)), deadline)
