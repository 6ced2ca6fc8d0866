"""The rule for ``unknown_foreground``: when there is nothing worth cutting out.

A job fails (and is refunded) when fewer than ``MIN_FOREGROUND_FRACTION`` of the pixels are
confidently foreground (the model's probability ≥ ``CONFIDENT``). Blank, flat and noise images
produce no such region; every photo of the development set clears the bar at least sevenfold
(its smallest subject covers 3.8% of the frame).
"""

from __future__ import annotations

import numpy as np

from storage.error_codes import ErrorCode
from storage.image_probe import ImageRejected

MIN_FOREGROUND_FRACTION = 0.005
CONFIDENT = 0.9


def require_foreground(mask: np.ndarray) -> None:
    """Raise ``unknown_foreground`` unless the soft mask holds a confident subject."""
    confident = np.count_nonzero(mask >= CONFIDENT)
    if confident < MIN_FOREGROUND_FRACTION * mask.size:
        raise ImageRejected(
            ErrorCode.UNKNOWN_FOREGROUND,
            "The foreground subject of the image could not be detected.",
        )
