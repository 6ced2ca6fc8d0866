"""Put the alpha next to the colours: the cut-out RGBA image."""

from __future__ import annotations

import cv2
import numpy as np


def cut_out(
    pixels: np.ndarray,
    alpha: np.ndarray,
    input_alpha: np.ndarray | None,
    *,
    overwrite: bool = False,
) -> np.ndarray:
    """H×W×4 uint8; where the input was already transparent it stays so.

    ``pixels``: H×W×3 RGB, or a decoder's H×W×4 workspace. With ``overwrite`` a workspace takes
    the alpha in its fourth channel, in place: no second full-size image (144 MB at 36 MP).
    Otherwise OpenCV widens the colours to four channels and numpy writes the alpha into the
    fourth: ~1.5 ms at 2.5 MP, where numpy's strided copy of the colours alone took ~18 ms.
    """
    if input_alpha is not None:
        alpha = np.minimum(alpha, input_alpha)
    if overwrite and pixels.shape[2] == 4 and pixels.flags.writeable:
        rgba = pixels
    else:
        rgba = cv2.cvtColor(np.ascontiguousarray(pixels[..., :3]), cv2.COLOR_RGB2RGBA)
    rgba[..., 3] = alpha
    return rgba
