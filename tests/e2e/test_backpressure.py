"""Backpressure: a queue deeper than its bound refuses new jobs with 503 before any debit."""

from __future__ import annotations

import uuid

import httpx
import redis
from sqlalchemy import text

from storage.settings import Settings
from tests.images import sample
from tests.scrape import scrape, value
from workers.celery_app import create_celery
from workers.contract import REMOVE_BACKGROUND_TASK, queue_name

ENDPOINT = "/v1/remove-background"


def _jobs_of(sessions, tenant_id: uuid.UUID) -> list[tuple[str, str | None]]:
    with sessions() as session:
        rows = session.execute(
            text("SELECT status, error_code FROM jobs WHERE tenant_id = :t"), {"t": tenant_id}
        )
        return [tuple(row) for row in rows]


def test_a_full_queue_refuses_new_jobs_before_charging(
    private_stack, make_tenant, balance_of, sessions, settings
):
    # An API whose queue nobody consumes, bounded at 2 waiting jobs.
    api = private_stack("api", CUTOUT_MAX_QUEUE_DEPTH="2", CUTOUT_JOB_WAIT_TIMEOUT_SECONDS="1")
    namespace = private_stack.namespace
    queue_settings = Settings(redis_namespace=namespace)
    producer = create_celery(queue_settings)
    for _ in range(2):  # two jobs already waiting (ids of no real job: nobody runs them)
        producer.send_task(REMOVE_BACKGROUND_TASK, args=[str(uuid.uuid4())])
    queue = queue_name(namespace, "cpu")
    assert value(scrape(api.url), "cutout_queue_depth", queue=queue) == 2

    tenant = make_tenant(credits=5)
    with httpx.Client(base_url=api.url, timeout=30) as client:
        refused = client.post(
            ENDPOINT,
            headers={"X-API-Key": tenant.api_key},
            files={"image": ("p", sample("chelsea.jpg"))},
        )
        assert refused.status_code == 503
        assert refused.json()["error_code"] == "service_overloaded"
        assert refused.headers["retry-after"] == "10"
        assert balance_of(tenant.id) == 5
        assert _jobs_of(sessions, tenant.id) == []  # refused before the job row and the debit

        # One job leaves the queue: below the bound, the next request is accepted (charged,
        # then, as no worker runs it in this test, timed out and refunded).
        redis.Redis.from_url(settings.redis_url).rpop(f"{namespace}:{queue}")
        accepted = client.post(
            ENDPOINT,
            headers={"X-API-Key": tenant.api_key},
            files={"image": ("p", sample("chelsea.jpg"))},
        )
    assert accepted.json()["error_code"] == "timeout"
    assert _jobs_of(sessions, tenant.id) == [("failed", "timeout")]
    assert balance_of(tenant.id) == 5
    assert value(scrape(api.url), "cutout_queue_depth", queue=queue) == 2
    producer.close()
