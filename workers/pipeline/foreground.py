"""The rule for ``unknown_foreground``: when there is nothing worth cutting out.

A job fails (and is refunded, so it costs nothing) when the model's soft mask shows

- **no confident subject**: fewer than ``MIN_FOREGROUND_FRACTION`` (0.5%) of the pixels are
  confidently foreground (probability ≥ ``CONFIDENT`` = 0.9). Blank and flat images, and most
  noise, produce no such region; every photo of the development set clears the bar at least
  sevenfold (its smallest subject covers 3.8% of the frame); or
- **no background**: fewer than ``MIN_BACKGROUND_FRACTION`` (1%) of the pixels are confidently
  background (probability ≤ ``CONFIDENT_BACKGROUND`` = 0.1), so nothing separates a subject
  from a background and there is nothing to remove. U²-Netp answers colour noise this way (a
  diffuse mask whose minimum stays above 0.13); every development photo keeps at least 22% of
  its pixels confidently background.
"""

from __future__ import annotations

import numpy as np

from storage.error_codes import ErrorCode
from storage.image_probe import ImageRejected

MIN_FOREGROUND_FRACTION = 0.005
CONFIDENT = 0.9
MIN_BACKGROUND_FRACTION = 0.01
CONFIDENT_BACKGROUND = 0.1


def require_foreground(mask: np.ndarray) -> None:
    """Raise ``unknown_foreground`` unless the soft mask holds a subject against a background."""
    confident = np.count_nonzero(mask >= CONFIDENT)
    background = np.count_nonzero(mask <= CONFIDENT_BACKGROUND)
    if (
        confident < MIN_FOREGROUND_FRACTION * mask.size
        or background < MIN_BACKGROUND_FRACTION * mask.size
    ):
        raise ImageRejected(
            ErrorCode.UNKNOWN_FOREGROUND,
            "The foreground subject of the image could not be detected.",
        )
