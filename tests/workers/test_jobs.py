"""A job's lifecycle in a worker, against real Postgres and the S3 endpoint (no Celery)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from storage import jobs
from storage.db import transaction
from storage.error_codes import ErrorCode
from storage.models import JobStatus
from storage.objects import input_key, result_key
from tests.images import rgba, sample
from workers.contract import JobOptions
from workers.jobs import Disposition, LeaseHeld, process_job


@pytest.fixture
def submit(sessions, store):
    """Store an input and create its job, charged, as the API would."""

    def submit(tenant, data: bytes, cost: int = 1) -> uuid.UUID:
        job_id = uuid.uuid4()
        key = input_key(tenant.id, job_id)
        store.put(key, data)
        job = jobs.NewJob(job_id, tenant.id, None, cost, JobOptions().to_json(), key)
        with transaction(sessions) as session:
            jobs.create_and_debit(session, job)
        return job_id

    return submit


def read(sessions, job_id: uuid.UUID):
    with sessions() as session:
        return jobs.get(session, job_id)


def test_a_job_succeeds_stores_its_png_and_stays_charged(
    runtime, submit, sessions, store, make_tenant, balance_of
):
    tenant = make_tenant(credits=5)
    job_id = submit(tenant, sample("coffee.jpg"))

    assert process_job(job_id, runtime) == Disposition.SUCCEEDED

    job = read(sessions, job_id)
    assert job.status == JobStatus.SUCCEEDED
    assert job.result_key == result_key(tenant.id, job_id)
    assert rgba(store.get(job.result_key)).shape == (400, 600, 4)
    assert balance_of(tenant.id) == 4


def test_the_compact_png_setting_makes_the_same_cut_out_in_a_smaller_file(
    runtime, submit, sessions, store, make_tenant, monkeypatch
):
    """CUTOUT_PNG_ENCODER=compact: libpng instead of fpng, same pixels, fewer bytes."""
    tenant = make_tenant(credits=5)
    results = {}
    for encoder in ("fast", "compact"):
        monkeypatch.setattr(runtime.settings, "png_encoder", encoder)
        job_id = submit(tenant, sample("coffee.jpg"))
        assert process_job(job_id, runtime) == Disposition.SUCCEEDED
        results[encoder] = store.get(read(sessions, job_id).result_key)

    assert b"fdEC" in results["fast"], "fpng marks its files with a private fdEC chunk"
    assert b"fdEC" not in results["compact"]
    assert len(results["compact"]) < 0.95 * len(results["fast"])
    assert (rgba(results["compact"]) == rgba(results["fast"])).all()


def test_a_duplicate_message_for_a_finished_job_changes_nothing(
    runtime, submit, sessions, make_tenant, balance_of
):
    tenant = make_tenant(credits=5)
    job_id = submit(tenant, sample("chelsea.jpg"))
    assert process_job(job_id, runtime) == Disposition.SUCCEEDED
    finished = read(sessions, job_id)

    assert process_job(job_id, runtime) == Disposition.DUPLICATE
    again = read(sessions, job_id)
    assert (again.status, again.attempts, again.finished_at) == (
        finished.status,
        finished.attempts,
        finished.finished_at,
    )
    assert balance_of(tenant.id) == 4


def test_an_undecodable_image_fails_the_job_and_refunds_it(
    runtime, submit, sessions, make_tenant, balance_of
):
    tenant = make_tenant(credits=5)
    data = sample("coffee.jpg")
    job_id = submit(tenant, data[: len(data) // 4], cost=4)
    assert balance_of(tenant.id) == 1

    assert process_job(job_id, runtime) == Disposition.FAILED

    job = read(sessions, job_id)
    assert (job.status, job.error_code) == (JobStatus.FAILED, ErrorCode.MALFORMED_IMAGE)
    assert job.result_key is None
    assert balance_of(tenant.id) == 5


def test_a_job_leased_by_a_live_worker_is_not_run_twice_but_looked_at_again_later(
    runtime, submit, sessions, make_tenant
):
    tenant = make_tenant()
    job_id = submit(tenant, sample("coffee.jpg"))
    with transaction(sessions) as session:
        assert jobs.claim(session, job_id, timedelta(minutes=5)) is not None

    with pytest.raises(LeaseHeld) as held:
        process_job(job_id, runtime)
    assert 290 < held.value.seconds_left <= 300, "retried once the other attempt's lease ends"
    job = read(sessions, job_id)
    assert (job.status, job.attempts) == (JobStatus.RUNNING, 1)


def test_a_job_whose_worker_vanished_is_taken_over_after_its_lease(
    runtime, submit, sessions, make_tenant
):
    tenant = make_tenant()
    job_id = submit(tenant, sample("coffee.jpg"))
    with transaction(sessions) as session:
        assert jobs.claim(session, job_id, timedelta(seconds=-1)) is not None  # lease lapsed

    assert process_job(job_id, runtime) == Disposition.SUCCEEDED
    assert read(sessions, job_id).attempts == 2


def test_a_job_that_keeps_killing_workers_is_failed_and_refunded(
    runtime, submit, sessions, make_tenant, balance_of
):
    tenant = make_tenant(credits=3)
    job_id = submit(tenant, sample("coffee.jpg"))
    for _ in range(runtime.settings.job_max_attempts):
        with transaction(sessions) as session:
            assert jobs.claim(session, job_id, timedelta(seconds=-1)) is not None

    assert process_job(job_id, runtime) == Disposition.FAILED
    job = read(sessions, job_id)
    assert (job.status, job.error_code) == (JobStatus.FAILED, ErrorCode.INTERNAL_ERROR)
    assert balance_of(tenant.id) == 3
