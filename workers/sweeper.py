"""The periodic sweep: due webhook events, stuck jobs, expired objects.

Run by Celery beat in ``cutout dispatcher`` every ``sweep_interval_seconds``, and on demand by
``cutout admin sweep``. Every step is idempotent, so two sweeps at once only duplicate messages
that the job and event leases then drop.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import astuple, dataclass
from datetime import timedelta

import redis
from sqlalchemy.orm import Session, sessionmaker

from storage import inline_inputs, job_slots, outbox, sweeps
from storage.db import transaction
from storage.objects import ObjectStore
from storage.settings import Settings
from workers.contract import DELIVER_WEBHOOK_TASK, REMOVE_BACKGROUND_TASK, job_queue

log = logging.getLogger(__name__)

# (task name, argument, queue) → the message is sent, to ``queue`` or, when None, to the
# task's default route; raises when the broker is unreachable.
Send = Callable[[str, str, str | None], None]


@dataclass(frozen=True, slots=True)
class SweepReport:
    webhooks_sent: int
    jobs_requeued: int
    jobs_failed: int
    jobs_purged: int


def send_due_webhooks(sessions: sessionmaker[Session], send: Send) -> int:
    with sessions() as session:
        due = outbox.due(session)
    for event_id in due:
        send(DELIVER_WEBHOOK_TASK, event_id, None)
    return len(due)


def repair_stuck_jobs(
    settings: Settings, sessions: sessionmaker[Session], send: Send, slots: redis.Redis
) -> sweeps.StuckJobs:
    """Re-send stuck jobs, or fail and refund them and give their concurrent-jobs slots back."""
    with transaction(sessions) as session:
        found = sweeps.stuck_jobs(
            session,
            timedelta(seconds=settings.stuck_job_after_seconds),
            settings.stuck_job_max_requeues,
        )
        failed_events = [outbox.pending_event(session, job_id) for job_id in found.failed]
    for job_id in found.requeued:
        queue = job_queue(settings, found.models.get(job_id))
        log.warning("job %s was stuck; sent to %s again", job_id, queue)
        send(REMOVE_BACKGROUND_TASK, str(job_id), queue)
    failed_by_tenant: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for job_id in found.failed:
        log.warning("job %s stayed stuck; failed and refunded", job_id)
        failed_by_tenant[found.owners[job_id]].append(job_id)
    for tenant_id, job_ids in failed_by_tenant.items():
        job_slots.release(slots, settings.redis_namespace, tenant_id, job_ids)
    for event_id in failed_events:
        if event_id:
            send(DELIVER_WEBHOOK_TASK, event_id, None)
    return found


def purge_expired(settings: Settings, sessions: sessionmaker[Session], store: ObjectStore) -> int:
    with sessions() as session:
        expired = sweeps.expired(session, timedelta(hours=settings.retention_hours))
    if not expired:
        return 0
    # Inline inputs (storage/inline_inputs.py) were deleted from Redis when their job ended.
    store.delete_many([k for job in expired for k in job.keys if not inline_inputs.is_inline(k)])
    with transaction(sessions) as session:
        sweeps.mark_purged(session, [job.id for job in expired])
    return len(expired)


def sweep(
    settings: Settings,
    sessions: sessionmaker[Session],
    store: ObjectStore,
    send: Send,
    slots: redis.Redis,
) -> SweepReport:
    stuck = repair_stuck_jobs(settings, sessions, send, slots)
    report = SweepReport(
        webhooks_sent=send_due_webhooks(sessions, send),
        jobs_requeued=len(stuck.requeued),
        jobs_failed=len(stuck.failed),
        jobs_purged=purge_expired(settings, sessions, store),
    )
    if any(astuple(report)):
        log.info("sweep: %s", report)
    return report
