"""The Celery application, configured for long, expensive, idempotent jobs.

Light on purpose (Celery, settings and the contract only): the API imports it to *send* tasks,
and only a worker process imports :mod:`workers.tasks` and with it the pipeline.

- ``acks_late`` + ``reject_on_worker_lost``: a job is acknowledged after it ran, so a worker that
  dies mid-job leaves the message to be redelivered instead of lost.
- ``worker_prefetch_multiplier = 1``: a worker holds no job it is not running, so a slow image
  does not strand others behind it.
- A worker that dies without acknowledging leaves its message in Redis's "unacked" set; any live
  worker puts it back in the queue once the visibility timeout has passed.
- The hard time limit stays below Redis's visibility timeout, or Redis would hand a job that is
  still running to a second worker. The job row's lease guards against that case anyway.
- Webhook deliveries and the periodic sweep go to their own queue, served by ``cutout
  dispatcher`` (which runs Celery beat for the sweep), so they never wait behind images.
"""

from __future__ import annotations

from celery import Celery

from storage.settings import Settings
from workers.contract import (
    DELIVER_WEBHOOK_TASK,
    REMOVE_BACKGROUND_TASK,
    SWEEP_TASK,
    dispatch_queue,
    queue_name,
)


def create_celery(settings: Settings) -> Celery:
    if settings.task_time_limit_seconds + 10 > settings.broker_visibility_timeout_seconds:
        raise ValueError("task_time_limit_seconds must stay 10 s below the visibility timeout")
    queue = queue_name(settings.redis_namespace, settings.default_queue)
    dispatch = dispatch_queue(settings.redis_namespace)
    app = Celery("cutout", broker=settings.redis_url, set_as_current=False)
    app.conf.update(
        broker_transport_options={
            "visibility_timeout": settings.broker_visibility_timeout_seconds,
            "global_keyprefix": f"{settings.redis_namespace}:",
            # Look for messages of dead workers every tenth of the visibility timeout (at most
            # every 10 s), not kombu's default of every ~100 s, so they come back promptly.
            "unacked_restore_interval": max(
                1, min(10, settings.broker_visibility_timeout_seconds // 10)
            ),
            "unacked_restore_throttle": 1,
        },
        broker_connection_retry_on_startup=True,
        task_default_queue=queue,
        task_routes={
            REMOVE_BACKGROUND_TASK: {"queue": queue},
            DELIVER_WEBHOOK_TASK: {"queue": dispatch},
            SWEEP_TASK: {"queue": dispatch},
        },
        beat_schedule={
            "sweep": {
                "task": SWEEP_TASK,
                "schedule": settings.sweep_interval_seconds,
                "options": {"expires": settings.sweep_interval_seconds},
            }
        },
        beat_scheduler="celery.beat:Scheduler",  # in memory: no schedule file to manage
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_time_limit=settings.task_time_limit_seconds,
        task_soft_time_limit=max(settings.task_time_limit_seconds - 5, 1),
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0.1, "interval_step": 0.2},
    )
    return app
