"""Refinement's per-pixel step over the uncertain band, as compiled loops (numba).

What refinement computes at the photo's resolution is simple per pixel: sample a few smooth
grid images bilinearly, combine them with the pixel's own colour, write one value. Done with
numpy and OpenCV it took some fifteen passes over gathered copies of the band (find the band's
pixels, gather their colours, remap the grids at them, a dozen element-wise temporaries,
scatter the result), each pass memory-bound, ~45 ms on an openwork 2.5 MP photo whose band is
a fifth of the frame. One loop that visits each band pixel once does the same arithmetic with
everything in registers.

The loops run on one thread, like the rest of a job (workers are pinned one per core slot).
They are compiled once for fixed argument types when this module is imported, and cached
next to it (``cache=True``), so a worker's first job does not pay for compilation.
"""

from __future__ import annotations

import math

import numba
import numpy as np

# float32 constants: a Python float would turn the loops' arithmetic into float64.
_0, _1, _255, _HALF, _TINY = (np.float32(v) for v in (0, 1, 255, 0.5, 1e-5))
_BYTE = np.float32(1 / 255)

Taps = tuple[np.ndarray, np.ndarray, np.ndarray]  # lower cells, upper cells, upper weights

# fastmath lets LLVM fuse multiply-adds and reorder sums: every input is finite (bytes, box
# means, a division guarded by a small constant), and it took ~40% off the loops' time; alpha
# and colours still match the numpy version to within one level (tests).
_COMPILE = {"cache": True, "nogil": True, "error_model": "numpy", "fastmath": True}


@numba.njit("Tuple((int64[::1], int64[::1], float32[::1]))(int64, int64, float64)", **_COMPILE)
def grid_taps(count: int, cells: int, factor: float) -> Taps:
    """For pixels 0..count−1 of a box, the two grid cells each falls between and the second's
    weight: the pixel centre (i + ½)/factor − ½ in grid coordinates, clamped at the grid's
    ends (the same as OpenCV's ``BORDER_REPLICATE``)."""
    lower = np.empty(count, np.int64)
    upper = np.empty(count, np.int64)
    weight = np.empty(count, np.float32)
    last = cells - 1
    for i in range(count):
        position = (i + 0.5) / factor - 0.5
        below = math.floor(position)
        weight[i] = position - below
        lower[i] = min(max(below, 0), last)
        upper[i] = min(max(below + 1, 0), last)
    return lower, upper, weight


@numba.njit(**_COMPILE, inline="always")
def _box_taps(
    rows: int, cols: int, grid: np.ndarray, factor: float
) -> tuple[Taps, Taps, np.ndarray]:
    """The grid taps of a box's rows and columns, and a buffer for one interpolated grid row."""
    vertical = grid_taps(rows, grid.shape[0], factor)
    horizontal = grid_taps(cols, grid.shape[1], factor)
    return vertical, horizontal, np.empty(grid.shape[1:], np.float32)


@numba.njit(**_COMPILE, inline="always")
def _between_rows(grid: np.ndarray, y0: int, y1: int, wy: float, row: np.ndarray) -> None:
    """``row`` (grid width × channels) becomes the grid interpolated between two of its rows:
    done once per photo row, so each pixel then blends only two neighbours along the row."""
    upper = grid[y0]
    lower = grid[y1]
    for x in range(grid.shape[1]):
        for channel in range(grid.shape[2]):
            top = upper[x, channel]
            row[x, channel] = top + (lower[x, channel] - top) * wy


@numba.njit(**_COMPILE, inline="always")
def _sample(row: np.ndarray, x0: int, x1: int, wx: float, channel: int) -> float:
    left = row[x0, channel]
    return left + (row[x1, channel] - left) * wx


@numba.njit(**_COMPILE, inline="always")
def _unit(value: float) -> float:
    return min(max(value, _0), _1)


@numba.njit(
    "UniTuple(float32[:, ::1], 3)(uint8[:, :, :], int64, int64, int64, int64, int64)", **_COMPILE
)
def cell_colours(
    pixels: np.ndarray, top: int, left: int, rows: int, cols: int, factor: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The mean red, green and blue, in [0, 1], of each ``factor``×``factor`` cell of the
    ``rows``×``cols`` cells from (``top``, ``left``): the photo on refinement's grid. One pass
    over the photo's bytes; OpenCV's area resize of the four-channel workspace, then a float
    copy and a split, took ~4× as long."""
    red = np.zeros((rows, cols), np.float32)
    green = np.zeros((rows, cols), np.float32)
    blue = np.zeros((rows, cols), np.float32)
    for cell_y in range(rows):
        for y in range(top + cell_y * factor, top + (cell_y + 1) * factor):
            for cell_x in range(cols):
                start = left + cell_x * factor
                r = g = b = 0
                for x in range(start, start + factor):
                    r += pixels[y, x, 0]
                    g += pixels[y, x, 1]
                    b += pixels[y, x, 2]
                red[cell_y, cell_x] += r
                green[cell_y, cell_x] += g
                blue[cell_y, cell_x] += b
    scale = np.float32(1 / (255 * factor * factor))
    red *= scale
    green *= scale
    blue *= scale
    return red, green, blue


@numba.njit(
    "void(uint8[:, :, :], float32[:, :], boolean[:, ::1], int64, int64, float32[:, :, ::1],"
    " float64)",
    **_COMPILE,
)
def band_alpha(
    pixels: np.ndarray,
    mask: np.ndarray,
    band: np.ndarray,
    top: int,
    left: int,
    grids: np.ndarray,
    factor: float,
) -> None:
    """``mask`` at each true pixel of ``band`` (a box of the photo whose corner is at ``top``,
    ``left``) becomes the guided alpha a·I + b blended with the colour models' p·I + q, in
    place. ``grids``: the box's grid with channels a_r, a_g, a_b, b, p_r, p_g, p_b, q, trust
    (see ``refine.refine_alpha``)."""
    rows, cols = band.shape
    (ys0, ys1, wys), (xs0, xs1, wxs), row = _box_taps(rows, cols, grids, factor)
    for y in range(rows):
        ready = False
        for x in range(cols):
            if not band[y, x]:
                continue
            if not ready:
                _between_rows(grids, ys0[y], ys1[y], wys[y], row)
                ready = True
            x0, x1, wx = xs0[x], xs1[x], wxs[x]
            red = pixels[top + y, left + x, 0] * _BYTE
            green = pixels[top + y, left + x, 1] * _BYTE
            blue = pixels[top + y, left + x, 2] * _BYTE
            guided = _unit(
                _sample(row, x0, x1, wx, 0) * red
                + _sample(row, x0, x1, wx, 1) * green
                + _sample(row, x0, x1, wx, 2) * blue
                + _sample(row, x0, x1, wx, 3)
            )
            projected = _unit(
                _sample(row, x0, x1, wx, 4) * red
                + _sample(row, x0, x1, wx, 5) * green
                + _sample(row, x0, x1, wx, 6) * blue
                + _sample(row, x0, x1, wx, 7)
            )
            trust = _sample(row, x0, x1, wx, 8)
            mask[top + y, left + x] = trust * projected + (_1 - trust) * guided


@numba.njit(
    "void(uint8[:, :, :], uint8[:, :, :], uint8[:, :], int64, int64, int64, int64,"
    " float32[:, :, ::1], float64, int64)",
    **_COMPILE,
)
def band_foreground(
    pixels: np.ndarray,
    out: np.ndarray,
    alpha: np.ndarray,
    top: int,
    left: int,
    rows: int,
    cols: int,
    sums: np.ndarray,
    factor: float,
    spill_free: int,
) -> None:
    """Blur fusion's per-pixel step, F + α(I − αF − (1−α)B), written to ``out`` (which may be
    ``pixels``: each pixel is read before it is written) at every pixel of the box whose alpha
    is more than ``spill_free`` from 0 and 255. F and B are the local means from ``sums``
    (fg·α ×3, α, bg·(1−α) ×3, 1−α on the box's grid; see ``refine.weighted_sums``)."""
    (ys0, ys1, wys), (xs0, xs1, wxs), row = _box_taps(rows, cols, sums, factor)
    for y in range(rows):
        ready = False
        for x in range(cols):
            level = alpha[top + y, left + x]
            if level <= spill_free or level >= 255 - spill_free:
                continue
            if not ready:
                _between_rows(sums, ys0[y], ys1[y], wys[y], row)
                ready = True
            x0, x1, wx = xs0[x], xs1[x], wxs[x]
            a = level * _BYTE
            rest = _1 - a
            fg_scale = _1 / (_sample(row, x0, x1, wx, 3) + _TINY)
            bg_scale = _1 / (_sample(row, x0, x1, wx, 7) + _TINY)
            for channel in range(3):
                colour = pixels[top + y, left + x, channel] * _BYTE
                fg = _sample(row, x0, x1, wx, channel) * fg_scale
                bg = _sample(row, x0, x1, wx, 4 + channel) * bg_scale
                value = _unit(fg + a * (colour - a * fg - rest * bg))
                out[top + y, left + x, channel] = np.uint8(value * _255 + _HALF)
