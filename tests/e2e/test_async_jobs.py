"""Asynchronous jobs and batches through real HTTP, with a real worker behind the API."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse

import httpx
import redis
from sqlalchemy import func, select, update

from storage import jobs
from storage.db import transaction
from storage.models import Batch, Job
from storage.objects import input_key
from tests.e2e.async_helpers import finished_batch, finished_job
from tests.images import eval_item, iou, rgba, sample
from workers.celery_app import create_celery
from workers.sweeper import repair_stuck_jobs

JOBS = "/v1/jobs/remove-background"


def test_async_upload_answers_202_and_the_job_ends_with_a_real_cutout(
    client, make_tenant, balance_of
):
    tenant = make_tenant(credits=10)
    item = eval_item("carvana_0cdf5b5d0ce1_01")
    response = client.post(
        JOBS,
        headers={"X-API-Key": tenant.api_key},
        files={"image": ("car.jpg", item.image.read_bytes())},
    )
    assert response.status_code == 202, response.text
    accepted = response.json()
    # The body carries the job's status as read after it was queued: an idle worker may have
    # claimed (or even finished) it by then. Accepted is never failed.
    assert accepted["status"] in ("queued", "running", "succeeded")
    assert response.headers["x-credits-charged"] == "1"
    assert urlparse(accepted["status_url"]).path == f"/v1/jobs/{accepted['job_id']}"
    assert balance_of(tenant.id) == 9, "charged at acceptance"

    job = finished_job(client, tenant.api_key, accepted["job_id"])
    assert job["status"] == "succeeded", job
    assert job["credits_charged"] == 1
    assert job["credits_refunded"] == 0
    assert job["error_code"] is None
    assert job["created_at"] <= job["started_at"] <= job["finished_at"]
    assert job["webhook"] is None
    assert "X-Amz-Expires=3600" in job["result_url"]
    out = rgba(httpx.get(job["result_url"]).content)
    assert out.shape[:2] == item.gt_mask().shape
    assert iou(out[..., 3], item.gt_mask()) > 0.9


def test_a_job_is_invisible_to_other_tenants(client, make_tenant):
    owner, stranger = make_tenant(), make_tenant()
    response = client.post(
        JOBS,
        headers={"X-API-Key": owner.api_key},
        files={"image": ("cat.jpg", sample("chelsea.jpg"))},
    )
    job_id = response.json()["job_id"]
    assert finished_job(client, owner.api_key, job_id)["status"] == "succeeded"

    refused = client.get(f"/v1/jobs/{job_id}", headers={"X-API-Key": stranger.api_key})
    assert refused.status_code == 404
    assert refused.json()["error_code"] == "not_found"
    assert "result_url" not in refused.text
    malformed = client.get("/v1/jobs/not-a-uuid", headers={"X-API-Key": owner.api_key})
    assert malformed.status_code == 404
    assert client.get(f"/v1/jobs/{job_id}").status_code == 401


def test_async_refusals_charge_nothing(client, make_tenant, balance_of):
    tenant = make_tenant(credits=3)
    headers = {"X-API-Key": tenant.api_key}
    shadow = client.post(
        JOBS,
        headers=headers,
        files={"image": ("cat.jpg", sample("chelsea.jpg"))},
        data={"shadow": "true"},
    )
    assert shadow.status_code == 403
    assert shadow.json()["error_code"] == "insufficient_api_credits"
    bad_hook = client.post(
        JOBS,
        headers=headers,
        files={"image": ("cat.jpg", sample("chelsea.jpg"))},
        data={"webhook_url": "ftp://example.com/hook"},
    )
    assert bad_hook.status_code == 400
    assert "webhook_url" in bad_hook.json()["error"]
    for private in ("http://10.0.0.7/hook", "http://127.0.0.1:6379/", "http://169.254.169.254/"):
        refused = client.post(
            JOBS,
            headers=headers,
            json={"image_url": "https://example.com/a.jpg", "webhook_url": private},
        )
        assert refused.status_code == 400, private
        assert refused.json()["error"].startswith("Invalid parameter webhook_url"), private
    assert balance_of(tenant.id) == 3


def test_a_batch_of_urls_with_per_item_options_is_charged_per_item(
    client, make_tenant, eval_server, balance_of
):
    tenant = make_tenant(credits=20)
    names = ["carvana_0cdf5b5d0ce1_01", "am_GT06", "am_GT12"]
    items = [
        {"image_url": f"{eval_server}/images/{name}.{ext}"}
        for name, ext in [(names[0], "jpg"), (names[1], "png"), (names[2], "png")]
    ]
    items[1]["shadow"] = {"opacity": 0.4}
    response = client.post(
        "/v1/batches", headers={"X-API-Key": tenant.api_key}, json={"items": items}
    )
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert response.headers["x-credits-charged"] == "6"
    assert len(accepted["job_ids"]) == 3
    assert balance_of(tenant.id) == 14

    batch = finished_batch(client, tenant.api_key, accepted["batch_id"])
    assert batch["counts"] == {"queued": 0, "running": 0, "succeeded": 3, "failed": 0}
    assert batch["total"] == 3
    assert batch["credits_charged"] == 6
    assert batch["credits_refunded"] == 0
    assert [job["job_id"] for job in batch["jobs"]] == accepted["job_ids"], "in item order"
    for name, job in zip(names, batch["jobs"], strict=True):
        truth = eval_item(name).gt_mask()
        out = rgba(httpx.get(job["result_url"]).content)
        assert out.shape[:2] == truth.shape
        assert iou(out[..., 3], truth) > 0.6, name
    assert [job["credits_charged"] for job in batch["jobs"]] == [1, 4, 1]


def test_a_multipart_batch_of_uploads(client, make_tenant):
    tenant = make_tenant(credits=5)
    items = [{"image": "first"}, {"image": "second", "format": "png"}]
    response = client.post(
        "/v1/batches",
        headers={"X-API-Key": tenant.api_key},
        data={"items": json.dumps(items)},
        files=[
            ("first", ("a.jpg", sample("coffee.jpg"))),
            ("second", ("b.jpg", sample("chelsea.jpg"))),
        ],
    )
    assert response.status_code == 202, response.text
    batch = finished_batch(client, tenant.api_key, response.json()["batch_id"])
    assert batch["counts"]["succeeded"] == 2
    sizes = [rgba(httpx.get(job["result_url"]).content).shape[:2] for job in batch["jobs"]]
    assert sizes == [(400, 600), (300, 451)]


def test_a_batch_the_balance_cannot_pay_charges_nothing_and_creates_nothing(
    client, make_tenant, photo_server, balance_of, sessions
):
    tenant = make_tenant(credits=5)
    items = [{"image_url": f"{photo_server}/coffee.jpg"} for _ in range(4)]
    items[2]["shadow"] = True  # 1 + 1 + 4 + 1 = 7 credits > 5
    response = client.post(
        "/v1/batches", headers={"X-API-Key": tenant.api_key}, json={"items": items}
    )

    assert response.status_code == 403, response.text
    assert response.json()["error_code"] == "insufficient_api_credits"
    assert balance_of(tenant.id) == 5
    with sessions() as session:
        assert session.scalar(select(func.count()).where(Job.tenant_id == tenant.id)) == 0
        assert session.scalar(select(func.count()).where(Batch.tenant_id == tenant.id)) == 0


def test_an_invalid_item_refuses_the_batch_and_names_it(
    client, make_tenant, photo_server, balance_of
):
    tenant = make_tenant(credits=5)
    headers = {"X-API-Key": tenant.api_key}
    good = {"image_url": f"{photo_server}/coffee.jpg"}
    bad = client.post(
        "/v1/batches",
        headers=headers,
        json={
            "items": [good, {"image_url": f"{photo_server}/coffee.jpg", "shadow": {"opacity": 3}}]
        },
    )
    assert bad.status_code == 400
    assert bad.json()["error_code"] == "invalid_parameter"
    assert bad.json()["error"].startswith("items[1]: Invalid parameter shadow.opacity")
    missing = client.post(
        "/v1/batches",
        headers=headers,
        json={"items": [good, {"image_url": f"{photo_server}/nope.jpg"}]},
    )
    assert missing.status_code == 400
    assert missing.json()["error"].startswith("items[1]:")
    too_many = client.post("/v1/batches", headers=headers, json={"items": [good] * 101})
    assert too_many.status_code == 400
    assert "at most 100" in too_many.json()["error"]
    assert client.post("/v1/batches", headers=headers, json={"items": []}).status_code == 400
    assert balance_of(tenant.id) == 5


def test_a_batch_is_invisible_to_other_tenants(client, make_tenant, photo_server):
    owner, stranger = make_tenant(), make_tenant()
    response = client.post(
        "/v1/batches",
        headers={"X-API-Key": owner.api_key},
        json={"items": [{"image_url": f"{photo_server}/coffee.jpg"}]},
    )
    batch_id = response.json()["batch_id"]
    assert (
        client.get(f"/v1/batches/{batch_id}", headers={"X-API-Key": owner.api_key}).status_code
        == 200
    )
    refused = client.get(f"/v1/batches/{batch_id}", headers={"X-API-Key": stranger.api_key})
    assert refused.status_code == 404
    assert refused.json()["error_code"] == "not_found"
    job_id = response.json()["job_ids"][0]
    assert (
        client.get(f"/v1/jobs/{job_id}", headers={"X-API-Key": stranger.api_key}).status_code == 404
    )
    finished_batch(client, owner.api_key, batch_id)


def test_a_job_lost_between_commit_and_enqueue_is_found_and_finished(
    client, make_tenant, sessions, store, settings, balance_of
):
    """The API crashed after charging but before sending the message: the sweep re-sends it."""
    tenant = make_tenant(credits=2)
    job_id = uuid.uuid4()
    key = input_key(tenant.id, job_id)
    store.put(key, sample("coffee.jpg"))
    with transaction(sessions) as session:
        jobs.create_and_debit(session, jobs.NewJob(job_id, tenant.id, None, 1, {}, key))
        session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(enqueued_at=datetime.now(UTC) - timedelta(hours=1))
        )
    celery = create_celery(settings)

    found = repair_stuck_jobs(
        settings,
        sessions,
        lambda task, arg, queue: celery.send_task(task, args=[arg], queue=queue),
        redis.Redis.from_url(settings.redis_url),
    )

    assert found.requeued == [job_id]
    job = finished_job(client, tenant.api_key, str(job_id))
    assert job["status"] == "succeeded"
    assert rgba(httpx.get(job["result_url"]).content).shape == (400, 600, 4)
    assert balance_of(tenant.id) == 1


def test_the_synchronous_endpoint_ignores_webhook_url_like_any_unknown_field(client, make_tenant):
    tenant = make_tenant()
    response = client.post(
        "/v1/remove-background",
        headers={"X-API-Key": tenant.api_key, "Accept": "image/png"},
        files={"image": ("cat.jpg", sample("chelsea.jpg"))},
        data={"webhook_url": "ftp://not-a-webhook"},
    )
    assert response.status_code == 200, response.text
    assert rgba(response.content).shape == (300, 451, 4)


def test_an_async_retry_with_the_same_key_gets_the_same_job_and_charges_once(
    client, make_tenant, balance_of, sessions
):
    tenant = make_tenant(credits=10)
    photo = sample("chelsea.jpg")
    headers = {"X-API-Key": tenant.api_key, "Idempotency-Key": "catalogue-run-7/item-1"}

    first = client.post(JOBS, headers=headers, files={"image": ("cat.jpg", photo)})
    retry = client.post(JOBS, headers=headers, files={"image": ("cat.jpg", photo)})

    assert first.status_code == retry.status_code == 202, (first.text, retry.text)
    assert retry.json()["job_id"] == first.json()["job_id"]
    assert retry.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert retry.headers["x-credits-charged"] == "1"
    assert balance_of(tenant.id) == 9, "one debit for both requests"
    with transaction(sessions) as session:
        count = session.scalar(select(func.count()).where(Job.tenant_id == tenant.id))
    assert count == 1
    assert finished_job(client, tenant.api_key, first.json()["job_id"])["status"] == "succeeded"


def test_the_same_async_key_with_another_body_is_refused_and_charges_nothing(
    client, make_tenant, balance_of
):
    tenant = make_tenant(credits=10)
    headers = {"X-API-Key": tenant.api_key, "Idempotency-Key": "catalogue-run-7/item-2"}
    first = client.post(JOBS, headers=headers, files={"image": ("cat.jpg", sample("chelsea.jpg"))})
    assert first.status_code == 202, first.text

    other_webhook = client.post(
        JOBS,
        headers=headers,
        files={"image": ("cat.jpg", sample("chelsea.jpg"))},
        data={"webhook_url": "https://hooks.example.com/cutout"},
    )
    assert other_webhook.status_code == 422, other_webhook.text
    assert other_webhook.json()["error_code"] == "idempotency_key_mismatch"
    assert balance_of(tenant.id) == 9, "only the first request was charged"
