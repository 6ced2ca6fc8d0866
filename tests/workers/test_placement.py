"""GPU pinning and queue routing, tested on a machine without a GPU."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from storage import jobs
from storage.db import transaction
from storage.models import JobStatus
from storage.objects import input_key
from storage.settings import Settings
from tests.images import sample
from workers.celery_app import create_celery
from workers.contract import REMOVE_BACKGROUND_TASK, JobOptions, queue_name, route
from workers.placement import place_worker

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
TRT = "TensorrtExecutionProvider"


def make_settings(**overrides) -> Settings:
    return Settings(redis_namespace="ns", **overrides)


def test_a_cpu_worker_consumes_the_default_queue_without_gpu_providers():
    where = place_worker(make_settings(), None, [TRT, CUDA, CPU])
    assert where.queues == ("ns.cpu",)
    assert where.device_id is None
    assert where.providers == (CPU,)


def test_a_gpu_worker_is_pinned_to_its_device_and_consumes_the_gpu_queue():
    where = place_worker(make_settings(gpu_queue="cuda-big"), 2, [CUDA, CPU])
    assert where.queues == ("ns.cuda-big",)
    assert where.device_id == 2
    assert where.providers == (TRT, CUDA, CPU)  # TensorRT is skipped by the session if absent
    assert "device 2" in where.note


def test_a_gpu_worker_without_cuda_falls_back_to_the_cpu_and_says_so():
    where = place_worker(make_settings(), 0, [CPU])
    assert where.device_id is None
    assert where.providers == (CPU,)
    assert where.queues == ("ns.gpu",)
    assert "falling back to the CPU" in where.note


def test_jobs_are_routed_by_model_with_a_default():
    queues = {"birefnet-general": "gpu"}
    assert route("birefnet-general", "u2netp", queues, "cpu") == "gpu"
    assert route("u2net", "u2netp", queues, "cpu") == "cpu"
    assert route(None, "birefnet-general", queues, "cpu") == "gpu"  # the default model's route


def test_an_explicit_queue_wins_over_the_apps_default_route():
    app = create_celery(make_settings())
    message = app.amqp.router.route(
        {"queue": queue_name("ns", "gpu")}, REMOVE_BACKGROUND_TASK, (), {}
    )
    assert message["queue"].name == "ns.gpu"


def test_a_worker_started_with_gpu_runs_jobs_from_the_gpu_queue_on_the_cpu(
    database, store, stack_env, run_dir, sessions, make_tenant, settings
):
    """`cutout worker --gpu 0` on this CPU-only machine: it says it falls back, and works."""
    from cutout import devstack

    log = run_dir / "gpu-worker.log"
    argv = [*devstack.worker_argv(), "--gpu", "0"]
    process = devstack.spawn(argv, stack_env, log)
    try:
        devstack.wait_until(lambda: devstack.worker_ready(log), 120, "gpu worker", process)
        text = log.read_text()
        assert "GPU 0 requested but this onnxruntime build has no GPU provider" in text
        assert queue_name(settings.redis_namespace, "gpu") in text

        tenant = make_tenant(credits=2)
        job_id = uuid.uuid4()
        key = input_key(tenant.id, job_id)
        store.put(key, sample("coffee.jpg"))
        with transaction(sessions) as session:
            jobs.create_and_debit(
                session, jobs.NewJob(job_id, tenant.id, None, 1, JobOptions().to_json(), key)
            )
        app = create_celery(settings)
        app.send_task(
            REMOVE_BACKGROUND_TASK,
            args=[str(job_id)],
            queue=queue_name(settings.redis_namespace, "gpu"),
        )
        devstack.wait_until(
            lambda: _status(sessions, job_id) == JobStatus.SUCCEEDED, 120, "job", process
        )
    finally:
        devstack.stop(process)


def _status(sessions, job_id):
    with sessions() as session:
        return jobs.get(session, job_id).status


def test_the_sweep_sends_a_stuck_job_again_to_its_models_queue(
    database, store, stack_env, run_dir, sessions, make_tenant, settings
):
    """A stuck job for a model routed to the GPU queue goes back to that queue, not the default
    one: a worker consuming only the GPU queue finishes it, and the default queue stays as it
    was. (The worker starts first: kombu's Redis transport drops a message sent to a queue that
    no consumer has declared yet.)"""
    import redis
    from sqlalchemy import update

    from cutout import devstack
    from storage.models import Job
    from workers.sweeper import repair_stuck_jobs

    routed = settings.model_copy(update={"model_queues": {settings.model_name: "gpu"}})
    default_queue = queue_name(settings.redis_namespace, settings.default_queue)
    tenant = make_tenant(credits=2)
    job_id = uuid.uuid4()
    key = input_key(tenant.id, job_id)
    store.put(key, sample("coffee.jpg"))
    options = JobOptions(model=settings.model_name).to_json()
    with transaction(sessions) as session:
        jobs.create_and_debit(session, jobs.NewJob(job_id, tenant.id, None, 1, options, key))
        session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(enqueued_at=datetime.now(UTC) - timedelta(hours=1))
        )
    broker = redis.Redis.from_url(settings.redis_url)
    log = run_dir / "sweep-gpu-worker.log"
    process = devstack.spawn([*devstack.worker_argv(), "--gpu", "0"], stack_env, log)
    try:
        devstack.wait_until(lambda: devstack.worker_ready(log), 120, "gpu worker", process)
        default_before = broker.llen(default_queue)
        app = create_celery(routed)

        found = repair_stuck_jobs(
            routed,
            sessions,
            lambda task, arg, queue: app.send_task(task, args=[arg], queue=queue),
            broker,
        )

        # The sweep covers the whole database, which the session's other tests share: jobs they
        # left queued on purpose (backpressure, drills) are stuck too by now, so ours is one of
        # those re-sent (in a full run without xdist, equality failed on such a job).
        assert job_id in found.requeued
        devstack.wait_until(
            lambda: _status(sessions, job_id) == JobStatus.SUCCEEDED, 180, "job", process
        )
        assert broker.llen(default_queue) == default_before, "nothing went to the default queue"
    finally:
        devstack.stop(process)
