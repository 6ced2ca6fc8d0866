"""Put the alpha next to the colours: the cut-out RGBA image."""

from __future__ import annotations

import numpy as np


def cut_out(rgb: np.ndarray, alpha: np.ndarray, input_alpha: np.ndarray | None) -> np.ndarray:
    """H×W×4 uint8; where the input was already transparent it stays so."""
    if input_alpha is not None:
        alpha = np.minimum(alpha, input_alpha)
    rgba = np.empty((*rgb.shape[:2], 4), dtype=np.uint8)
    rgba[..., :3] = rgb
    rgba[..., 3] = alpha
    return rgba
