"""Put the alpha next to the colours: the cut-out RGBA image."""

from __future__ import annotations

import cv2
import numpy as np


def cut_out(rgb: np.ndarray, alpha: np.ndarray, input_alpha: np.ndarray | None) -> np.ndarray:
    """H×W×4 uint8; where the input was already transparent it stays so.

    OpenCV widens the colours to four channels and numpy writes the alpha into the fourth:
    ~1.5 ms at 2.5 MP, where numpy's strided copy of the colours alone took ~18 ms.
    """
    if input_alpha is not None:
        alpha = np.minimum(alpha, input_alpha)
    rgba = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2RGBA)
    rgba[..., 3] = alpha
    return rgba
