"""The rule for ``unknown_foreground``: when there is nothing worth cutting out.

A job fails (and is refunded) when fewer than ``MIN_FOREGROUND_FRACTION`` of the pixels are
confidently foreground (alpha ≥ 128). Blank, flat and noise images produce masks with no such
region; every real photo of the development set clears it by a wide margin.
"""

from __future__ import annotations

import numpy as np

from storage.error_codes import ErrorCode
from storage.image_probe import ImageRejected

MIN_FOREGROUND_FRACTION = 0.005


def require_foreground(alpha: np.ndarray) -> None:
    confident = np.count_nonzero(alpha >= 128)
    if confident < MIN_FOREGROUND_FRACTION * alpha.size:
        raise ImageRejected(
            ErrorCode.UNKNOWN_FOREGROUND,
            "The foreground subject of the image could not be detected.",
        )
