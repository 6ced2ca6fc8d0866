"""``Cutout`` against the real stack: results, typed errors, retries and Idempotency-Key."""

from __future__ import annotations

import httpx
import pytest

from cutout import devstack
from cutout_client import (
    Cutout,
    Light,
    RetryPolicy,
    Shadow,
)
from cutout_client.errors import (
    AuthenticationError,
    InputError,
    InsufficientCredits,
    InvalidAuthToken,
    MalformedImage,
    RateLimitExceeded,
)
from tests.images import CAR, assert_matches_truth, eval_item, rgba, sample
from tests.job_rows import shadow_options


def test_upload_from_a_path_returns_the_png_and_the_credits(sdk, balance_of, tmp_path):
    client, tenant = sdk
    item = eval_item(CAR)

    result = client.remove_background(item.image)

    assert result.png is not None
    assert result.result_url is None
    assert_matches_truth(result.png, item)
    assert result.credits_charged == 1
    assert result.credits_remaining == balance_of(tenant.id) == 19
    assert result.request_id
    saved = result.save(tmp_path / "car.png")
    assert saved.read_bytes() == result.png


def test_image_url_with_a_placed_light_returns_a_url_and_costs_four(
    sdk, photo_server, balance_of, sessions
):
    client, tenant = sdk
    plain = client.remove_background(image_url=f"{photo_server}/coffee.jpg")
    shadowed = client.remove_background(
        image_url=f"{photo_server}/coffee.jpg",
        shadow=Shadow(opacity=0.8, light=Light(x=0.5, y=-0.8, z=0.4, size=0.2)),
        as_url=True,
    )

    assert shadowed.result_url is not None
    assert shadowed.png is None
    assert shadowed.credits_charged == 4
    assert balance_of(tenant.id) == 20 - 1 - 4
    assert rgba(plain.png).shape == rgba(client.download(shadowed.result_url)).shape
    assert shadow_options(sessions, tenant.id) == [
        None,
        {"opacity": 0.8, "size": 0.2, "x": 0.5, "y": -0.8, "z": 0.4, "automatic": False},
    ]


def test_each_error_code_raises_its_own_class_and_costs_nothing(sdk, api, balance_of):
    client, tenant = sdk
    with pytest.raises(MalformedImage) as bad_image:
        client.remove_background(b"definitely not an image")
    assert isinstance(bad_image.value, InputError)
    assert bad_image.value.status == 400
    assert bad_image.value.error_code == "malformed_image"
    assert bad_image.value.request_id

    with (
        Cutout(api_key="ck_live_wrong", base_url=api.url) as stranger,
        pytest.raises(InvalidAuthToken) as bad_key,
    ):
        stranger.remove_background(sample("coffee.jpg"))
    assert isinstance(bad_key.value, AuthenticationError)
    assert bad_key.value.status == 401
    assert balance_of(tenant.id) == 20


def test_insufficient_credits_is_typed_and_charges_nothing(api, worker, make_tenant, balance_of):
    tenant = make_tenant(credits=3)
    with (
        Cutout(api_key=tenant.api_key, base_url=api.url) as client,
        pytest.raises(InsufficientCredits) as refused,
    ):
        client.remove_background(sample("coffee.jpg"), shadow=True)
    assert refused.value.status == 403
    assert balance_of(tenant.id) == 3


def _use_up_the_burst(url: str, key: str) -> None:
    """One request a tenant with burst 1 may send at once, spent on a fast refusal (400)."""
    spent = httpx.post(f"{url}/v1/remove-background", headers={"X-API-Key": key}, json={})
    assert spent.status_code == 400


def test_a_429_is_retried_after_retry_after_with_the_same_idempotency_key(
    api, worker, make_tenant, recorder, balance_of
):
    # 30 a minute, one at once: right after a request the next is refused for about 2 s.
    tenant = make_tenant(credits=10, per_minute=30, burst=1)
    http = httpx.Client(transport=recorder, timeout=90)
    with Cutout(api_key=tenant.api_key, base_url=api.url, http_client=http) as client:
        _use_up_the_burst(api.url, tenant.api_key)
        result = client.remove_background(sample("coffee.jpg"))
    http.close()

    assert result.credits_charged == 1
    statuses = [status for status, _ in recorder.exchanges]
    assert statuses == [429, 200]
    keys = {key for _, key in recorder.exchanges}
    assert len(keys) == 1, "every retry of one call reuses its Idempotency-Key"
    assert None not in keys
    assert balance_of(tenant.id) == 9


def test_each_call_has_its_own_idempotency_key(sdk, recorder):
    client, _ = sdk
    client.remove_background(sample("coffee.jpg"))
    client.remove_background(sample("coffee.jpg"))
    first, second = (key for _, key in recorder.exchanges)
    assert first != second


def test_without_retries_a_429_surfaces_with_its_retry_after(api, worker, make_tenant, balance_of):
    tenant = make_tenant(credits=10, per_minute=30, burst=1)
    policy = RetryPolicy(max_retries=0)
    with Cutout(api_key=tenant.api_key, base_url=api.url, retry=policy) as client:
        _use_up_the_burst(api.url, tenant.api_key)
        with pytest.raises(RateLimitExceeded) as limited:
            client.remove_background(sample("coffee.jpg"))
    assert limited.value.status == 429
    assert limited.value.retry_after is not None
    assert limited.value.retry_after >= 1
    assert balance_of(tenant.id) == 10


def test_a_refused_connection_is_retried_with_one_key_then_raises():
    keys: list[str] = []
    http = httpx.Client(
        event_hooks={"request": [lambda request: keys.append(request.headers["idempotency-key"])]}
    )
    policy = RetryPolicy(max_retries=2, initial_wait=0.01, max_wait=0.02)
    nobody = f"http://127.0.0.1:{devstack.free_port()}"  # nothing listens there
    with (
        Cutout(api_key="ck_unused", base_url=nobody, retry=policy, http_client=http) as client,
        pytest.raises(httpx.ConnectError),
    ):
        client.remove_background(sample("coffee.jpg"))
    http.close()
    assert len(keys) == 3
    assert len(set(keys)) == 1
