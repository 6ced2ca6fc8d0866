"""Light from the subject's own shading: the side it is lit from is the brighter one.

A plane ``L = a + b·u + c·v`` is fitted to the luminance of the subject's interior (``u``, ``v``
the position across the subject, −1..1). ``b`` says how much brighter the right side is than the
left. Colour and pattern differences confound it (a car's dark tyres, a shirt's print), so the
cue is trusted only in proportion to how much of the variation the plane explains.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from workers.pipeline.footing import Footing
from workers.pipeline.shadow_cue import luminance

STRONG = 0.25  # a left-to-right luminance change of this fraction of the mean is a clear cue
MIN_PIXELS = 200


@dataclass(frozen=True, slots=True)
class ShadingCue:
    """``side`` in −1..1: −1 strongly lit from the left, +1 from the right."""

    side: float
    explained: float  # R² of the plane fit
    confidence: float


def read_shading(rgb: np.ndarray, alpha: np.ndarray, footing: Footing) -> ShadingCue | None:
    margin = max(1, round(0.03 * footing.height))
    kernel = np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)
    interior = cv2.erode((alpha >= 250).astype(np.uint8), kernel) > 0
    ys, xs = np.nonzero(interior)
    if ys.size < MIN_PIXELS:
        return None
    lum = luminance(rgb)[interior]
    mean = float(lum.mean())
    if mean < 8:
        return None
    half_width = max(1.0, (footing.right - footing.left) / 2)
    u = (xs - (footing.left + footing.right) / 2) / half_width
    v = (ys - (footing.top_row + footing.contact_row) / 2) / (footing.height / 2)
    design = np.column_stack([np.ones_like(u), u, v]).astype(np.float64)
    coefficients, *_ = np.linalg.lstsq(design, lum.astype(np.float64), rcond=None)
    residual = lum - design @ coefficients
    total = float(((lum - mean) ** 2).sum())
    explained = 1 - float((residual**2).sum()) / total if total > 0 else 0.0
    change = 2 * float(coefficients[1]) / mean  # right edge minus left edge, relative
    side = float(np.clip(change / STRONG, -1, 1))
    confidence = float(np.clip(explained, 0, 1)) * abs(side)
    return ShadingCue(side=side, explained=explained, confidence=confidence)
