"""Webhooks end to end: API → worker → outbox → ``cutout dispatcher`` → a local receiver that
verifies every signature with the Standard Webhooks reference library."""

from __future__ import annotations

import json

import httpx
import numpy as np
import pytest
from standardwebhooks.webhooks import Webhook

from tests.e2e.async_helpers import finished_job, wait_for
from tests.images import encode, rgba, sample
from tests.webhook_receiver import Received, running_receiver

JOBS = "/v1/jobs/remove-background"


@pytest.fixture(scope="module")
def dispatcher(start_dispatcher):
    return start_dispatcher()


def secrets_of(client: httpx.Client, key: str) -> list[str]:
    response = client.get("/v1/webhooks/secrets", headers={"X-API-Key": key})
    assert response.status_code == 200, response.text
    return [row["secret"] for row in response.json()["secrets"]]


def submit(client: httpx.Client, key: str, hook: str, image: bytes | None = None) -> str:
    response = client.post(
        JOBS,
        headers={"X-API-Key": key},
        files={"image": ("photo.jpg", image or sample("coffee.jpg"))},
        data={"webhook_url": hook},
    )
    assert response.status_code == 202, response.text
    return response.json()["job_id"]


def verified(secret: str, received: Received) -> dict:
    """The event, if its signature verifies with ``secret`` (raises otherwise)."""
    return Webhook(secret).verify(received.body, received.headers)


def webhook_settled(client: httpx.Client, key: str, job_id: str, status: str) -> dict:
    def check():
        job = client.get(f"/v1/jobs/{job_id}", headers={"X-API-Key": key}).json()
        return job if job["webhook"] and job["webhook"]["status"] == status else None

    return wait_for(check, what=f"webhook of {job_id} to be {status}")


@pytest.mark.usefixtures("dispatcher")
def test_a_finished_job_is_announced_once_with_a_valid_signature(client, make_tenant, webhook_port):
    tenant = make_tenant()
    [secret] = secrets_of(client, tenant.api_key)
    with running_receiver([204], port=webhook_port) as receiver:
        job_id = submit(client, tenant.api_key, receiver.url)
        [received] = receiver.wait_for(1)
        job = webhook_settled(client, tenant.api_key, job_id, "delivered")

    event = verified(secret, received)
    assert received.headers["webhook-id"] == f"msg_{job_id.replace('-', '')}"
    assert event["type"] == "job.succeeded"
    assert event["data"]["job_id"] == job_id
    assert event["data"]["status"] == "succeeded"
    assert event["data"]["credits_charged"] == 1
    assert job["webhook"]["webhook_id"] == received.headers["webhook-id"]
    [attempt] = job["webhook"]["attempts"]
    assert attempt["status_code"] == 204
    assert attempt["duration_ms"] is not None
    assert rgba(httpx.get(job["result_url"]).content).shape == (400, 600, 4)
    assert len(receiver.requests) == 1


@pytest.mark.usefixtures("dispatcher")
def test_a_500_is_retried_with_the_same_webhook_id(client, make_tenant, webhook_port):
    tenant = make_tenant()
    [secret] = secrets_of(client, tenant.api_key)
    with running_receiver([500, 200], port=webhook_port) as receiver:
        job_id = submit(client, tenant.api_key, receiver.url)
        first, second = receiver.wait_for(2)
        job = webhook_settled(client, tenant.api_key, job_id, "delivered")

    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert verified(secret, first) == verified(secret, second)
    assert [(a["attempt"], a["status_code"]) for a in job["webhook"]["attempts"]] == [
        (1, 500),
        (2, 200),
    ]


@pytest.mark.usefixtures("dispatcher")
def test_a_failed_job_is_refunded_and_announced_as_failed(
    client, make_tenant, balance_of, webhook_port
):
    tenant = make_tenant(credits=5)
    [secret] = secrets_of(client, tenant.api_key)
    blank = encode(np.full((300, 300, 3), 255, np.uint8), "PNG")  # no subject to find
    with running_receiver([200], port=webhook_port) as receiver:
        job_id = submit(client, tenant.api_key, receiver.url, image=blank)
        [received] = receiver.wait_for(1)

    event = verified(secret, received)
    assert event["type"] == "job.failed"
    assert event["data"]["error_code"] == "unknown_foreground"
    assert event["data"]["credits_refunded"] == 1
    assert finished_job(client, tenant.api_key, job_id)["status"] == "failed"
    assert balance_of(tenant.id) == 5


@pytest.mark.usefixtures("dispatcher")
def test_410_gone_disables_the_endpoint(client, make_tenant, webhook_port):
    tenant = make_tenant()
    headers = {"X-API-Key": tenant.api_key}
    with running_receiver([410], port=webhook_port) as receiver:
        first = submit(client, tenant.api_key, receiver.url)
        receiver.wait_for(1)
        webhook_settled(client, tenant.api_key, first, "disabled")
        disabled = client.get("/v1/webhooks/disabled-endpoints", headers=headers).json()
        assert [row["url"] for row in disabled["endpoints"]] == [receiver.url]

        second = submit(client, tenant.api_key, receiver.url)
        job = webhook_settled(client, tenant.api_key, second, "disabled")
        assert job["webhook"]["attempts"][0]["status_code"] is None, "nothing was sent"
        assert len(receiver.requests) == 1

        enabled = client.post(
            "/v1/webhooks/disabled-endpoints/enable", headers=headers, json={"url": receiver.url}
        )
        assert enabled.status_code == 200
        assert client.get("/v1/webhooks/disabled-endpoints", headers=headers).json() == {
            "endpoints": []
        }


@pytest.mark.usefixtures("dispatcher")
def test_after_a_rotation_both_secrets_verify_until_the_grace_ends(
    client, make_tenant, webhook_port
):
    tenant = make_tenant()
    [old] = secrets_of(client, tenant.api_key)
    rotated = client.post("/v1/webhooks/secrets/rotate", headers={"X-API-Key": tenant.api_key})
    assert rotated.status_code == 200
    new, previous = [row["secret"] for row in rotated.json()["secrets"]]
    assert previous == old
    assert rotated.json()["secrets"][1]["expires_at"] is not None

    with running_receiver([200], port=webhook_port) as receiver:
        submit(client, tenant.api_key, receiver.url)
        [received] = receiver.wait_for(1)

    assert len(received.headers["webhook-signature"].split(" ")) == 2
    assert verified(old, received) == verified(new, received)
    assert json.loads(received.body)["type"] == "job.succeeded"
