"""Reading a shadow back from output pixels: where it lies, how far it reaches, how soft it is.

Every measure takes the cut-out without a shadow (``plain``) and the one with it (``shaded``).
The subject is composed over the shadow, ``a_out = a + s·(1 − a)``, so the shadow's alpha is
recovered as ``s = (a_out − a)/(1 − a)`` wherever the subject is not (nearly) opaque.
"""

from __future__ import annotations

import numpy as np

from workers.pipeline.footing import Footing, find_footing


def shadow_alpha(plain: np.ndarray, shaded: np.ndarray) -> np.ndarray:
    """The shadow's alpha in [0, 1]; zero where the subject's alpha exceeds 0.9."""
    subject = plain[..., 3].astype(np.float64) / 255
    out = shaded[..., 3].astype(np.float64) / 255
    clear = subject <= 0.9
    return np.where(clear, (out - subject) / np.where(clear, 1 - subject, 1), 0.0)


def footing(plain: np.ndarray) -> Footing:
    found = find_footing(plain[..., 3])
    assert found is not None
    return found


def subject_centre_x(plain: np.ndarray) -> float:
    weights = plain[..., 3].astype(np.float64)
    return float((weights.sum(axis=0) * np.arange(weights.shape[1])).sum() / weights.sum())


def centroid(shadow: np.ndarray) -> tuple[float, float]:
    """The shadow's (column, row) centroid, weighted by its alpha."""
    rows, columns = np.indices(shadow.shape)
    total = shadow.sum()
    return float((columns * shadow).sum() / total), float((rows * shadow).sum() / total)


def reach(plain: np.ndarray, shadow: np.ndarray) -> float:
    """The shadow's mean distance from the subject's base point, in subject heights."""
    base = footing(plain)
    rows, columns = np.indices(shadow.shape)
    distance = np.hypot(columns - base.base_centre, rows - base.contact_row)
    return float((distance * shadow).sum() / shadow.sum()) / base.height


def distance_from_contact(plain: np.ndarray, whole_width: bool = False) -> np.ndarray:
    """Each pixel's distance from the contact line, in subject heights.

    The contact line runs under the footprint, or (``whole_width``) under the subject's whole
    width: where the shadow of a light straight overhead would lie.
    """
    base = footing(plain)
    rows, columns = np.indices(plain.shape[:2])
    if whole_width:
        first, last = base.left, base.right
    else:
        footprint = np.flatnonzero(base.footprint)
        first, last = footprint.min(), footprint.max()
    nearest = np.clip(columns, first, last)
    return np.hypot(columns - nearest, rows - base.contact_row) / base.height


def edge_sharpness(shadow: np.ndarray, region: np.ndarray) -> float:
    """How abruptly the shadow ends inside ``region``: its steepest gradients over its depth.

    The 99th percentile of the gradient's magnitude divided by the 99th percentile of the
    alpha, so that a fainter shadow is not mistaken for a softer one.
    """
    gradient_rows, gradient_columns = np.gradient(shadow)
    magnitude = np.hypot(gradient_rows, gradient_columns)[region]
    depth = np.percentile(shadow[region], 99)
    return float(np.percentile(magnitude, 99) / max(depth, 1e-6))
