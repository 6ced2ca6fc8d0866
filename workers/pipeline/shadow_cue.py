"""Light from the shadow the subject already casts in the photo.

A cast shadow is a region of the background, next to the subject's lower part, clearly darker
than the background around it. Its centroid, seen from the subject's base, points away from the
light; how far it reaches says how low the light is. Inverting the model of
:mod:`workers.pipeline.shadow_matte` (whose shadow centroid lies at about
``CENTROID_REACH·(B − G)/z`` from the base ``B``, ``G`` being the light's foot) gives a light.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from workers.pipeline.footing import Footing

DARKER = 0.22  # a shadow pixel is at least this much darker than the surrounding background
REACH = 0.8  # how far from the subject's lower part a shadow is looked for, in subject heights
FRAME_EDGE = 0.05  # a contact line this close to the bottom edge (in subject heights): no ground
LOWER_PART = 0.2  # the part of the subject (from the contact line up) a shadow must touch
MIN_AREA = 0.015  # the smallest shadow worth reading, in subject heights squared
TEXTURE = 0.15  # the most the ground around a shadow may vary (std / mean of its luminance)
CENTROID_REACH = 0.4  # where our own model's shadow centroid lies, as a fraction of its tip
OVERHEAD = 0.06  # a centroid closer than this (subject heights) to the base: light overhead


@dataclass(frozen=True, slots=True)
class ShadowCue:
    """The shadow's centroid relative to the subject's base, in pixels, and how sure we are."""

    offset_x: float
    offset_y: float
    contrast: float  # 1 − shadow luminance / surrounding luminance
    area: float  # in subject heights squared
    confidence: float


def luminance(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)


def find_cast_shadow(rgb: np.ndarray, alpha: np.ndarray, footing: Footing) -> ShadowCue | None:
    """The existing cast shadow next to the subject's base, or None when there is none."""
    rows, columns = alpha.shape
    height = footing.height
    if footing.contact_row >= rows - 1 - FRAME_EDGE * height:
        return None  # the frame cuts the subject off: no ground in view to hold a shadow
    margin = max(2, round(0.02 * height))
    kernel = np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)
    subject = (alpha >= 128).astype(np.uint8)
    background = (cv2.dilate(subject, kernel) == 0) & (alpha < 16)

    reach = round(REACH * height)
    top = max(0, footing.contact_row - round((LOWER_PART + REACH) * height))
    bottom = min(rows, footing.contact_row + reach + 1)
    left, right = max(0, footing.left - reach), min(columns, footing.right + reach + 1)
    region = np.zeros_like(background)
    region[top:bottom, left:right] = True
    candidates = background & region
    if np.count_nonzero(candidates) < MIN_AREA * height * height:
        return None

    lum = luminance(rgb)
    surroundings = float(np.percentile(lum[candidates], 75))
    if surroundings < 8:  # a black backdrop shows no shadow
        return None
    dark = (candidates & (lum < surroundings * (1 - DARKER))).astype(np.uint8)

    # Keep the dark regions that touch the subject's lower part (grown past the halo margin).
    lower = np.zeros_like(subject)
    lower_top = footing.contact_row - round(LOWER_PART * height)
    lower[max(0, lower_top) : footing.contact_row + 1] = subject[
        max(0, lower_top) : footing.contact_row + 1
    ]
    touching = cv2.dilate(lower, np.ones((4 * margin + 3, 4 * margin + 3), np.uint8)) > 0
    _, labels = cv2.connectedComponents(dark, connectivity=8)
    keep = np.unique(labels[touching & (dark > 0)])
    keep = keep[keep > 0]
    if keep.size == 0:
        return None
    shadow = np.isin(labels, keep)
    area = float(np.count_nonzero(shadow)) / (height * height)
    if area < MIN_AREA:
        return None

    # A shadow is darker than the ground right around it, not only than the region at large.
    ring = (cv2.dilate(shadow.astype(np.uint8), kernel, iterations=2) > 0) & background & ~shadow
    if not ring.any():
        return None
    ys, xs = np.nonzero(shadow)
    ground = lum[ring]
    contrast = 1 - float(lum[shadow].mean()) / float(ground.mean())
    if contrast < DARKER / 2:
        return None
    # Shadows are read on plain ground (floor, backdrop, pavement): on grass, foliage or water
    # every dark patch would pass for one.
    if float(ground.std()) > TEXTURE * float(ground.mean()):
        return None
    confidence = min(1.0, contrast / 0.4) * min(1.0, area / (4 * MIN_AREA))
    return ShadowCue(
        offset_x=float(xs.mean()) - footing.base_centre,
        offset_y=float(ys.mean()) - footing.contact_row,
        contrast=contrast,
        area=area,
        confidence=confidence,
    )
