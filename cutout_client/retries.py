"""When and how long to retry, with ``tenacity``.

Retried: 429 and 503 (waiting what ``Retry-After`` says, capped), 409 (the same
``Idempotency-Key`` still in flight on the server), and transport failures (the connection
dropped, the answer never came). Every retry of a call resends the call's ``Idempotency-Key``, so
the server returns the original outcome instead of charging again. Other errors (bad input, bad
key, no credits) are final: retrying them would fail the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import tenacity

from cutout_client.errors import CutoutError

RETRY_STATUSES = frozenset({409, 429, 503})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``max_retries`` retries after the first attempt; waits capped at ``max_wait`` seconds."""

    max_retries: int = 3
    initial_wait: float = 0.5
    max_wait: float = 30.0

    def is_retryable(self, error: BaseException) -> bool:
        if isinstance(error, CutoutError):
            return error.status in RETRY_STATUSES
        return isinstance(error, httpx.TransportError)

    def _backoff(self) -> tenacity.wait.wait_base:
        return tenacity.wait_random_exponential(multiplier=self.initial_wait, max=self.max_wait)

    def wait(self, state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            return min(float(retry_after), self.max_wait)
        return self._backoff()(state)

    def _options(self) -> dict[str, object]:
        return {
            "stop": tenacity.stop_after_attempt(self.max_retries + 1),
            "wait": self.wait,
            "retry": tenacity.retry_if_exception(self.is_retryable),
            "reraise": True,
        }

    def retrying(self) -> tenacity.Retrying:
        return tenacity.Retrying(**self._options())

    def async_retrying(self) -> tenacity.AsyncRetrying:
        return tenacity.AsyncRetrying(**self._options())
