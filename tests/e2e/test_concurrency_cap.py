"""The concurrent-jobs cap through real HTTP: every job in flight holds a slot, whichever
endpoint accepted it, until it succeeds, fails, or the sweeper fails it.

Jobs are held in flight by an API of the test's own (``private_stack``) whose queue no worker
consumes; a worker is started on that queue when the test wants them to finish.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import numpy as np
import pytest
import redis
from sqlalchemy import func, select, update

from storage import jobs
from storage.db import transaction
from storage.error_codes import ErrorCode
from storage.models import Batch, Job
from tests.e2e.async_helpers import finished_job
from tests.e2e.test_billing import fire
from tests.images import encode, sample
from workers.celery_app import create_celery
from workers.sweeper import repair_stuck_jobs

JOBS = "/v1/jobs/remove-background"
SYNC = "/v1/remove-background"
BATCHES = "/v1/batches"
PHOTO = sample("chelsea.jpg")


def submit(http: httpx.Client, key: str, image: bytes = PHOTO, **headers: str) -> httpx.Response:
    return http.post(JOBS, headers={"X-API-Key": key, **headers}, files={"image": ("p", image)})


def batch(http: httpx.Client, key: str, size: int) -> httpx.Response:
    items = [{"image": f"p{i}"} for i in range(size)]
    files = [(f"p{i}", ("p.jpg", PHOTO)) for i in range(size)]
    return http.post(
        BATCHES, headers={"X-API-Key": key}, data={"items": json.dumps(items)}, files=files
    )


def assert_cap_refusal(response: httpx.Response) -> str:
    assert response.status_code == 429, response.text
    assert response.json()["error_code"] == "rate_limit_exceeded"
    assert response.headers["retry-after"] == "1"
    return response.json()["error"]


def runs_again(http: httpx.Client, key: str) -> None:
    """The tenant's next asynchronous job is accepted and succeeds; then a synchronous one."""
    after = submit(http, key)
    assert after.status_code == 202, after.text
    assert finished_job(http, key, after.json()["job_id"])["status"] == "succeeded"
    sync = http.post(SYNC, headers={"X-API-Key": key}, files={"image": ("p", PHOTO)})
    assert sync.status_code == 200, sync.text


def count(sessions, model, tenant_id: uuid.UUID) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).where(model.tenant_id == tenant_id))


@pytest.fixture
def held(private_stack) -> Iterator[httpx.Client]:
    """A client of an API whose jobs nobody runs (until the test starts a worker)."""
    api = private_stack("api")
    with httpx.Client(base_url=api.url, timeout=60) as http:
        yield http


@pytest.fixture
def ends_its_jobs(sessions) -> Iterator[list[uuid.UUID]]:
    """Tenants listed here have their unfinished jobs failed (refunded) after the test, so no
    later sweep in this database finds them stuck."""
    tenants: list[uuid.UUID] = []
    yield tenants
    with transaction(sessions) as session:
        for tenant_id in tenants:
            unfinished = session.scalars(
                select(Job.id).where(Job.tenant_id == tenant_id, Job.status.in_(jobs.UNFINISHED))
            ).all()
            for job_id in unfinished:
                jobs.fail_and_refund(session, job_id, ErrorCode.INTERNAL_ERROR, "test over")


def test_async_jobs_hold_the_cap_until_they_finish(
    private_stack, held, make_tenant, balance_of, sessions
):
    """A tenant with a cap of 2 sends 6 async jobs at once while no worker runs: exactly 2 are
    accepted and charged. A third async job, a synchronous request and a batch are refused
    (429) without a debit or a job; once a worker has finished the two, the next is accepted."""
    tenant = make_tenant(credits=10, concurrency=2)

    async def send(http: httpx.AsyncClient) -> httpx.Response:
        return await http.post(
            JOBS, headers={"X-API-Key": tenant.api_key}, files={"image": ("p", PHOTO)}
        )

    responses = asyncio.run(fire(str(held.base_url), 6, send))
    assert Counter(r.status_code for r in responses) == {202: 2, 429: 4}
    accepted = [r.json()["job_id"] for r in responses if r.status_code == 202]
    for refused in (r for r in responses if r.status_code == 429):
        assert "your plan runs 2 at once" in assert_cap_refusal(refused)

    assert_cap_refusal(submit(held, tenant.api_key))
    sync = held.post(SYNC, headers={"X-API-Key": tenant.api_key}, files={"image": ("p", PHOTO)})
    assert "concurrent" in assert_cap_refusal(sync)
    assert "0 of your plan's 2" in assert_cap_refusal(batch(held, tenant.api_key, 2))
    assert balance_of(tenant.id) == 8, "only the two accepted jobs were charged"
    assert count(sessions, Job, tenant.id) == 2

    private_stack("worker")
    for job_id in accepted:
        assert finished_job(held, tenant.api_key, job_id)["status"] == "succeeded"

    runs_again(held, tenant.api_key)
    assert balance_of(tenant.id) == 6


def test_a_batch_is_admitted_only_when_all_its_items_fit(
    held, make_tenant, balance_of, sessions, ends_its_jobs
):
    """Cap 3, nothing running: of 4 batches of 2 sent at once exactly one is admitted; then a
    batch of 2 is refused whole (1 slot free), a batch of 4 can never fit (400), a single job
    takes the last slot, and an idempotent replay of it is answered without another slot."""
    tenant = make_tenant(credits=20, concurrency=3)
    ends_its_jobs.append(tenant.id)

    async def send(http: httpx.AsyncClient) -> httpx.Response:
        files = [(f"p{i}", ("p.jpg", PHOTO)) for i in range(2)]
        items = json.dumps([{"image": "p0"}, {"image": "p1"}])
        return await http.post(
            BATCHES, headers={"X-API-Key": tenant.api_key}, data={"items": items}, files=files
        )

    responses = asyncio.run(fire(str(held.base_url), 4, send))
    assert Counter(r.status_code for r in responses) == {202: 1, 429: 3}
    assert balance_of(tenant.id) == 18
    assert (count(sessions, Batch, tenant.id), count(sessions, Job, tenant.id)) == (1, 2)

    message = assert_cap_refusal(batch(held, tenant.api_key, 2))
    assert "batch of 2: 1 of your plan's 3 job slots are free" in message
    too_big = batch(held, tenant.api_key, 4)
    assert too_big.status_code == 400, too_big.text
    assert too_big.json()["error_code"] == "invalid_parameter"
    assert "at most 3 per batch" in too_big.json()["error"]
    assert balance_of(tenant.id) == 18
    assert (count(sessions, Batch, tenant.id), count(sessions, Job, tenant.id)) == (1, 2)

    last = submit(held, tenant.api_key, **{"Idempotency-Key": "last-slot"})
    assert last.status_code == 202, last.text
    assert_cap_refusal(submit(held, tenant.api_key))
    replay = submit(held, tenant.api_key, **{"Idempotency-Key": "last-slot"})
    assert replay.status_code == 202, replay.text
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["job_id"] == last.json()["job_id"]
    assert balance_of(tenant.id) == 17
    assert count(sessions, Job, tenant.id) == 3


def test_a_failed_job_gives_its_slot_back(client, make_tenant, balance_of):
    """Cap 1: a blank image is accepted, then failed by the worker (no foreground) and
    refunded; the tenant's next job is accepted at once, and so is a synchronous one after it."""
    tenant = make_tenant(credits=5, concurrency=1)
    blank = encode(np.full((300, 300, 3), 255, np.uint8), "PNG")

    failing = submit(client, tenant.api_key, blank)
    assert failing.status_code == 202, failing.text
    job = finished_job(client, tenant.api_key, failing.json()["job_id"])
    assert (job["status"], job["error_code"]) == ("failed", "unknown_foreground")
    assert balance_of(tenant.id) == 5

    runs_again(client, tenant.api_key)
    assert balance_of(tenant.id) == 3


def test_a_job_the_sweeper_fails_gives_its_slot_back(
    private_stack, held, make_tenant, balance_of, sessions, settings, ends_its_jobs
):
    """Cap 1: a job nobody picks up holds the slot until the sweep gives up on it, fails and
    refunds it; then the tenant's next job is accepted."""
    tenant = make_tenant(credits=5, concurrency=1)
    ends_its_jobs.append(tenant.id)
    stuck = submit(held, tenant.api_key)
    assert stuck.status_code == 202, stuck.text
    assert_cap_refusal(submit(held, tenant.api_key))
    stuck_id = uuid.UUID(stuck.json()["job_id"])
    with transaction(sessions) as session:
        session.execute(
            update(Job)
            .where(Job.id == stuck_id)
            .values(
                enqueued_at=datetime.now(UTC) - timedelta(hours=1),
                requeues=settings.stuck_job_max_requeues,
            )
        )

    private = settings.model_copy(update={"redis_namespace": private_stack.namespace})
    celery = create_celery(private)
    broker = redis.Redis.from_url(settings.redis_url)
    try:
        found = repair_stuck_jobs(
            private,
            sessions,
            lambda task, arg, queue: celery.send_task(task, args=[arg], queue=queue),
            broker,
        )
    finally:
        broker.close()
        celery.close()

    assert stuck_id in found.failed
    assert balance_of(tenant.id) == 5, "refunded"
    after = submit(held, tenant.api_key)
    assert after.status_code == 202, after.text


def test_a_synchronous_job_that_times_out_gives_its_slot_back(
    private_stack, make_tenant, balance_of, ends_its_jobs
):
    """Cap 1 and no worker: the wait ends, the API fails and refunds the job (504) and frees
    its slot, so the next request is not refused for concurrency."""
    tenant = make_tenant(credits=5, concurrency=1)
    ends_its_jobs.append(tenant.id)
    api = private_stack("api", CUTOUT_JOB_WAIT_TIMEOUT_SECONDS="1")
    with httpx.Client(base_url=api.url, timeout=60) as http:
        for _ in range(2):
            response = http.post(
                SYNC, headers={"X-API-Key": tenant.api_key}, files={"image": ("p", PHOTO)}
            )
            assert response.status_code == 504, response.text
            assert response.json()["error_code"] == "timeout"
        accepted = submit(http, tenant.api_key)
        assert accepted.status_code == 202, accepted.text
    assert balance_of(tenant.id) == 4
