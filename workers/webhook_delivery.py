"""Delivering one outbox event: claim, sign, POST, record — each attempt, whatever happens.

Delivery is at least once: a dispatcher that dies between the POST and the record leaves the
event leased; once the lease expires the sweep hands the *same* event (same ``webhook-id``,
same body) to another dispatcher, and receivers deduplicate on ``webhook-id``.
"""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from storage import logs, outbox, webhook_secrets
from storage.db import transaction
from storage.models import EventStatus
from storage.retry_schedule import RetryPolicy
from storage.settings import Settings
from storage.webhook_signing import signed_headers
from workers.webhook_http import Poster, Refused

log = logging.getLogger(__name__)

MAX_ERROR_CHARS = 500


@dataclass(frozen=True, slots=True)
class Delivery:
    """What became of one call of :func:`deliver`."""

    status: EventStatus | None  # None: not due, or another dispatcher holds it
    next_attempt_at: datetime | None = None


@dataclass
class Dispatcher:
    settings: Settings
    sessions: sessionmaker[Session]
    post: Poster
    rng: random.Random = field(default_factory=random.Random)

    @property
    def lease(self) -> timedelta:
        """Longer than one attempt can take; a dead dispatcher's event is free after it."""
        return timedelta(seconds=self.settings.webhook_timeout_seconds + 5)

    def deliver(self, event_id: str) -> Delivery:
        """One attempt, logged (and sent, as ``X-Request-ID``) under the job's request id."""
        with transaction(self.sessions) as session:
            request_id, job_id = outbox.origin(session, event_id)
        with logs.bound(request_id=request_id, job_id=job_id):
            return self._attempt(event_id, request_id)

    def _attempt(self, event_id: str, request_id: str | None) -> Delivery:
        with transaction(self.sessions) as session:
            event = outbox.claim(session, event_id, self.lease)
            if event is None:
                return Delivery(None)
            if outbox.stop_if_disabled(session, event):
                log.info("webhook %s not sent: %s is disabled", event_id, event.url)
                return Delivery(EventStatus.DISABLED)
            secrets = [row.secret for row in webhook_secrets.active(session, event.tenant_id)]

        body = json.dumps(event.payload, separators=(",", ":"), sort_keys=True)
        headers = signed_headers(secrets, event.id, datetime.now(UTC), body)
        if request_id:
            headers = {**headers, "X-Request-ID": request_id}
        status_code: int | None = None
        error: str | None = None
        retry = True
        started = time.monotonic()
        try:
            status_code = self.post(event.url, body.encode(), headers)
        except Refused as refused:  # a forbidden destination stays forbidden
            error, retry = f"Refused: {refused}"[:MAX_ERROR_CHARS], False
        except Exception as exc:  # every other failure is an attempt to record, then retry
            error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]
        duration_ms = round((time.monotonic() - started) * 1000)

        succeeded = status_code is not None and 200 <= status_code < 300
        next_at = None
        if retry and not succeeded and status_code != 410:
            next_at = RetryPolicy.from_settings(self.settings).next_attempt(
                event.created_at, datetime.now(UTC), event.attempt, self.rng
            )
        with transaction(self.sessions) as session:
            status = outbox.finish_attempt(
                session,
                event,
                duration_ms=duration_ms,
                status_code=status_code,
                error=error,
                next_attempt_at=next_at,
            )
        log.info(
            "webhook %s attempt %d → %s (%s) %d ms",
            event_id,
            event.attempt,
            status_code or error,
            status,
            duration_ms,
        )
        return Delivery(status, next_at if status == EventStatus.PENDING else None)
