"""POST /v1/remove-background through real HTTP: API process, Celery worker, Postgres, Redis, S3."""

from __future__ import annotations

import io
import json
from urllib.parse import parse_qs, urlparse

import httpx
import numpy as np
from PIL import Image

from tests.images import eval_item, iou, rgba, sample

ENDPOINT = "/v1/remove-background"


def upload(client: httpx.Client, key: str, data: bytes, accept: str | None = None, **fields):
    headers = {"X-API-Key": key}
    if accept:
        headers["Accept"] = accept
    return client.post(
        ENDPOINT, headers=headers, files={"image": ("photo", data)}, data=fields or None
    )


def test_upload_returns_png_bytes_of_a_real_cutout(client, make_tenant, balance_of):
    tenant = make_tenant(credits=10)
    item = eval_item("carvana_0cdf5b5d0ce1_01")

    response = upload(client, tenant.api_key, item.image.read_bytes(), accept="image/png")

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    assert response.headers["x-credits-charged"] == "1"
    out = rgba(response.content)
    truth = item.gt_mask()
    assert out.shape[:2] == truth.shape
    assert iou(out[..., 3], truth) > 0.9
    assert balance_of(tenant.id) == 9


def test_image_url_returns_a_presigned_result_url(
    client, make_tenant, photo_server, settings, balance_of
):
    tenant = make_tenant(credits=10)
    response = client.post(
        ENDPOINT,
        headers={"X-API-Key": tenant.api_key},
        json={"image_url": f"{photo_server}/coffee.jpg", "format": "png"},
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    url = response.json()["result_url"]
    parsed = urlparse(url)
    query = parse_qs(parsed.query)
    assert f"{parsed.scheme}://{parsed.netloc}" == settings.s3_endpoint_url
    assert parsed.path.startswith(f"/{settings.s3_bucket}/results/{tenant.id}/")
    assert parsed.path.endswith(".png")
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Expires"] == ["3600"]
    assert "X-Amz-Signature" in query

    result = httpx.get(url)
    assert result.status_code == 200
    out = rgba(result.content)
    assert out.shape == (400, 600, 4)
    assert balance_of(tenant.id) == 9


def test_accept_wildcard_image_and_pixelcut_header_casing(client, make_tenant):
    tenant = make_tenant()
    response = client.post(
        ENDPOINT,
        headers={"X-API-KEY": tenant.api_key, "Accept": "image/*"},
        files={"image": ("cat.jpg", sample("chelsea.jpg"), "image/jpeg")},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    assert rgba(response.content).shape == (300, 451, 4)


def test_uploaded_image_wins_over_image_url(client, make_tenant):
    tenant = make_tenant()
    response = upload(
        client,
        tenant.api_key,
        sample("chelsea.jpg"),
        accept="image/png",
        image_url="http://unreachable.invalid/x.jpg",
    )
    assert response.status_code == 200, response.text
    assert rgba(response.content).shape == (300, 451, 4)


def test_output_keeps_the_input_size_and_colours_for_webp_and_png(client, make_tenant):
    tenant = make_tenant()
    photo = np.asarray(Image.open(io.BytesIO(sample("coffee.jpg"))))
    for fmt in ("PNG", "WEBP"):
        buffer = io.BytesIO()
        Image.fromarray(photo).save(buffer, fmt, lossless=True)
        response = upload(client, tenant.api_key, buffer.getvalue(), accept="image/png")
        assert response.status_code == 200, (fmt, response.text)
        out = rgba(response.content)
        opaque = out[..., 3] == 255  # partial edges are decontaminated; opaque pixels kept
        assert out.shape[:2] == photo.shape[:2]
        assert np.array_equal(out[..., :3][opaque], photo[opaque]), fmt


def test_a_shadow_costs_four_credits(client, make_tenant, balance_of):
    tenant = make_tenant(credits=10)
    shadow = (
        '{"opacity": 0.7, "light_source": {"size": 0.5, "position": {"x": 0.5, "y": -1, "z": 1}}}'
    )
    response = upload(client, tenant.api_key, sample("coffee.jpg"), shadow=shadow)
    assert response.status_code == 200, response.text
    assert response.headers["x-credits-charged"] == "4"
    assert balance_of(tenant.id) == 6

    response = upload(client, tenant.api_key, sample("coffee.jpg"), shadow="false")
    assert response.headers["x-credits-charged"] == "1"
    assert balance_of(tenant.id) == 5


def test_one_request_id_follows_the_photo_from_ingress_to_worker_logs(
    client, make_tenant, sessions, worker
):
    from sqlalchemy import text

    tenant = make_tenant()
    response = client.post(
        ENDPOINT,
        headers={"X-API-Key": tenant.api_key, "X-Request-ID": "trace-0123456789"},
        files={"image": ("p", sample("chelsea.jpg"))},
    )
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "trace-0123456789"
    with sessions() as session:
        job_id = session.scalar(
            text("SELECT id FROM jobs WHERE tenant_id = :t AND request_id = :r"),
            {"t": tenant.id, "r": "trace-0123456789"},
        )
    assert job_id is not None

    records = [
        json.loads(line) for line in worker.log.read_text().splitlines() if line.startswith("{")
    ]
    done = [r for r in records if r.get("job_id") == str(job_id) and "succeeded" in r["message"]]
    assert done, "the worker logged the job's success as JSON"
    assert done[0]["request_id"] == "trace-0123456789"


def test_logs_hold_no_api_keys_or_signed_urls(client, make_tenant, api, worker):
    tenant = make_tenant()
    response = upload(client, tenant.api_key, sample("coffee.jpg"))
    assert response.status_code == 200
    for log in (api.log, worker.log):
        text = log.read_text()
        assert tenant.api_key not in text
        assert "X-Amz-Signature" not in text
