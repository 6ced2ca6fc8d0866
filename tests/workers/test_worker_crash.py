"""A worker process SIGKILLed in the middle of a job: the job still ends exactly once.

A real Celery worker (its own Redis namespace and short time limits) takes a large photo; as
soon as the job row says ``running``, the pool process running it is killed with SIGKILL, as
the kernel's OOM killer would. Celery redelivers the message (``acks_late`` +
``reject_on_worker_lost``), the redelivery waits out the dead attempt's lease, claims the job
again and finishes it. Whatever the timing, the job must end succeeded-and-charged or
failed-and-refunded: never both, never neither.
"""

from __future__ import annotations

import io
import os
import signal
import time
import uuid
from pathlib import Path

import pytest
import redis
from PIL import Image
from sqlalchemy import text

from cutout import devstack
from storage import inline_inputs, jobs
from storage.db import transaction
from storage.models import JobStatus
from storage.objects import input_key
from tests.images import rgba, sample
from workers.celery_app import create_celery
from workers.contract import REMOVE_BACKGROUND_TASK, JobOptions


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # the command may contain spaces; the parent pid is the 2nd field after ")"
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


@pytest.fixture
def crash_env(stack_env) -> dict[str, str]:
    return {
        **stack_env,
        "CUTOUT_REDIS_NAMESPACE": f"{stack_env['CUTOUT_REDIS_NAMESPACE']}-crash",
        "CUTOUT_TASK_TIME_LIMIT_SECONDS": "20",  # lease = 25 s
        "CUTOUT_BROKER_VISIBILITY_TIMEOUT_SECONDS": "30",
    }


@pytest.fixture
def crash_worker(database, store, crash_env, run_dir):
    log = run_dir / f"crash-worker-{uuid.uuid4().hex[:6]}.log"
    process = devstack.spawn(devstack.worker_argv(), crash_env, log)
    devstack.wait_until(lambda: devstack.worker_ready(log), 180, "crash worker", process)
    yield process
    devstack.stop(process)


def large_photo() -> bytes:
    """A big input, so that the job is still running when we kill it."""
    photo = Image.open(io.BytesIO(sample("coffee.jpg"))).resize((3600, 2400))
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def ledger_kinds(sessions, job_id: uuid.UUID) -> list[str]:
    with sessions() as session:
        return list(
            session.execute(
                text("SELECT kind FROM ledger_entries WHERE job_id = :j ORDER BY id"),
                {"j": job_id},
            ).scalars()
        )


@pytest.mark.parametrize("input_in", ["s3", "redis"])
def test_a_worker_killed_mid_job_leaves_it_charged_with_a_result_or_refunded(
    input_in, crash_worker, crash_env, settings, sessions, store, make_tenant, balance_of
):
    """With the input in S3, or in Redis as the API keeps small ones (storage/inline_inputs.py):
    the retry must find it there too."""
    tenant = make_tenant(credits=5)
    job_id = uuid.uuid4()
    sender = settings.model_copy(update={"redis_namespace": crash_env["CUTOUT_REDIS_NAMESPACE"]})
    inputs = redis.Redis.from_url(settings.redis_url)
    if input_in == "s3":
        key = input_key(tenant.id, job_id)
        store.put(key, large_photo())
    else:
        key = inline_inputs.input_key(sender, job_id)
        inputs.set(inline_inputs.redis_key(key), large_photo(), ex=600)
    with transaction(sessions) as session:
        jobs.create_and_debit(
            session, jobs.NewJob(job_id, tenant.id, None, 1, JobOptions().to_json(), key)
        )
    create_celery(sender).send_task(REMOVE_BACKGROUND_TASK, args=[str(job_id)])

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with sessions() as session:
            status = jobs.get(session, job_id).status
        if status != JobStatus.QUEUED:
            break
        time.sleep(0.02)
    assert status == JobStatus.RUNNING, "the worker took the job"
    (pool_process,) = children_of(crash_worker.pid)
    os.kill(pool_process, signal.SIGKILL)

    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        with sessions() as session:
            job = jobs.get(session, job_id)
        if job.status in (JobStatus.SUCCEEDED, JobStatus.FAILED):
            break
        time.sleep(0.2)

    assert job.status in (JobStatus.SUCCEEDED, JobStatus.FAILED), "never lost"
    assert job.attempts >= 2, "the killed attempt was followed by another"
    kinds = ledger_kinds(sessions, job_id)
    if job.status == JobStatus.SUCCEEDED:
        assert kinds == ["debit"], "charged once, not refunded"
        assert balance_of(tenant.id) == 4
        out = rgba(store.get(job.result_key))
        assert out.shape == (2400, 3600, 4)
        assert out[..., 3].min() == 0
        assert out[..., 3].max() == 255
    else:
        assert kinds == ["debit", "refund"], "refunded once"
        assert job.result_key is None
        assert balance_of(tenant.id) == 5
    if input_in == "redis":
        assert inputs.exists(inline_inputs.redis_key(key)) == 0, "deleted once the job ended"
