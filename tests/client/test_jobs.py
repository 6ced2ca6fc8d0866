"""The asynchronous jobs and batches helpers, against the real server's jobs API.

They skip on a server without ``/v1/jobs`` (the jobs API lands separately).
"""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from cutout_client import AsyncCutout, BatchItem, Cutout, JobFailed
from tests.images import CAR, assert_matches_truth, encode, eval_item, sample


@pytest.fixture
def jobs_api(api, worker) -> str:
    paths = httpx.get(f"{api.url}/openapi.json").json()["paths"]
    if "/v1/jobs/remove-background" not in paths:
        pytest.skip("this server has no jobs API yet")
    return api.url


def test_submit_then_wait_returns_a_fresh_result_url(jobs_api, make_tenant, balance_of):
    tenant = make_tenant(credits=10)
    item = eval_item(CAR)
    with Cutout(api_key=tenant.api_key, base_url=jobs_api) as client:
        accepted = client.submit_job(item.image)
        assert accepted.job_id
        job = client.wait_for_job(accepted.job_id, timeout=120)
        assert job.status == "succeeded"
        assert job.result_url
        assert_matches_truth(client.download(job.result_url), item)
    assert balance_of(tenant.id) == 9


def test_a_failed_job_raises_job_failed_and_is_refunded(jobs_api, make_tenant, balance_of):
    tenant = make_tenant(credits=10)
    blank = encode(np.full((128, 128, 3), 200, np.uint8), "PNG")  # no subject at all
    with Cutout(api_key=tenant.api_key, base_url=jobs_api) as client:
        accepted = client.submit_job(blank)
        with pytest.raises(JobFailed) as failed:
            client.wait_for_job(accepted.job_id, timeout=120)
    assert failed.value.error_code == "unknown_foreground"
    assert balance_of(tenant.id) == 10


async def test_a_batch_runs_every_item(jobs_api, make_tenant, photo_server, balance_of):
    tenant = make_tenant(credits=10)
    items = [
        BatchItem(image=sample("coffee.jpg"), filename="coffee.jpg"),
        BatchItem(image_url=f"{photo_server}/chelsea.jpg"),
    ]
    async with AsyncCutout(api_key=tenant.api_key, base_url=jobs_api) as client:
        batch = await client.submit_batch(items)
        done = await client.wait_for_batch(batch.id, timeout=180)
    assert len(done.jobs) == 2
    assert {job.status for job in done.jobs} == {"succeeded"}
    assert balance_of(tenant.id) == 8
