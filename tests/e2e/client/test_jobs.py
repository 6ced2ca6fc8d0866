"""The asynchronous jobs and batches helpers, against the real server's jobs API."""

from __future__ import annotations

import numpy as np
import pytest

from cutout_client import AsyncCutout, BatchItem, Cutout, JobFailed
from tests.images import CAR, assert_matches_truth, encode, eval_item, rgba, sample


def test_submit_then_wait_returns_a_fresh_result_url(api, worker, make_tenant, balance_of):
    tenant = make_tenant(credits=10)
    item = eval_item(CAR)
    with Cutout(api_key=tenant.api_key, base_url=api.url) as client:
        accepted = client.submit_job(item.image)
        assert accepted.job_id
        assert accepted.credits_charged == 1
        assert accepted.status_url.endswith(f"/v1/jobs/{accepted.job_id}")
        job = client.wait_for_job(accepted.job_id, timeout=120)
        assert job.status == "succeeded"
        assert job.id == accepted.job_id
        assert job.credits_charged == 1
        assert job.finished_at is not None
        assert job.result_url
        assert_matches_truth(client.download(job.result_url), item)
    assert balance_of(tenant.id) == 9


def test_a_failed_job_raises_job_failed_and_is_refunded(api, worker, make_tenant, balance_of):
    tenant = make_tenant(credits=10)
    blank = encode(np.full((128, 128, 3), 200, np.uint8), "PNG")  # no subject at all
    with Cutout(api_key=tenant.api_key, base_url=api.url) as client:
        accepted = client.submit_job(blank)
        with pytest.raises(JobFailed) as failed:
            client.wait_for_job(accepted.job_id, timeout=120)
    assert failed.value.error_code == "unknown_foreground"
    assert balance_of(tenant.id) == 10


async def test_a_batch_runs_every_item(api, worker, make_tenant, photo_server, balance_of):
    tenant = make_tenant(credits=10)
    items = [
        BatchItem(image=sample("coffee.jpg"), filename="coffee.jpg"),
        BatchItem(image_url=f"{photo_server}/chelsea.jpg", shadow=True),
    ]
    async with AsyncCutout(api_key=tenant.api_key, base_url=api.url) as client:
        batch = await client.submit_batch(items)
        assert batch.credits_charged == 5
        assert balance_of(tenant.id) == 5  # charged at acceptance
        done = await client.wait_for_batch(batch.batch_id, timeout=180)
        coffee = await client.download(done.jobs[0].result_url)
    assert done.done
    assert [job.id for job in done.jobs] == list(batch.job_ids)
    assert [job.status for job in done.jobs] == ["succeeded", "succeeded"]
    assert done.counts.get("succeeded") == 2
    assert rgba(coffee).shape == (400, 600, 4)
    assert balance_of(tenant.id) == 5
