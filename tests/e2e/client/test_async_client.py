"""``AsyncCutout`` against the real stack: many calls at once, typed errors."""

from __future__ import annotations

import anyio
import pytest

from cutout_client import AsyncCutout
from cutout_client.errors import InvalidParameter, UnsupportedImageFormat
from tests.images import CAR, assert_matches_truth, encode, eval_item


async def test_concurrent_calls_each_return_a_real_cutout(api, worker, make_tenant, balance_of):
    tenant = make_tenant(credits=10)
    item = eval_item(CAR)
    data = item.image.read_bytes()
    results = []

    async with AsyncCutout(api_key=tenant.api_key, base_url=api.url) as client:

        async def one() -> None:
            results.append(await client.remove_background(data))

        async with anyio.create_task_group() as group:
            for _ in range(2):
                group.start_soon(one)

    assert len(results) == 2
    for result in results:
        assert_matches_truth(result.png, item)
        assert result.credits_charged == 1
    assert balance_of(tenant.id) == 8


async def test_async_errors_are_typed(api, worker, make_tenant, balance_of):
    import numpy as np

    tenant = make_tenant(credits=5)
    gif = encode(np.zeros((80, 80, 3), np.uint8), "GIF")
    async with AsyncCutout(api_key=tenant.api_key, base_url=api.url) as client:
        with pytest.raises(UnsupportedImageFormat) as refused:
            await client.remove_background(gif)
        assert refused.value.status == 400
        with pytest.raises(ValueError, match="image_url"):
            await client.remove_background()
        with pytest.raises(InvalidParameter) as not_http:
            await client.remove_background(image_url="ftp://example.com/shoe.jpg")
        assert "image_url" in not_http.value.message
    assert balance_of(tenant.id) == 5
