"""Celery tasks: thin wrappers that map failures onto the job's lifecycle.

- An input we cannot use (``ImageRejected``) fails the job and refunds it (inside process_job).
- A transient fault (S3, Redis or Postgres unreachable) gives the lease back and retries the
  message with exponential backoff; the job row counts attempts and gives up after the limit.
- Running out of time fails the job with ``timeout``; any other exception is a bug: the job is
  failed with ``internal_error`` and refunded rather than retried forever.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from functools import cache

from botocore.exceptions import BotoCoreError, ClientError
from celery import Task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import (
    setup_logging,
    worker_init,
    worker_process_init,
    worker_process_shutdown,
    worker_ready,
    worker_shutting_down,
)
from prometheus_client import multiprocess as prometheus_multiprocess
from redis.exceptions import RedisError
from sqlalchemy.exc import OperationalError

from storage import logs, metrics_dir
from storage.error_codes import ErrorCode
from storage.heartbeats import Heartbeat
from storage.settings import get_settings
from workers import metrics, monitor
from workers.celery_app import create_celery
from workers.contract import REMOVE_BACKGROUND_TASK
from workers.heap import reuse_freed_heap
from workers.jobs import LeaseHeld, fail, process_job, release
from workers.placement import Placement, place_worker
from workers.runtime import WorkerRuntime

log = logging.getLogger(__name__)

TRANSIENT_ERRORS = (BotoCoreError, ClientError, RedisError, OperationalError, ConnectionError)

app = create_celery(get_settings())


@cache
def placement() -> Placement:
    import onnxruntime

    settings = get_settings()
    return place_worker(settings, settings.worker_gpu, onnxruntime.get_available_providers())


@cache
def runtime() -> WorkerRuntime:
    where = placement()
    return WorkerRuntime(get_settings(), device_id=where.device_id, providers=where.providers)


@setup_logging.connect
def _keep_our_logging(**_: object) -> None:
    """Connected so Celery leaves logging alone: ``cutout worker`` configured it already."""
    settings = get_settings()
    logs.configure(settings.log_level, settings.log_format)


_state: monitor.WorkerState | None = None
_heartbeat: Heartbeat | None = None


@worker_init.connect
def _start_monitor(sender: object = None, **_: object) -> None:
    """In the parent, before the pool starts: metrics, health and readiness over HTTP."""
    global _state
    settings = get_settings()
    if not metrics_dir.enabled():
        log.warning("PROMETHEUS_MULTIPROC_DIR unset: pool processes' metrics are not served")
    _state = monitor.WorkerState(settings, pool_size=getattr(sender, "concurrency", 1) or 1)
    if settings.worker_metrics_port:
        monitor.serve(_state, settings.worker_metrics_port)


@worker_ready.connect
def _consuming(**_: object) -> None:
    if _state is not None:
        _state.consuming = True


@worker_shutting_down.connect
def _draining(**_: object) -> None:
    if _state is not None:
        _state.shutting_down = True
    log.info("worker shutting down: finishing the current job, taking no new one")


@worker_process_init.connect
def _load_model_before_first_job(**_: object) -> None:
    global _heartbeat
    reuse_freed_heap()  # before the model and the first job allocate
    rt = runtime()
    rt.limit_threads()
    segmenter = rt.segmenter
    provider = segmenter.providers[0]
    metrics.model_loaded(segmenter.spec.name, provider, rt.model_load_seconds)
    _heartbeat = Heartbeat(
        host=socket.gethostname(),
        pid=os.getpid(),
        parent_pid=os.getppid(),
        model=segmenter.spec.name,
        provider=provider,
        model_load_seconds=round(rt.model_load_seconds, 3),
    )
    monitor.start_heartbeat(rt.settings, _heartbeat)


@worker_process_shutdown.connect
def _process_gone(**_: object) -> None:
    if _heartbeat is not None:
        monitor.clear_heartbeat(get_settings(), _heartbeat)
    if metrics_dir.enabled():
        prometheus_multiprocess.mark_process_dead(os.getpid())


def retry_delay(retries: int) -> float:
    return min(2.0**retries, 30.0)


@app.task(name=REMOVE_BACKGROUND_TASK, bind=True, max_retries=20)
def remove_background(self: Task, job_id: str) -> str:
    job = uuid.UUID(job_id)
    rt = runtime()
    with logs.bound(job_id=job_id):
        return _run_task(self, job, rt)


def _run_task(self: Task, job: uuid.UUID, rt: WorkerRuntime) -> str:
    try:
        return process_job(job, rt)
    except LeaseHeld as held:
        log.info(
            "job %s: leased for another %.1f s; looking again after it", job, held.seconds_left
        )
        raise self.retry(countdown=held.seconds_left + 1) from held
    except SoftTimeLimitExceeded:
        return fail(job, rt, ErrorCode.TIMEOUT, "The image took too long to process.")
    except TRANSIENT_ERRORS as exc:
        log.warning("job %s: transient failure, retrying: %r", job, exc)
        try:
            release(job, rt)
        except TRANSIENT_ERRORS:
            log.warning("job %s: lease not released; it expires on its own", job)
        raise self.retry(exc=exc, countdown=retry_delay(self.request.retries)) from exc
    except Exception:
        log.exception("job %s: unexpected failure", job)
        return fail(job, rt, ErrorCode.INTERNAL_ERROR, "The image could not be processed.")
