"""Cached keys and remembered refusals in a real API process, changed by the real admin CLI.

The API caches authenticated keys (docs/billing.md, "API keys"): a revocation or a new plan made
with ``cutout admin`` reaches it over Redis at once; without that notice, the cache's TTL
bounds how long a revoked key still works.
"""

from __future__ import annotations

import os
import time

import httpx
import redis
from prometheus_client.parser import text_string_to_metric_families

from storage import api_keys
from storage.db import transaction
from tests.e2e.test_billing import sf_list
from tests.test_cli import cutout

CREDITS = "/v1/credits"


def eventually(check, seconds: float = 30.0) -> bool:
    """True as soon as ``check()`` is; False if it never was within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def admin(stack_env: dict[str, str], namespace: str, *args: str) -> None:
    """``cutout admin …`` as an operator runs it, against the private stack's Redis namespace."""
    env = {**os.environ, **stack_env, "CUTOUT_REDIS_NAMESPACE": namespace}
    done = cutout("admin", *args, env=env)
    assert done.returncode == 0, done.stderr


def status(api_url: str, key: str) -> int:
    return httpx.get(api_url + CREDITS, headers={"X-API-Key": key}, timeout=30).status_code


def test_a_key_revoked_with_the_cli_is_refused_by_a_process_that_had_cached_it(
    private_stack, make_tenant, stack_env
):
    # An hour's TTL: only the notice can make this process forget the key within the test.
    api = private_stack("api", CUTOUT_API_KEY_CACHE_SECONDS="3600")
    tenant = make_tenant()
    assert status(api.url, tenant.api_key) == 200  # looked up once, now cached

    admin(stack_env, private_stack.namespace, "keys", "revoke", tenant.name, tenant.api_key[:10])

    assert eventually(lambda: status(api.url, tenant.api_key) == 401)


def test_a_new_plan_set_with_the_cli_applies_to_a_cached_key(private_stack, make_tenant, stack_env):
    api = private_stack("api", CUTOUT_API_KEY_CACHE_SECONDS="3600")
    tenant = make_tenant(per_minute=1000)
    headers = {"X-API-Key": tenant.api_key}

    def minute_quota() -> int:
        response = httpx.get(api.url + CREDITS, headers=headers, timeout=30)
        return sf_list(response.headers["ratelimit-policy"])["minute"]["q"]

    assert minute_quota() == 1000
    admin(stack_env, private_stack.namespace, "set-plan", tenant.name, "--rate-limit", "7")
    assert eventually(lambda: minute_quota() == 7)


def test_without_a_notice_a_revoked_key_is_refused_once_the_ttl_has_passed(
    private_stack, make_tenant, sessions, settings
):
    api = private_stack("api", CUTOUT_API_KEY_CACHE_SECONDS="1")
    tenant = make_tenant()
    assert status(api.url, tenant.api_key) == 200
    # Revoked in the database only, as if Redis had lost the notice.
    secret = settings.api_key_secret.get_secret_value()
    with transaction(sessions) as session:
        caller = api_keys.find_caller(session, tenant.api_key, secret)
        assert caller is not None
        assert api_keys.revoke_key(session, caller.api_key_id)

    assert eventually(lambda: status(api.url, tenant.api_key) == 401)


def test_a_refused_tenant_gets_the_same_429_from_memory(private_stack, make_tenant, stack_env):
    """Past its limit, a tenant is refused by the API process itself until Redis would admit
    it again: same body and headers, counted under the route, no Redis asked."""
    api = private_stack("api")
    tenant = make_tenant(per_minute=1, burst=1)
    headers = {"X-API-Key": tenant.api_key}
    with httpx.Client(base_url=api.url, timeout=30) as client:
        assert client.get(CREDITS, headers=headers).status_code == 200
        from_redis = client.get(CREDITS, headers=headers)
        assert from_redis.status_code == 429
        # Redis forgets the tenant's window: a refusal now can only come from memory.
        limits = redis.Redis.from_url(stack_env["CUTOUT_REDIS_URL"])
        for key in limits.scan_iter(match=f"{private_stack.namespace}:ratelimit:{tenant.id}:*"):
            limits.delete(key)
        from_memory = client.get(CREDITS, headers=headers)
        metrics = client.get("/metrics").text

    assert from_memory.status_code == 429
    assert (
        from_memory.json()
        == from_redis.json()
        == {
            "error": "Too many requests",
            "error_code": "rate_limit_exceeded",
        }
    )
    assert 1 <= int(from_memory.headers["retry-after"]) <= int(from_redis.headers["retry-after"])
    assert from_memory.headers["ratelimit-policy"] == from_redis.headers["ratelimit-policy"]
    assert sf_list(from_memory.headers["ratelimit"])["minute"]["r"] == 0
    assert from_memory.headers["x-request-id"] != from_redis.headers["x-request-id"]
    counted = {
        (sample.labels["route"], sample.labels["status"]): sample.value
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
        if sample.name == "cutout_http_requests_total"
    }
    assert counted[(CREDITS, "429")] == 2
