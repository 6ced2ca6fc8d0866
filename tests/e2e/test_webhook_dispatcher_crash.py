"""A dispatcher SIGKILLed mid-delivery: the event is delivered later, with the same webhook-id.

Its own module, so that no other dispatcher runs while the first one is killed."""

from __future__ import annotations

import os
import signal

from standardwebhooks.webhooks import Webhook

from tests.e2e.async_helpers import wait_for
from tests.images import sample
from tests.webhook_receiver import HANG, running_receiver


def test_a_dispatcher_killed_mid_delivery_still_delivers_the_same_event(
    client, make_tenant, start_dispatcher, webhook_port
):
    tenant = make_tenant()
    headers = {"X-API-Key": tenant.api_key}
    secrets = client.get("/v1/webhooks/secrets", headers=headers).json()["secrets"]
    secret = secrets[0]["secret"]
    first_dispatcher = start_dispatcher()

    with running_receiver([HANG, 200], port=webhook_port) as receiver:
        job_id = client.post(
            "/v1/jobs/remove-background",
            headers=headers,
            files={"image": ("photo.jpg", sample("coffee.jpg"))},
            data={"webhook_url": receiver.url},
        ).json()["job_id"]
        assert receiver.hanging.wait(120), "the first delivery never arrived"
        os.killpg(first_dispatcher.process.pid, signal.SIGKILL)
        first_dispatcher.process.wait(10)
        receiver.release.set()

        start_dispatcher()
        interrupted, delivered = receiver.wait_for(2)

    assert interrupted.headers["webhook-id"] == delivered.headers["webhook-id"]
    event = Webhook(secret).verify(delivered.body, delivered.headers)
    assert event["data"]["job_id"] == job_id

    def settled():
        job = client.get(f"/v1/jobs/{job_id}", headers=headers).json()
        return job if job["webhook"]["status"] == "delivered" else None

    job = wait_for(settled, what="the webhook to be delivered")
    first, second = job["webhook"]["attempts"]
    assert first["interrupted"] is True
    assert first["status_code"] is None
    assert second["status_code"] == 200
    assert len(receiver.requests) == 2
