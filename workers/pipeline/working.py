"""The reduced resolution the shadow stage works at.

Shadows are soft everywhere except at the contact line, so they are estimated and rendered on
the image scaled down by a whole factor to at most ``WORKING_SIDE`` pixels, and the result is
scaled back up: the eye cannot tell, and the stage costs about the same at 6000 px as at 600
(``bench/shadow_cost.py``). A whole factor keeps OpenCV's area resampling on its fast path,
and padding to a multiple of it keeps the way back exact.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

WORKING_SIDE = 640


def working_factor(shape: tuple[int, ...]) -> int:
    return max(1, math.ceil(max(shape[:2]) / WORKING_SIDE))


def to_working(image: np.ndarray) -> np.ndarray:
    """``image`` area-averaged down by :func:`working_factor` (edge-padded to a multiple)."""
    factor = working_factor(image.shape)
    if factor == 1:
        return image
    height, width = image.shape[:2]
    padded = cv2.copyMakeBorder(
        image, 0, -height % factor, 0, -width % factor, cv2.BORDER_REPLICATE
    )
    size = (padded.shape[1] // factor, padded.shape[0] // factor)
    return cv2.resize(padded, size, interpolation=cv2.INTER_AREA)


def from_working(small: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``small`` (made by :func:`to_working` from an image of ``shape``) back at full size."""
    factor = working_factor(shape)
    if factor == 1:
        return small
    size = (small.shape[1] * factor, small.shape[0] * factor)
    return cv2.resize(small, size, interpolation=cv2.INTER_LINEAR)[: shape[0], : shape[1]]
