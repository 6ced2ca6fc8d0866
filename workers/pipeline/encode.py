"""RGBA pixels to PNG bytes, fast, and without raising the worker's peak memory.

Two encoders, chosen by size:

* up to ``FPNG_MAX_PIXELS``, fpng (Rich Geldreich's single-pass PNG writer, through the ``fpng``
  wheel). On 2.5 MP cut-outs it takes 10–17 ms of CPU where libpng below takes 80–184 ms, for
  files 18–28% larger (``bench/fast_paths.py``). A job's CPU, not its bytes, limits a worker.
* above it, OpenCV's libpng at zlib level 1 with the run-length strategy and the Paeth filter.
  fpng builds the whole filtered image next to the pixels (≈ 7.5 bytes per pixel, 275 MB at
  36 MP), which would set the worker's peak; libpng streams rows (``bench/memory.py``).

Both write every fully transparent pixel as transparent black: its colour is invisible, and runs
of zeros cost the compressor almost nothing. Either output is a plain PNG any decoder reads.
"""

from __future__ import annotations

import cv2
import fpng
import numpy as np

FPNG_MAX_PIXELS = 12_000_000

PNG_COMPRESSION = 1
# OpenCV ≥ 4.11 lets the caller choose libpng's row filter; older builds keep their default.
_FILTER = getattr(cv2, "IMWRITE_PNG_FILTER", None)
_LIBPNG_PARAMS = [
    cv2.IMWRITE_PNG_COMPRESSION,
    PNG_COMPRESSION,
    cv2.IMWRITE_PNG_STRATEGY,
    cv2.IMWRITE_PNG_STRATEGY_RLE,
    *([_FILTER, cv2.IMWRITE_PNG_FILTER_PAETH] if _FILTER is not None else []),
]


def encode_png(rgba: np.ndarray, *, overwrite: bool = False, compact: bool = False) -> bytes:
    """H×W×4 uint8 RGBA to PNG; pixels with alpha 0 are stored as (0, 0, 0, 0).

    With ``overwrite`` the pixels are changed inside ``rgba`` itself (the caller is done with
    it), which saves a copy of the whole image: 144 MB at 36 MP. ``compact`` takes libpng at
    every size (``CUTOUT_PNG_ENCODER=compact``): smaller files for more CPU.
    """
    if not (overwrite and rgba.flags.writeable and rgba.flags.c_contiguous):
        rgba = np.array(rgba, order="C")
    clear_transparent(rgba)
    if rgba.shape[0] * rgba.shape[1] <= FPNG_MAX_PIXELS and not compact:
        return with_fpng(rgba)
    return with_libpng(rgba)


STRIP_ROWS = 256  # rows changed in place at a time (a whole-image temporary is 36–144 MB at 36 MP)


def clear_transparent(rgba: np.ndarray) -> None:
    """Every pixel with alpha 0 becomes (0, 0, 0, 0), in place, a strip of rows at a time.

    Each pixel read as one little-endian 32-bit word has alpha as its top byte: words below
    2²⁴ are the transparent pixels. One compare and store, ~8× faster than a broadcast mask.
    """
    words = rgba.view("<u4")[..., 0]
    for top in range(0, words.shape[0], STRIP_ROWS):
        strip = words[top : top + STRIP_ROWS]
        strip[strip < 1 << 24] = 0


def with_fpng(rgba: np.ndarray) -> bytes:
    return fpng.from_ndarray(rgba)


def with_libpng(rgba: np.ndarray) -> bytes:
    """Swaps ``rgba``'s channels to BGRA in place (OpenCV's order): the caller is done with it.

    A strip at a time: ``cvtColor`` clones a source that is also its destination, which for the
    whole image was a second copy of it (144 MB at 36 MP).
    """
    for top in range(0, rgba.shape[0], STRIP_ROWS):
        strip = rgba[top : top + STRIP_ROWS]
        cv2.cvtColor(strip, cv2.COLOR_RGBA2BGRA, dst=strip)
    ok, buffer = cv2.imencode(".png", rgba, _LIBPNG_PARAMS)
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return buffer.tobytes()
