"""``shadow: true``: the light estimated from the photo, checked on real photos and real cut-outs.

A photo with a known light is made from a real cut-out: the subject is put back on a plain floor
on which our renderer has cast its shadow from that light (as a studio photo would have it),
then the estimate must find the light on the same side and in about the same direction.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.images import eval_item
from tests.workers.shadow_measures import footing
from workers.contract import LightSource, ShadowLight, ShadowOptions
from workers.pipeline.light_estimate import estimate_light
from workers.pipeline.shadow import shadow_density
from workers.pipeline.working import from_working

FLOOR = 200  # a light grey studio floor
LIGHTS = [
    {"x": -0.8, "y": 0.0, "z": 0.5},
    {"x": 0.8, "y": -0.6, "z": 0.7},
    {"x": 0.7, "y": 0.2, "z": 0.4},
]


def photo_with_shadow(plain: np.ndarray, light: dict[str, float]) -> np.ndarray:
    """The subject of ``plain`` on a plain, slightly noisy floor darkened by its shadow."""
    rng = np.random.default_rng(5)
    rows, columns = plain.shape[:2]
    floor = FLOOR + rng.normal(0, 3, (rows, columns, 1))
    density = from_working(shadow_density(plain[..., 3], ShadowOptions(**light)), plain.shape)
    floor = floor * (1 - 0.6 * density[..., np.newaxis])
    alpha = plain[..., 3:4] / 255
    return np.clip(plain[..., :3] * alpha + floor * (1 - alpha), 0, 255).astype(np.uint8)


def direction_from_base(plain: np.ndarray, x: float, y: float) -> float:
    """The angle (degrees) of the vector from the light's foot to the subject's base point."""
    base = footing(plain)
    rows, columns = plain.shape[:2]
    foot_x, foot_y = columns / 2 * (1 + x), rows / 2 * (1 + y)
    return math.degrees(math.atan2(base.contact_row - foot_y, base.base_centre - foot_x))


def angle_between(a: float, b: float) -> float:
    return abs((a - b + 180) % 360 - 180)


@pytest.mark.parametrize("name", ["carvana_0cdf5b5d0ce1_01", "ecssd_0952", "ecssd_0013"])
@pytest.mark.parametrize("light", LIGHTS, ids=lambda light: f"x{light['x']}y{light['y']}")
def test_the_light_is_found_from_a_cast_shadow_of_known_light(cutout, name, light):
    plain = cutout(name)
    photo = photo_with_shadow(plain, light)

    estimate = estimate_light(photo, plain[..., 3], ShadowOptions(opacity=0.6, automatic=True))

    assert estimate.source == LightSource.ESTIMATED
    assert estimate.cue == "cast_shadow"
    assert estimate.opacity == 0.6, "the caller's opacity is kept"
    truth = direction_from_base(plain, light["x"], light["y"])
    found = direction_from_base(plain, estimate.x, estimate.y)
    assert angle_between(truth, found) < 35, (truth, found, estimate)
    base_x = footing(plain).base_centre / (plain.shape[1] / 2) - 1
    assert np.sign(estimate.x - base_x) == np.sign(light["x"] - base_x), "same side of the subject"


def test_a_real_studio_shadow_under_the_car_is_read(cutout):
    """Carvana's turntable photos have the car's own soft shadow on the floor around it."""
    plain = cutout("carvana_0cdf5b5d0ce1_05")
    estimate = estimate_light(plain[..., :3], plain[..., 3], ShadowOptions(automatic=True))
    assert estimate.source == LightSource.ESTIMATED
    assert estimate.cue == "cast_shadow"
    assert estimate.confidence >= 0.3


def test_the_sun_is_found_from_a_street_photo_shadow(cutout):
    """ccp_0915: a man on a pavement, his shadow stretching back and to the left of his feet:
    the sun is in front of him (below his contact line in the image) and to the right."""
    plain = cutout("ccp_0915")
    estimate = estimate_light(plain[..., :3], plain[..., 3], ShadowOptions(automatic=True))
    assert estimate.cue == "cast_shadow"
    base = footing(plain)
    rows, columns = plain.shape[:2]
    assert columns / 2 * (1 + estimate.x) > base.base_centre, "the light is to the right"
    assert rows / 2 * (1 + estimate.y) > base.contact_row, "and in front of the subject"


@pytest.mark.parametrize("name", ["ecssd_0597", "am_GT06", "ecssd_0375", "ecssd_0952"])
def test_no_cast_shadow_is_invented_where_the_photo_shows_none(cutout, name):
    """Cropped at the feet (no ground in view), on grass, or in the sky: no shadow to read."""
    plain = cutout(name)
    estimate = estimate_light(plain[..., :3], plain[..., 3], ShadowOptions(automatic=True))
    assert estimate.cue != "cast_shadow"


def test_without_any_cue_the_seed_defaults_are_used(cutout):
    plain = cutout("ecssd_0597").copy()
    plain[..., :3] = 128  # a flat grey subject and background: nothing to read at all
    estimate = estimate_light(plain[..., :3], plain[..., 3], ShadowOptions(automatic=True))
    assert estimate == ShadowLight(
        opacity=0.5, size=0.3, x=-0.3, y=-0.6, z=0.7, source=LightSource.DEFAULT
    )


@pytest.mark.parametrize("side", [-1, 1])
def test_shading_tells_the_side_the_light_comes_from(cutout, side):
    """A subject lit from one side (a luminance ramp across it), with no ground in view."""
    item = eval_item("ecssd_0597")
    plain = cutout(item.name).copy()
    base = footing(plain)
    columns = np.arange(plain.shape[1])
    across = np.clip((columns - base.left) / max(1, base.right - base.left), 0, 1)
    gain = 0.55 + 0.9 * (across if side > 0 else 1 - across)
    grey = np.full(plain.shape[:2], 150.0) * gain[np.newaxis, :]
    plain[..., :3] = np.clip(grey, 0, 255).astype(np.uint8)[..., np.newaxis]

    estimate = estimate_light(plain[..., :3], plain[..., 3], ShadowOptions(automatic=True))
    assert estimate.cue == "shading"
    base_x = base.base_centre / (plain.shape[1] / 2) - 1
    assert np.sign(estimate.x - base_x) == side
