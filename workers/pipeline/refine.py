"""From the model's soft mask to the output alpha."""

from __future__ import annotations

import numpy as np


def refine(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The mask as 8-bit alpha."""
    return np.clip(mask * 255.0 + 0.5, 0, 255).astype(np.uint8)
