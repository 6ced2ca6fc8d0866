"""RGBA pixels to PNG bytes, fast.

OpenCV's libpng encoder with settings measured on cut-outs (``bench/stages.py``; a 2.5 MP photo,
CPU time): zlib level 1 with the run-length strategy and the Paeth filter is about 2.3× faster
than level 1 with libpng's default filter choice, and the file is about half the size, because
every fully transparent pixel is written as transparent black. Its colour is invisible, and runs
of zeros cost zlib almost nothing. Pillow's default (level 6, rembg's choice) is ~13× slower.
"""

from __future__ import annotations

import cv2
import numpy as np

PNG_COMPRESSION = 1
# OpenCV ≥ 4.11 lets the caller choose libpng's row filter; older builds keep their default.
_FILTER = getattr(cv2, "IMWRITE_PNG_FILTER", None)
_PARAMS = [
    cv2.IMWRITE_PNG_COMPRESSION,
    PNG_COMPRESSION,
    cv2.IMWRITE_PNG_STRATEGY,
    cv2.IMWRITE_PNG_STRATEGY_RLE,
    *([_FILTER, cv2.IMWRITE_PNG_FILTER_PAETH] if _FILTER is not None else []),
]


def encode_png(rgba: np.ndarray, *, overwrite: bool = False) -> bytes:
    """H×W×4 uint8 RGBA to PNG; pixels with alpha 0 are stored as (0, 0, 0, 0).

    OpenCV wants BGRA. With ``overwrite`` the channels are swapped inside ``rgba`` itself (the
    caller is done with it), which saves a copy of the whole image: 144 MB at 36 MP.
    """
    if overwrite and rgba.flags.writeable and rgba.flags.c_contiguous:
        bgra = cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA, dst=rgba)
    else:
        bgra = cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA)
    # Each pixel read as one little-endian 32-bit word has alpha as its top byte: words below
    # 2²⁴ are the transparent pixels. One compare and store, ~8× faster than a broadcast mask.
    pixels = bgra.view("<u4")[..., 0]
    pixels[pixels < 1 << 24] = 0
    ok, buffer = cv2.imencode(".png", bgra, _PARAMS)
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return buffer.tobytes()
