"""``shadow: true``: choose the light from the photo, or the seed's defaults when it says nothing.

Two cues, in order of trust:

1. the shadow the subject already casts in the original background
   (:mod:`workers.pipeline.shadow_cue`): gives the light's direction and how low it is;
2. the subject's shading (:mod:`workers.pipeline.shading_cue`): gives only the side the light
   comes from, so x is set from it and y, z keep their defaults.

A cue is used when its confidence reaches its threshold; otherwise the light is the seed's
default (x −0.3, y −0.6, z 0.7, size 0.3) and the source is reported as ``default``. The
caller's opacity is always kept. Cues are read on the working-resolution image the shadow is
rendered from.
"""

from __future__ import annotations

import numpy as np

from workers.contract import LightSource, ShadowLight, ShadowOptions
from workers.pipeline.footing import Footing, find_footing
from workers.pipeline.shading_cue import read_shading
from workers.pipeline.shadow_cue import CENTROID_REACH, OVERHEAD, ShadowCue, find_cast_shadow
from workers.pipeline.shadow_matte import MIN_LIGHT_HEIGHT
from workers.pipeline.working import to_working

CAST_SHADOW_THRESHOLD = 0.3
SHADING_THRESHOLD = 0.35
SHADING_REACH = 0.6  # how far beside the subject a shading cue puts the light, in half-widths
HIGH_LIGHT = 2.0  # z for a shadow gathered under the subject: the light is overhead


def _rounded(value: float) -> float:
    return round(value, 2)


def manual_light(options: ShadowOptions, source: LightSource = LightSource.MANUAL) -> ShadowLight:
    """The light ``options`` describe, as given."""
    return ShadowLight(
        opacity=options.opacity,
        size=options.size,
        x=options.x,
        y=options.y,
        z=options.z,
        source=source,
    )


def _default(options: ShadowOptions) -> ShadowLight:
    return manual_light(options, LightSource.DEFAULT)


def _from_cast_shadow(
    cue: ShadowCue, footing: Footing, shape: tuple[int, ...], options: ShadowOptions
) -> ShadowLight:
    """Invert the shadow model of :mod:`workers.pipeline.shadow_matte`.

    Its shadow's tip lies at ``(B − G)/z`` from the base ``B`` and its centroid at
    ``CENTROID_REACH`` of that, so the cue fixes ``(B − G)/z``. Along that one-parameter family
    of lights the one kept is the one whose position is in the image and whose z is nearest the
    default.
    """
    rows, columns = shape[:2]
    base_x, base_y = footing.base_centre, float(footing.contact_row)
    reach = float(np.hypot(cue.offset_x, cue.offset_y))
    if reach < OVERHEAD * footing.height:
        heights = np.array([HIGH_LIGHT])
        direction = np.zeros(2)
    else:
        heights = np.arange(MIN_LIGHT_HEIGHT, 2.0 + 1e-9, 0.01)
        direction = np.array([cue.offset_x, cue.offset_y]) / CENTROID_REACH
    # The light's foot G = B − z·direction.
    x = (base_x - heights * direction[0]) / (columns / 2) - 1
    y = (base_y - heights * direction[1]) / (rows / 2) - 1
    overshoot = np.maximum(np.abs(x), np.abs(y))
    inside = overshoot <= 1
    if inside.any():
        best = int(np.argmin(np.where(inside, np.abs(heights - options.z), np.inf)))
    else:
        best = int(np.argmin(overshoot))
    return ShadowLight(
        opacity=options.opacity,
        size=options.size,
        x=_rounded(float(np.clip(x[best], -1, 1))),
        y=_rounded(float(np.clip(y[best], -1, 1))),
        z=_rounded(float(heights[best])),
        source=LightSource.ESTIMATED,
        cue="cast_shadow",
        confidence=_rounded(cue.confidence),
    )


def estimate_light(rgb: np.ndarray, alpha: np.ndarray, options: ShadowOptions) -> ShadowLight:
    """The light for an automatic shadow of the subject ``alpha`` in the photo ``rgb``."""
    rgb, alpha = to_working(rgb), to_working(alpha)
    footing = find_footing(alpha)
    if footing is None:
        return _default(options)

    cast = find_cast_shadow(rgb, alpha, footing)
    if cast is not None and cast.confidence >= CAST_SHADOW_THRESHOLD:
        return _from_cast_shadow(cast, footing, alpha.shape, options)

    shading = read_shading(rgb, alpha, footing)
    if shading is not None and shading.confidence >= SHADING_THRESHOLD:
        columns = alpha.shape[1]
        half_width = (footing.right - footing.left) / 2
        foot_x = footing.base_centre + shading.side * SHADING_REACH * max(half_width, columns / 4)
        return ShadowLight(
            opacity=options.opacity,
            size=options.size,
            x=_rounded(float(np.clip(foot_x / (columns / 2) - 1, -1, 1))),
            y=options.y,
            z=options.z,
            source=LightSource.ESTIMATED,
            cue="shading",
            confidence=_rounded(shading.confidence),
        )
    return _default(options)
