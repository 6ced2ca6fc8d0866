"""The shadow's properties (issue 5), measured on the pixels of real photos' cut-outs.

Photos with floor in front of the subject (the studio car, front and side views, and two ECSSD
objects standing above the bottom edge), so the shadow of a light behind the subject is in view.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest

from tests.images import eval_item, rgba
from tests.workers.shadow_measures import (
    centroid,
    distance_from_contact,
    edge_sharpness,
    footing,
    shadow_alpha,
    subject_centre_x,
)
from workers.contract import JobOptions, ShadowOptions
from workers.pipeline.run import run_pipeline
from workers.pipeline.shadow import render_shadow

PHOTOS = ["carvana_0cdf5b5d0ce1_01", "carvana_0cdf5b5d0ce1_05", "ecssd_0952", "ecssd_0013"]
# A light low and to the side, so the shadow lies across the floor beside the subject.
SIDE_LIGHT = {"x": -0.8, "y": 0.0}


def extent(plain: np.ndarray, shadow: np.ndarray, floor: float = 0.02) -> float:
    """How far the visible shadow reaches from the ground under the subject, in its heights."""
    distance = distance_from_contact(plain, whole_width=True)
    return float(np.percentile(distance[shadow >= floor], 99))


@pytest.mark.parametrize("name", PHOTOS)
def test_the_shadow_falls_on_the_side_away_from_the_light(cutout, name):
    plain = cutout(name)
    subject_x = subject_centre_x(plain)
    offsets = [
        centroid(shadow_alpha(plain, render_shadow(plain, ShadowOptions(x=x))))[0] - subject_x
        for x in (-1.0, -0.5, 0.0, 0.5, 1.0)
    ]
    assert offsets[0] > 0, "a light on the left casts the shadow to the right of the subject"
    assert offsets[-1] < 0, "a light on the right casts it to the left"
    assert all(a > b for a, b in pairwise(offsets)), offsets


def light_near_the_subject(plain: np.ndarray) -> dict[str, float]:
    """x, y putting the light's foot 0.25 subject heights left of the base, 0.1 behind it."""
    base = footing(plain)
    rows, columns = plain.shape[:2]
    foot_x = base.base_centre - 0.25 * base.height
    foot_y = base.contact_row - 0.1 * base.height
    return {"x": foot_x / (columns / 2) - 1, "y": foot_y / (rows / 2) - 1}


@pytest.mark.parametrize("name", PHOTOS[:3])
def test_a_lower_light_casts_a_longer_shadow_and_a_high_one_only_a_contact_shadow(cutout, name):
    plain = cutout(name)
    heights = (0.2, 0.5, 0.7, 1.0, 2.0)
    for light in (SIDE_LIGHT, light_near_the_subject(plain)):
        reaches = [
            extent(plain, shadow_alpha(plain, render_shadow(plain, ShadowOptions(z=z, **light))))
            for z in heights
        ]
        # Non-increasing; a long shadow the frame cuts off reaches the frame whatever z (±2%).
        assert all(a >= 0.98 * b for a, b in pairwise(reaches)), reaches
        assert reaches[2] > reaches[3] > reaches[4], reaches
    # With the light just beside the subject: long when low, a contact shadow when high.
    assert reaches[0] > 4 * reaches[-1], reaches
    assert reaches[-1] < 0.2, reaches


@pytest.mark.parametrize("name", PHOTOS[:3])
def test_a_larger_light_softens_the_edges(cutout, name):
    plain = cutout(name)
    cast = distance_from_contact(plain) > 0.1  # the cast shadow, beyond the contact shadow
    sharpness = []
    for size in (0.0, 0.3, 0.6, 1.0):
        shadow = shadow_alpha(plain, render_shadow(plain, ShadowOptions(size=size, **SIDE_LIGHT)))
        sharpness.append(edge_sharpness(shadow, cast & (shadow > 0.01)))
    assert all(a > b for a, b in pairwise(sharpness)), sharpness
    assert sharpness[0] > 1.5 * sharpness[-1], sharpness


@pytest.mark.parametrize("name", PHOTOS[:3])
def test_contact_hardening_and_a_dark_contact_shadow(cutout, name):
    plain = cutout(name)
    options = ShadowOptions(size=1.0, opacity=1.0, **SIDE_LIGHT)
    shadow = shadow_alpha(plain, render_shadow(plain, options))
    distance = distance_from_contact(plain)
    near = (distance < 0.1) & (shadow > 0.01)
    far = (distance > 0.3) & (distance < 1.5) & (shadow > 0.01)
    assert edge_sharpness(shadow, near) > 2 * edge_sharpness(shadow, far)

    base = footing(plain)
    columns = np.flatnonzero(base.footprint)
    under = shadow[base.contact_row + 1 : base.contact_row + 3, columns]
    assert np.median(under) > 0.7, "the contact shadow is dark"
    assert np.median(under) > np.percentile(shadow[distance > 0.2], 99), "darker than the rest"


@pytest.mark.parametrize("name", PHOTOS[::3])
def test_opacity_scales_the_darkness_linearly(cutout, name):
    plain = cutout(name)
    shadows = {
        opacity: shadow_alpha(plain, render_shadow(plain, ShadowOptions(opacity=opacity)))
        for opacity in (0.25, 0.5, 1.0)
    }
    full = shadows[1.0]
    assert full.max() > 0.5
    for opacity in (0.25, 0.5):
        # Exact but for rounding, once at the working resolution and once scaling back up.
        error = np.abs(shadows[opacity] - opacity * full)[plain[..., 3] == 0]
        assert error.max() <= 1.5 / 255
        assert shadows[opacity].mean() == pytest.approx(opacity * full.mean(), rel=0.01)


def test_opacity_zero_is_no_shadow_at_all(segmenter):
    data = eval_item("carvana_0cdf5b5d0ce1_01").image.read_bytes()
    without = run_pipeline(data, JobOptions(), segmenter).png
    zero = run_pipeline(data, JobOptions(shadow=ShadowOptions(opacity=0.0)), segmenter)
    assert zero.png == without
    assert zero.shadow is not None
    assert zero.shadow.opacity == 0.0


@pytest.mark.parametrize("name", PHOTOS[:2])
def test_the_subject_is_unchanged_and_the_shadow_is_black_under_it(cutout, name):
    plain = cutout(name)
    shaded = render_shadow(plain, ShadowOptions(opacity=0.8))
    assert shaded.shape == plain.shape

    opaque = plain[..., 3] == 255
    assert np.array_equal(shaded[opaque], plain[opaque]), "opaque subject pixels are untouched"
    soft = (plain[..., 3] > 0) & ~opaque
    # Soft edges gain the shadow beneath them but keep their own premultiplied colour.
    before = plain[soft][:, :3].astype(float) * plain[soft][:, 3:] / 255
    after = shaded[soft][:, :3].astype(float) * shaded[soft][:, 3:] / 255
    assert np.abs(after - before).max() <= 1.0
    assert np.all(shaded[soft][:, 3] >= plain[soft][:, 3])

    shadow = (plain[..., 3] == 0) & (shaded[..., 3] > 0)
    assert shadow.sum() > 0.01 * shadow.size
    assert shaded[shadow][:, :3].max() == 0, "the shadow is black"
    assert shaded[shadow][:, 3].max() <= round(0.8 * 255), "and semi-transparent"
    untouched = (plain[..., 3] == 0) & (shaded[..., 3] == 0)
    assert np.array_equal(shaded[untouched], plain[untouched])


def test_same_input_same_parameters_same_bytes(segmenter):
    data = eval_item("ecssd_0013").image.read_bytes()
    for shadow in (ShadowOptions(x=0.4, y=-0.2, z=0.5, size=0.7), ShadowOptions(automatic=True)):
        options = JobOptions(shadow=shadow)
        first, second = (run_pipeline(data, options, segmenter) for _ in range(2))
        assert first.png == second.png
        assert first.shadow == second.shadow
        out = rgba(first.png)
        assert out.shape[:2] == (400, 267), "the canvas keeps the input's size"
