"""Shadows through the real HTTP API: API process, Celery worker, Postgres, Redis, S3.

The shadow's own properties are tested on the pipeline (tests/workers/test_shadow.py); here,
that a request's light reaches the renderer, the shadow is in the PNG, the job costs 4 credits,
and the light used comes back in ``X-Shadow-Light`` and can be sent again to get the same bytes.
"""

from __future__ import annotations

import json

import numpy as np
from sqlalchemy import text

from tests.e2e.async_helpers import finished_job
from tests.e2e.test_remove_background import upload
from tests.images import eval_item, rgba
from tests.workers.shadow_measures import centroid, shadow_alpha, subject_centre_x

CAR = "carvana_0cdf5b5d0ce1_01"


def light(x: float, opacity: float = 0.6) -> dict:
    return {
        "opacity": opacity,
        "light_source": {"size": 0.3, "position": {"x": x, "y": -0.6, "z": 0.7}},
    }


def test_a_manual_shadow_falls_away_from_the_light_and_costs_four_credits(
    client, make_tenant, balance_of, sessions
):
    tenant = make_tenant(credits=20)
    photo = eval_item(CAR).image.read_bytes()

    plain = upload(client, tenant.api_key, photo, accept="image/png")
    assert plain.headers["x-credits-charged"] == "1"
    assert "x-shadow-light" not in plain.headers
    cut = rgba(plain.content)

    offsets = {}
    for x in (-1.0, 1.0):
        response = upload(
            client, tenant.api_key, photo, accept="image/png", shadow=json.dumps(light(x))
        )
        assert response.status_code == 200, response.text
        assert response.headers["x-credits-charged"] == "4"
        assert response.headers["x-shadow-light-source"] == "manual"
        assert json.loads(response.headers["x-shadow-light"]) == light(x)
        shaded = rgba(response.content)
        assert shaded.shape == cut.shape, "the canvas keeps the input's size"
        opaque = cut[..., 3] == 255
        assert np.array_equal(shaded[opaque], cut[opaque]), "the subject is unchanged"
        shadow = shadow_alpha(cut, shaded)
        assert 0.5 < shadow[cut[..., 3] == 0].max() <= 0.6 + 1 / 255
        offsets[x] = centroid(shadow)[0] - subject_centre_x(cut)
    assert offsets[-1.0] > 0 > offsets[1.0], offsets
    assert balance_of(tenant.id) == 20 - 1 - 4 - 4

    with sessions() as session:
        recorded = session.execute(
            text(
                "SELECT shadow_light FROM jobs WHERE tenant_id = :tenant ORDER BY created_at DESC"
                " LIMIT 1"
            ),
            {"tenant": tenant.id},
        ).scalar_one()
    assert recorded["source"] == "manual"
    assert recorded["x"] == 1.0


def test_an_automatic_shadow_reports_a_light_that_reproduces_it(client, make_tenant):
    tenant = make_tenant(credits=20)
    photo = eval_item("carvana_0cdf5b5d0ce1_05").image.read_bytes()

    automatic = upload(client, tenant.api_key, photo, accept="image/png", shadow="true")
    assert automatic.status_code == 200, automatic.text
    assert automatic.headers["x-credits-charged"] == "4"
    assert automatic.headers["x-shadow-light-source"] == "estimated"
    used = json.loads(automatic.headers["x-shadow-light"])
    assert set(used) == {"opacity", "light_source"}

    again = upload(client, tenant.api_key, photo, accept="image/png", shadow=json.dumps(used))
    assert again.headers["x-shadow-light-source"] == "manual"
    assert again.content == automatic.content, "the reported light renders the same shadow"


def test_without_a_cue_the_defaults_are_used_and_reported(client, make_tenant, photo_server):
    tenant = make_tenant(credits=10)
    response = client.post(
        "/v1/remove-background",
        headers={"X-API-Key": tenant.api_key},
        json={"image_url": f"{photo_server}/chelsea.jpg", "shadow": {"opacity": 0.4}},
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-shadow-light-source"] == "default"
    assert json.loads(response.headers["x-shadow-light"]) == {
        "opacity": 0.4,
        "light_source": {"size": 0.3, "position": {"x": -0.3, "y": -0.6, "z": 0.7}},
    }


def test_an_async_job_reports_its_shadow_light(client, make_tenant):
    tenant = make_tenant(credits=10)
    response = client.post(
        "/v1/jobs/remove-background",
        headers={"X-API-Key": tenant.api_key},
        files={"image": ("car.jpg", eval_item(CAR).image.read_bytes())},
        data={"shadow": "true"},
    )
    assert response.status_code == 202, response.text
    job = finished_job(client, tenant.api_key, response.json()["job_id"])
    assert job["status"] == "succeeded", job
    assert job["credits_charged"] == 4
    assert job["shadow_light"]["source"] == "estimated"
    assert job["shadow_light"]["cue"] == "cast_shadow"
    assert set(job["shadow_light"]) >= {"opacity", "size", "x", "y", "z"}
