"""Processing one job: claim it, run the pipeline, record exactly one outcome.

The job row decides what happens, not the Celery message: a duplicate message finds the job
claimed or finished and does nothing; a job whose worker died is claimed again once its lease
expires; after ``job_max_attempts`` claims it is failed and refunded. Success and
failure-with-refund are each one transaction, so a job can never end with both or neither.
The attempt that ends the job gives its tenant's concurrent-jobs slot back after that commit
(storage/job_slots.py), whichever endpoint accepted it.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from enum import StrEnum

from storage import inline_inputs, job_slots, jobs, logs, outbox
from storage.db import transaction
from storage.error_codes import ErrorCode
from storage.image_probe import ImageRejected
from storage.models import JobStatus
from storage.objects import PNG, result_key
from storage.outcomes import Outcome, channel
from workers import metrics
from workers.contract import DELIVER_WEBHOOK_TASK, JobOptions
from workers.models.registry import ModelNotFound
from workers.pipeline.run import StageTimes, run_pipeline
from workers.runtime import WorkerRuntime

log = logging.getLogger(__name__)


class Disposition(StrEnum):
    """What became of a delivery of the job's message."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DUPLICATE = "duplicate"  # the job had already finished


def lease_for(runtime: WorkerRuntime) -> timedelta:
    """Long enough for the slowest allowed run; shorter than Redis's redelivery delay."""
    return timedelta(seconds=runtime.settings.task_time_limit_seconds + 5)


class LeaseHeld(Exception):
    """The job runs under another attempt's live lease: look again once it has expired.

    This is how a job survives a worker killed mid-run (OOM, SIGKILL): Celery redelivers the
    message at once (``reject_on_worker_lost``), but the dead attempt's lease still looks live.
    Dropping the message would strand the job in ``running``; running it would risk two
    attempts at once. Retrying after the lease settles it: by then the job either finished (the
    retry drops it) or its lease lapsed (the retry claims it).
    """

    def __init__(self, job_id: uuid.UUID, seconds_left: float) -> None:
        super().__init__(f"job {job_id} is leased for another {seconds_left:.1f} s")
        self.seconds_left = seconds_left


def process_job(job_id: uuid.UUID, runtime: WorkerRuntime) -> Disposition:
    with transaction(runtime.sessions) as session:
        claimed = jobs.claim(session, job_id, lease_for(runtime))
        seconds_left = jobs.lease_left(session, job_id) if claimed is None else None
    if seconds_left is not None:
        raise LeaseHeld(job_id, float(seconds_left))
    if claimed is None:
        log.info("job %s: already finished; message dropped", job_id)
        forget_inline_input(runtime, job_id)
        return Disposition.DUPLICATE
    with logs.bound(request_id=claimed.request_id):
        return _run(claimed, runtime)


def read_input(runtime: WorkerRuntime, key: str) -> bytes | None:
    """The job's input, from S3 or (when small) Redis; None when Redis no longer has it."""
    if inline_inputs.is_inline(key):
        return runtime.redis.get(inline_inputs.redis_key(key))
    return runtime.store.get(key)


def forget_inline_input(runtime: WorkerRuntime, job_id: uuid.UUID) -> None:
    """Best effort: what is left behind expires with its TTL."""
    key = inline_inputs.redis_key(inline_inputs.input_key(runtime.settings, job_id))
    try:
        runtime.redis.delete(key)
    except Exception:
        log.warning("job %s: inline input left to its TTL", job_id, exc_info=True)


def _run(claimed: jobs.ClaimedJob, runtime: WorkerRuntime) -> Disposition:
    job_id = claimed.id
    if claimed.attempts > runtime.settings.job_max_attempts:
        return fail(
            job_id,
            runtime,
            ErrorCode.INTERNAL_ERROR,
            f"The job did not complete after {runtime.settings.job_max_attempts} attempts.",
        )

    times = StageTimes()
    try:
        with times.stage("download"):
            data = read_input(runtime, claimed.input_key)
        if data is None:
            log.error("job %s: its input is no longer in Redis; failing it", job_id)
            return fail(
                job_id,
                runtime,
                ErrorCode.INTERNAL_ERROR,
                "The image was lost before it could be processed; the job was refunded.",
            )
        options = JobOptions.from_json(claimed.options)
        segmenter = runtime.segmenter_for(options.model)
        with runtime.job_threads(segmenter) as narrow:
            removal = run_pipeline(
                data,
                options,
                segmenter,
                times,
                refine_edges=runtime.settings.refine_edges,
                compact_png=runtime.settings.png_encoder == "compact",
                narrow=narrow,
            )
        key = result_key(claimed.tenant_id, job_id)
        with times.stage("upload"):
            runtime.store.put(key, removal.png, PNG)
    except ImageRejected as rejected:
        return fail(job_id, runtime, rejected.code, rejected.message)
    except ModelNotFound as missing:
        log.error("job %s: %s", job_id, missing)
        return fail(
            job_id,
            runtime,
            ErrorCode.INVALID_PARAMETER,
            "Invalid parameter model: that model is not installed on this server.",
        )

    metrics.observe_stages(times.seconds)
    with transaction(runtime.sessions) as session:
        light = removal.shadow.to_json() if removal.shadow else None
        recorded = jobs.succeed(session, job_id, key, shadow_light=light)
        event_id = outbox.pending_event(session, job_id) if recorded else None
    log.info(
        "job %s succeeded (attempt %d, %s) %s",
        job_id,
        claimed.attempts,
        "one thread: other jobs running" if narrow else "all its threads",
        " ".join(f"{stage}={seconds * 1000:.0f}ms" for stage, seconds in times.seconds.items()),
    )
    forget_inline_input(runtime, job_id)
    if not recorded:
        return Disposition.DUPLICATE
    free_slot(runtime, claimed.tenant_id, job_id)
    publish(runtime, job_id, JobStatus.SUCCEEDED, event_id)
    return Disposition.SUCCEEDED


def fail(job_id: uuid.UUID, runtime: WorkerRuntime, code: ErrorCode, message: str) -> Disposition:
    """End the job as failed and refund it; harmless when it already ended."""
    with transaction(runtime.sessions) as session:
        failed = jobs.end_failed(session, job_id, code, message)
        event_id = outbox.pending_event(session, job_id) if failed is not None else None
    forget_inline_input(runtime, job_id)  # the job has ended, whichever way
    if failed is None:
        return Disposition.DUPLICATE
    free_slot(runtime, failed.tenant_id, job_id)
    log.info("job %s failed with %s; %d credits refunded", job_id, code, failed.refunded)
    publish(runtime, job_id, JobStatus.FAILED, event_id)
    return Disposition.FAILED


def free_slot(runtime: WorkerRuntime, tenant_id: uuid.UUID, job_id: uuid.UUID) -> None:
    """The job ended: its tenant may run another (best effort; else the slot lapses)."""
    job_slots.release(runtime.redis, runtime.settings.redis_namespace, tenant_id, [job_id])


def release(job_id: uuid.UUID, runtime: WorkerRuntime) -> None:
    """Give the lease back so a retry of this message can claim the job at once."""
    with transaction(runtime.sessions) as session:
        jobs.release(session, job_id)


def publish(
    runtime: WorkerRuntime, job_id: uuid.UUID, status: JobStatus, event_id: str | None
) -> None:
    """Best effort: waiters also poll Postgres, and the sweep finds undelivered webhook events,
    so a lost notification only costs latency."""
    try:
        runtime.redis.publish(channel(runtime.settings), Outcome(job_id, status).encode())
    except Exception:
        log.warning("job %s: outcome notification not published", job_id, exc_info=True)
    if event_id is not None:
        try:
            runtime.celery.send_task(DELIVER_WEBHOOK_TASK, args=[event_id])
        except Exception:
            log.warning("job %s: webhook %s left to the sweep", job_id, event_id, exc_info=True)
