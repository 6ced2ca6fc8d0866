"""Where the API keeps an upload until a worker reads it: Redis when small, S3 otherwise.

Real API and worker processes (storage/inline_inputs.py; docs/operations.md, "Small inputs in
Redis"); the worker side of a lost input is in tests/workers/test_inline_inputs.py.
"""

from __future__ import annotations

import uuid

import httpx
import redis

from storage import inline_inputs, jobs
from tests.e2e.async_helpers import finished_job
from tests.images import rgba, sample

JOBS = "/v1/jobs/remove-background"


def input_key_of(sessions, job_id: str) -> str:
    with sessions() as session:
        job = jobs.get(session, uuid.UUID(job_id))
    assert job is not None
    return job.input_key


def test_a_small_upload_travels_in_redis_and_is_gone_once_its_job_ends(
    client, make_tenant, sessions, stack_env, balance_of
):
    tenant = make_tenant(credits=10)
    photo = sample("coffee.jpg")  # 80 KB
    response = client.post(JOBS, headers={"X-API-Key": tenant.api_key}, files={"image": photo})
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    key = input_key_of(sessions, job_id)
    assert inline_inputs.is_inline(key)

    job = finished_job(client, tenant.api_key, job_id)
    assert job["status"] == "succeeded", job
    alpha = rgba(httpx.get(job["result_url"]).content)[..., 3]
    assert alpha.shape == (400, 600)
    assert (alpha == 0).mean() > 0.2, "background removed"
    assert (alpha == 255).mean() > 0.05, "subject kept"
    assert balance_of(tenant.id) == 9
    stored = redis.Redis.from_url(stack_env["CUTOUT_REDIS_URL"])
    assert stored.exists(inline_inputs.redis_key(key)) == 0


def test_an_upload_over_the_bound_goes_to_s3(private_stack, make_tenant, sessions, store):
    api = private_stack("api", CUTOUT_INLINE_INPUT_MAX_BYTES="1000")
    tenant = make_tenant(credits=10)
    photo = sample("chelsea.jpg")  # 38 KB
    response = httpx.post(
        api.url + JOBS,
        headers={"X-API-Key": tenant.api_key},
        files={"image": ("cat.jpg", photo)},
        timeout=60,
    )
    assert response.status_code == 202, response.text
    key = input_key_of(sessions, response.json()["job_id"])
    assert key == f"inputs/{tenant.id}/{response.json()['job_id']}"
    assert store.get(key) == photo
