"""Failure drills against real services: what a crash or an outage does to jobs and credits.

Each drill asserts the money rule (every job ends with a result and its debit, or failed with
its debit refunded: never both, never neither, never lost) and prints what it observed.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from cutout import devstack
from storage.db import make_engine, make_sessionmaker
from storage.migrate import upgrade
from storage.settings import Settings
from tests.conftest import TestTenant, create_test_tenant
from tests.drills.conftest import (
    big_photo,
    job_row,
    ledger,
    report,
    submit,
    wait_for,
)
from tests.images import rgba, sample

SYNC = "/v1/remove-background"
CLEAN_ERRORS = {"service_unavailable", "timeout", "internal_error"}
PHOTOS = ("chelsea.jpg", "coffee.jpg")
DRILL_CREDITS = 20  # what an outage drill's tenant is granted; every job costs 1


def jobs_of(sessions: sessionmaker[Session], tenant_id: uuid.UUID) -> dict[str, str]:
    with sessions() as session:
        rows = session.execute(
            text("SELECT id, status FROM jobs WHERE tenant_id = :t"), {"t": tenant_id}
        ).all()
    return {str(job_id): status for job_id, status in rows}


def assert_money_rule(sessions: sessionmaker[Session], tenant_id: uuid.UUID, granted: int) -> dict:
    """Every job finished; succeeded ⇔ debit only, failed ⇔ debit and refund; balance adds up."""
    jobs = wait_for(
        lambda: (
            (found := jobs_of(sessions, tenant_id))
            and all(status in ("succeeded", "failed") for status in found.values())
            and found
        ),
        300,
        "every job to finish",
    )
    books = ledger(sessions, tenant_id)
    for job_id, status in jobs.items():
        kinds = sorted(books.per_job.get(job_id, []))
        expected = ["debit"] if status == "succeeded" else ["debit", "refund"]
        assert kinds == expected, (job_id, status, kinds)
    succeeded = sum(status == "succeeded" for status in jobs.values())
    assert books.balance == granted - succeeded  # every job here costs 1 credit
    return {"succeeded": succeeded, "failed": len(jobs) - succeeded, "balance": books.balance}


def requests_in_flight(api_url: str, key: str, count: int) -> tuple[list, list[threading.Thread]]:
    """``count`` synchronous requests, each in its own thread; responses land in the list."""
    responses: list = [None] * count

    def send(index: int) -> None:
        try:
            responses[index] = httpx.post(
                f"{api_url}{SYNC}",
                headers={"X-API-Key": key, "Accept": "image/png"},
                files={"image": ("p", sample(PHOTOS[index % 2]))},
                timeout=300,
            )
        except httpx.HTTPError as error:
            responses[index] = error

    threads = [threading.Thread(target=send, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    return responses, threads


def classify(responses: list) -> dict[str, int]:
    """200 with a real cut-out, or a JSON error with a clean code; nothing else is allowed."""
    seen: dict[str, int] = {}
    for response in responses:
        assert isinstance(response, httpx.Response), f"no HTTP answer: {response!r}"
        if response.status_code == 200:
            assert rgba(response.content).shape[2] == 4
            outcome = "200"
        else:
            code = response.json()["error_code"]
            assert code in CLEAN_ERRORS, response.text
            assert response.status_code in (500, 503, 504)
            outcome = f"{response.status_code} {code}"
        seen[outcome] = seen.get(outcome, 0) + 1
    return seen


def first_success_after(api_url: str, key: str, timeout: float) -> float:
    """Seconds until a new request succeeds again (the processes were not restarted)."""
    started = time.monotonic()

    def succeeds() -> bool:
        response = httpx.post(
            f"{api_url}{SYNC}",
            headers={"X-API-Key": key},
            files={"image": ("p", sample("chelsea.jpg"))},
            timeout=120,
        )
        return response.status_code == 200

    wait_for(succeeds, timeout, "a request to succeed again")
    return round(time.monotonic() - started, 1)


# --- drill 1: SIGKILL a worker mid-job --------------------------------------------------------


def test_sigkill_a_worker_mid_job(private_stack, make_tenant, sessions):
    # Shorter limits than production so redelivery happens within the drill: a message a dead
    # worker held comes back after the visibility timeout (40 s), when its job's lease (35 s)
    # has expired. The dispatcher's sweep is the safety net for a job whose message is gone.
    # The drill waits out the visibility timeout, so it sets the drill's length; the time limit
    # still leaves the 12 MP job several times the time it takes on a busy CI machine.
    limits = {
        "CUTOUT_TASK_TIME_LIMIT_SECONDS": "30",
        "CUTOUT_BROKER_VISIBILITY_TIMEOUT_SECONDS": "40",
        "CUTOUT_JOB_WAIT_TIMEOUT_SECONDS": "240",
        "CUTOUT_STUCK_JOB_AFTER_SECONDS": "45",
        "CUTOUT_SWEEP_INTERVAL_SECONDS": "5",
    }
    api, _, doomed = private_stack.together(
        ("api", limits), ("dispatcher", limits), ("worker", limits)
    )
    tenant = make_tenant(credits=10)

    with httpx.Client(base_url=api.url, timeout=60) as client:
        running = submit(client, tenant.api_key, big_photo())
        wait_for(lambda: job_row(sessions, running).status == "running", 60, "job to start")
        # A synchronous caller queues behind it.
        responses, threads = requests_in_flight(api.url, tenant.api_key, 1)
        wait_for(lambda: len(jobs_of(sessions, tenant.id)) == 2, 30, "second job")
        killed_at = time.monotonic()
        os.killpg(doomed.process.pid, signal.SIGKILL)  # the worker and its pool process
        doomed.process.wait(10)

        private_stack("worker", **limits)
        finished = wait_for(
            lambda: (row := job_row(sessions, running)).status in ("succeeded", "failed") and row,
            300,
            "the killed worker's job",
        )
        recovered_after = round(time.monotonic() - killed_at, 1)
        for thread in threads:
            thread.join(300)

    outcomes = classify(responses)
    books = assert_money_rule(sessions, tenant.id, 10)
    if finished.status == "succeeded":
        assert finished.result_key is not None
    report(
        "sigkill-worker-mid-job",
        killed_job=finished.status,
        killed_job_attempts=finished.attempts,
        killed_job_done_after_kill_s=recovered_after,
        queued_sync_request=outcomes,
        **books,
    )


@pytest.fixture
def outage_drill(private_stack) -> Callable[..., None]:
    """Run one outage drill: its own API and worker, four synchronous requests in flight.

    ``run(name, env, sessions, tenant, outage)`` starts the API and worker with ``env``, waits
    until a job runs, calls ``outage()`` (stop a service, wait, start it again), then asserts
    that every request got a clean answer, that the money rule holds for ``tenant`` (granted
    ``DRILL_CREDITS``) in the database ``sessions`` reaches, that nobody paid for a result not
    delivered, and reports how long new requests took to succeed again.
    """

    def run(
        name: str,
        env: dict[str, str],
        sessions: sessionmaker[Session],
        tenant: TestTenant,
        outage: Callable[[], None],
    ) -> None:
        env = {**env, "CUTOUT_JOB_WAIT_TIMEOUT_SECONDS": "90"}
        api, _ = private_stack.together(("api", env), ("worker", env))

        responses, threads = requests_in_flight(api.url, tenant.api_key, 4)
        wait_for(lambda: "running" in jobs_of(sessions, tenant.id).values(), 60, "a job to run")
        outage()
        for thread in threads:
            thread.join(300)

        outcomes = classify(responses)
        books = assert_money_rule(sessions, tenant.id, DRILL_CREDITS)
        assert outcomes.get("200", 0) == books["succeeded"], (
            "nobody paid for a result not delivered"
        )
        recovery = first_success_after(api.url, tenant.api_key, 90)
        report(
            name,
            responses=outcomes,
            first_success_after_restart_s=recovery,
            **assert_money_rule(sessions, tenant.id, DRILL_CREDITS),
        )

    return run


# --- drill 2: restart Redis while requests are in flight --------------------------------------


def test_restart_redis_with_requests_in_flight(outage_drill, private_redis, make_tenant, sessions):
    def restart_redis() -> None:
        private_redis.stop()
        time.sleep(2)
        private_redis.start()

    env = {"CUTOUT_REDIS_URL": private_redis.url}
    tenant = make_tenant(credits=DRILL_CREDITS)
    outage_drill("restart-redis-in-flight", env, sessions, tenant, restart_redis)


# --- drill 3: stop Postgres briefly -----------------------------------------------------------


@pytest.fixture
def drill_database(private_postgres) -> Iterator[tuple[Settings, sessionmaker[Session]]]:
    """The private Postgres cluster, migrated, with a session factory this process can use."""
    drill_settings = Settings(database_url=private_postgres.url)
    devstack.ensure_database(drill_settings.database_url)
    upgrade(drill_settings)
    engine = make_engine(drill_settings)
    yield drill_settings, make_sessionmaker(engine)
    engine.dispose()


def test_stop_postgres_briefly(outage_drill, private_postgres, drill_database, store):
    def stop_postgres() -> None:
        private_postgres.stop()
        time.sleep(3)
        private_postgres.start()

    drill_settings, sessions = drill_database
    tenant = create_test_tenant(sessions, drill_settings, credits=DRILL_CREDITS)
    env = {"CUTOUT_DATABASE_URL": private_postgres.url}
    outage_drill("stop-postgres-3s", env, sessions, tenant, stop_postgres)


# --- drill 4: S3 unavailable ------------------------------------------------------------------


def test_s3_unavailable_fails_and_refunds(private_stack, make_tenant, sessions, tmp_path):
    # Our own S3 endpoint, so it can be killed without touching the session's.
    port = devstack.free_port()
    s3 = devstack.spawn(devstack.s3_server_argv(port, tmp_path / "s3"), {}, tmp_path / "s3.log")
    devstack.wait_until(lambda: devstack.port_open(port), 30, "S3 endpoint", s3)
    own_s3 = {"CUTOUT_S3_ENDPOINT_URL": f"http://127.0.0.1:{port}", "CUTOUT_JOB_MAX_ATTEMPTS": "2"}
    nobody = f"http://127.0.0.1:{devstack.free_port()}"
    # A worker whose S3 is unreachable: it cannot read inputs or write results.
    # The API sends inputs to S3 whatever their size: a small one would travel in Redis
    # (docs/operations.md, "Small inputs in Redis") and this drill is about S3 at ingress.
    api, worker = private_stack.together(
        ("api", {**own_s3, "CUTOUT_INLINE_INPUT_MAX_BYTES": "0"}),
        ("worker", {**own_s3, "CUTOUT_S3_ENDPOINT_URL": nobody}),
    )
    tenant = make_tenant(credits=10)

    readiness = httpx.get(f"{worker.url}/readyz", timeout=30)
    assert readiness.status_code == 503
    assert readiness.json()["checks"]["s3"] == "unavailable"

    with httpx.Client(base_url=api.url, timeout=120) as client:
        failed = client.post(
            SYNC,
            headers={"X-API-Key": tenant.api_key},
            files={"image": ("p", sample("chelsea.jpg"))},
        )
        job_id = next(iter(jobs_of(sessions, tenant.id)))
        row = job_row(sessions, job_id)
        assert failed.status_code == 500
        assert failed.json()["error_code"] == "internal_error"
        assert row.status == "failed"
        assert row.attempts == 3
        assert ledger(sessions, tenant.id).per_job[job_id] == ["debit", "refund"]

        # Now the API's S3 goes away too: refused before anything is charged.
        devstack.stop(s3)
        refused = client.post(
            SYNC,
            headers={"X-API-Key": tenant.api_key},
            files={"image": ("p", sample("chelsea.jpg"))},
        )
    assert refused.status_code == 503
    assert refused.json()["error_code"] == "service_unavailable"
    assert refused.headers["retry-after"] == "5"
    assert len(jobs_of(sessions, tenant.id)) == 1, "the refused request created no job"
    books = assert_money_rule(sessions, tenant.id, 10)
    assert books["balance"] == 10
    report(
        "s3-unavailable",
        worker_readyz=readiness.json()["checks"],
        job_while_worker_s3_down={
            "status": row.status,
            "attempts": row.attempts,
            "error_code": row.error_code,
            "http": failed.status_code,
        },
        request_while_api_s3_down={
            "http": refused.status_code,
            "error_code": refused.json()["error_code"],
        },
        **books,
    )
