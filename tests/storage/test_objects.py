"""Object storage: keys scoped by tenant and job; presigned URLs for the public endpoint."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlparse

import httpx

from storage.objects import ObjectStore, input_key, result_key


def test_keys_are_scoped_by_tenant_and_job():
    tenant, job = uuid.uuid4(), uuid.uuid4()
    assert input_key(tenant, job) == f"inputs/{tenant}/{job}"
    assert result_key(tenant, job) == f"results/{tenant}/{job}.png"


def test_round_trip_through_the_s3_endpoint(store):
    key = f"inputs/{uuid.uuid4()}/probe"
    store.put(key, b"payload")
    assert store.get(key) == b"payload"
    url = store.presigned_get(key)
    assert httpx.get(url).content == b"payload"


def test_presigned_urls_are_signed_for_the_public_endpoint(settings):
    public = settings.model_copy(
        update={
            "s3_public_endpoint_url": "https://files.example.com",
            "result_url_ttl_seconds": 3600,
        }
    )
    url = ObjectStore(public).presigned_get("results/t/j.png")
    parsed = urlparse(url)
    query = parse_qs(parsed.query)
    assert parsed.scheme == "https"
    assert parsed.netloc == "files.example.com"
    assert parsed.path == f"/{settings.s3_bucket}/results/t/j.png"
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Expires"] == ["3600"]
    assert query["X-Amz-SignedHeaders"] == ["host"]
    assert query["X-Amz-Credential"][0].endswith(f"/{settings.s3_region}/s3/aws4_request")
