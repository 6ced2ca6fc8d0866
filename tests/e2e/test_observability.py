"""Metrics and readiness of the real API and worker processes, read after real jobs."""

from __future__ import annotations

import io
import json

import httpx
import numpy as np
from PIL import Image

from tests.images import sample
from tests.scrape import scrape, value
from workers.contract import queue_name

ENDPOINT = "/v1/remove-background"
ROUTE = "/v1/remove-background"


def _blank_png() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((300, 300, 3), 255, np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def test_api_metrics_count_requests_by_route_status_and_latency(client, api, make_tenant, settings):
    tenant = make_tenant()
    before = scrape(api.url)

    ok = client.post(
        ENDPOINT,
        headers={"X-API-Key": tenant.api_key},
        files={"image": ("p", sample("chelsea.jpg"))},
    )
    refused = client.post(ENDPOINT, headers={"X-API-Key": "nope"}, files={"image": ("p", b"x")})
    missing = client.get("/no/such/path/12345")
    assert (ok.status_code, refused.status_code, missing.status_code) == (200, 401, 404)

    after = scrape(api.url)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("cutout_http_requests_total", route=ROUTE, status="200", method="POST") == 1
    assert moved("cutout_http_requests_total", route=ROUTE, status="401", method="POST") == 1
    # Unknown paths are counted under one label, never under the raw path.
    assert moved("cutout_http_requests_total", route="unmatched", status="404") == 1
    assert not any("/no/such/path" in str(labels) for _, labels in after)
    assert moved("cutout_http_request_duration_seconds_count", route=ROUTE) == 2
    assert moved("cutout_http_request_duration_seconds_sum", route=ROUTE) > 0
    # The API debits; the debit is counted once it commits.
    assert moved("cutout_credits_debited_total") == 1
    queue = queue_name(settings.redis_namespace, "cpu")
    assert ("cutout_queue_depth", frozenset({("queue", queue)})) in after


def test_worker_metrics_move_after_a_real_job(client, worker, make_tenant, balance_of):
    tenant = make_tenant(credits=10)
    before = scrape(worker.url)

    ok = client.post(
        ENDPOINT,
        headers={"X-API-Key": tenant.api_key},
        files={"image": ("p", sample("coffee.jpg"))},
        data={"shadow": "true"},
    )
    failed = client.post(
        ENDPOINT, headers={"X-API-Key": tenant.api_key}, files={"image": ("p", _blank_png())}
    )
    assert ok.status_code == 200, ok.text
    assert failed.json()["error_code"] == "unknown_foreground"
    assert balance_of(tenant.id) == 6  # 4 for the shadow job; the failed one refunded

    after = scrape(worker.url)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    for stage in (
        "download",
        "decode",
        "resize",
        "inference",
        "refine",
        "encode",
        "upload",
        "shadow",
    ):
        assert moved("cutout_job_stage_seconds_count", stage=stage) == 1, stage
        assert moved("cutout_job_stage_seconds_sum", stage=stage) > 0, stage
    assert moved("cutout_jobs_finished_total", outcome="succeeded") == 1
    assert (
        moved("cutout_jobs_finished_total", outcome="failed", error_code="unknown_foreground") == 1
    )
    assert moved("cutout_credits_refunded_total") == 1
    # Loaded once per pool process, before the first job; the CPU build runs on the CPU provider.
    assert value(after, "cutout_model_load_seconds", model="u2netp") > 0
    assert value(after, "cutout_execution_provider", provider="CPUExecutionProvider") == 1


def test_readiness_reports_services_and_loaded_workers(api, worker):
    api_ready = httpx.get(f"{api.url}/readyz", timeout=10)
    assert api_ready.status_code == 200
    body = api_ready.json()
    assert body["checks"] == {"postgres": "ok", "redis": "ok", "s3": "ok"}
    pids = {w["pid"] for w in body["workers"]}
    assert any(
        w["model"] == "u2netp" and w["provider"] == "CPUExecutionProvider" for w in body["workers"]
    )

    worker_ready = httpx.get(f"{worker.url}/readyz", timeout=10)
    assert worker_ready.status_code == 200, worker_ready.text
    report = worker_ready.json()
    assert report["checks"] == {
        "consuming": "ok",
        "redis": "ok",
        "postgres": "ok",
        "s3": "ok",
        "model": "ok",
    }
    # The worker's pool process is among those the API lists.
    assert {p["pid"] for p in report["processes"]} <= pids
    assert httpx.get(f"{worker.url}/healthz", timeout=5).json() == {"status": "ok"}


def test_api_readiness_is_503_and_names_the_part_that_is_down(private_stack):
    from cutout import devstack

    nobody = f"http://127.0.0.1:{devstack.free_port()}"  # a port no process listens on
    api = private_stack("api", CUTOUT_S3_ENDPOINT_URL=nobody, CUTOUT_S3_CREATE_BUCKET="false")

    response = httpx.get(f"{api.url}/readyz", timeout=30)

    assert response.status_code == 503
    assert response.json()["checks"] == {"postgres": "ok", "redis": "ok", "s3": "unavailable"}
    assert httpx.get(f"{api.url}/healthz", timeout=5).status_code == 200


def test_logs_are_json_with_request_ids_and_hold_no_secrets(
    client, make_tenant, api, worker, settings, photo_server
):
    tenant = make_tenant()
    # A caller's image_url that is itself presigned: its signature must not reach our logs.
    signed_input = f"{photo_server}/chelsea.jpg?X-Amz-Signature=callers0secret0signature"
    response = client.post(
        ENDPOINT,
        headers={"X-API-Key": tenant.api_key, "X-Request-ID": "no-secrets-0001"},
        json={"image_url": signed_input},
    )
    assert response.status_code == 200, response.text
    ok = client.post(
        ENDPOINT,
        headers={"X-API-Key": tenant.api_key, "X-Request-ID": "no-secrets-0002"},
        files={"image": ("p", sample("chelsea.jpg"))},
    )
    result_url = ok.json()["result_url"]
    assert "X-Amz-Signature=" in result_url
    secrets = [
        tenant.api_key,
        settings.api_key_secret.get_secret_value(),
        "X-Amz-Signature",
        "callers0secret0signature",
        result_url,
    ]
    for log, request_id in ((api.log, "no-secrets-0001"), (worker.log, "no-secrets-0002")):
        text = log.read_text()
        for secret in secrets:
            assert secret not in text, (log.name, secret)
        records = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
        assert any(r.get("request_id") == request_id for r in records), log.name
    # The API did log the download (httpx does), with the query string cut off.
    fetched = [
        json.loads(line)["message"]
        for line in api.log.read_text().splitlines()
        if "no-secrets-0001" in line and "chelsea.jpg" in line
    ]
    assert fetched, "the image_url download was logged"
    assert all("chelsea.jpg?[redacted]" in message for message in fetched)
