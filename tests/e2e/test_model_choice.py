"""The per-request ``model`` field (an additive extension), through real HTTP."""

from __future__ import annotations

import numpy as np

from tests.e2e.test_errors import assert_error
from tests.e2e.test_remove_background import ENDPOINT, upload
from tests.images import rgba, sample


def test_a_model_outside_the_allow_list_is_refused_and_costs_nothing(
    client, make_tenant, balance_of
):
    tenant = make_tenant(credits=3)
    for body in ({"model": "birefnet-general"}, {"model": "../../etc/passwd"}, {"model": 7}):
        response = client.post(
            ENDPOINT,
            headers={"X-API-Key": tenant.api_key},
            json={"image_url": "http://127.0.0.1:9/x.jpg", **body},
        )
        error = assert_error(response, 400, "invalid_parameter")
        assert "model" in error["error"]
    response = upload(client, tenant.api_key, sample("coffee.jpg"), model="isnet-general-use")
    assert "model" in assert_error(response, 400, "invalid_parameter")["error"]
    assert balance_of(tenant.id) == 3


def test_naming_an_allowed_model_cuts_out_the_subject(client, make_tenant, balance_of):
    tenant = make_tenant(credits=3)
    photo = sample("coffee.jpg")
    response = upload(client, tenant.api_key, photo, accept="image/png", model="u2netp")
    assert response.status_code == 200, response.text
    alpha = rgba(response.content)[..., 3]
    assert alpha.shape == (400, 600)
    assert alpha.max() == 255
    assert 0.05 < np.mean(alpha >= 128) < 0.9
    assert balance_of(tenant.id) == 2
