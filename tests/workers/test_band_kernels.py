"""Refinement's compiled per-pixel loops, against OpenCV and numpy doing the same arithmetic."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np

from tests.paths import REPO
from workers.pipeline.band_kernels import band_alpha, band_foreground, cell_colours
from workers.pipeline.refine import SPILL_FREE, stacked


def test_band_alpha_samples_the_grid_as_bilinear_upsampling_does():
    """Grid images interpolated at a box's band pixels equal OpenCV's INTER_LINEAR upsampling
    of the grid there, and nothing outside the band is written."""
    rng = np.random.default_rng(3)
    grid = cv2.GaussianBlur(rng.random((40, 60), dtype=np.float32), (5, 5), 0)
    band = rng.random((120, 180)) < 0.2
    top, left = 10, 20
    # Coefficients a = 0 and b = grid (guided), p = 0 and q = 0, no trust: alpha is b.
    zero = np.zeros_like(grid)
    grids = stacked([zero, zero, zero, grid, zero, zero, zero, zero, zero])
    pixels = rng.integers(0, 256, (140, 250, 3), dtype=np.uint8)
    mask = np.full((140, 250), -1.0, np.float32)

    band_alpha(pixels, mask, band, top, left, grids, 3.0)

    upsampled = cv2.resize(grid, (180, 120), interpolation=cv2.INTER_LINEAR)
    box = mask[top : top + 120, left : left + 180]
    np.testing.assert_allclose(box[band], upsampled[band], atol=1e-5)
    assert (box[~band] == -1).all()
    outside = np.ones(mask.shape, bool)
    outside[top : top + 120, left : left + 180] = False
    assert (mask[outside] == -1).all()


def test_band_alpha_blends_the_guided_and_the_projected_alpha_by_trust():
    """Constant grids: alpha = trust·clip(p·I + q) + (1 − trust)·clip(a·I + b), per pixel."""
    rng = np.random.default_rng(5)
    pixels = rng.integers(0, 256, (30, 40, 4), dtype=np.uint8)
    a, p, q, trust = (0.5, -0.2, 0.3, 0.1), (1.5, 0.0, -0.5), 0.2, 0.25
    values = [*a, *p, q, trust]
    grids = np.ones((10, 14, 9), np.float32) * np.asarray(values, np.float32)
    mask = np.zeros((30, 40), np.float32)

    band_alpha(pixels, mask, np.ones((30, 40), bool), 0, 0, grids, 3.0)

    colour = pixels[..., :3].astype(np.float64) / 255
    guided = np.clip(colour @ np.asarray(a[:3]) + a[3], 0, 1)
    projected = np.clip(colour @ np.asarray(p) + q, 0, 1)
    np.testing.assert_allclose(mask, trust * projected + (1 - trust) * guided, atol=1e-5)


def test_band_foreground_corrects_only_visibly_mixed_pixels():
    """Blur fusion's step F + α(I − αF − (1−α)B) where alpha is more than SPILL_FREE from 0
    and 255; every other pixel keeps the photo's colour."""
    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 256, (24, 36, 3), dtype=np.uint8)
    alpha = rng.integers(0, 256, (24, 36), dtype=np.uint8)
    fg, bg, weight = np.float32([0.8, 0.2, 0.1]), np.float32([0.1, 0.6, 0.3]), np.float32(0.5)
    sums = np.ones((8, 12, 8), np.float32) * np.concatenate(
        [fg * weight, [weight], bg * (1 - weight), [1 - weight]]
    ).astype(np.float32)
    out = pixels.copy()

    band_foreground(pixels, out, alpha, 0, 0, 24, 36, sums, 3.0, SPILL_FREE)

    a = alpha[..., None].astype(np.float64) / 255
    colour = pixels / 255
    mean_fg = fg * weight / (weight + 1e-5)
    mean_bg = bg * (1 - weight) / (1 - weight + 1e-5)
    expected = np.clip(mean_fg + a * (colour - a * mean_fg - (1 - a) * mean_bg), 0, 1)
    expected = (expected * 255 + 0.5).astype(np.uint8)
    mixed = (alpha > SPILL_FREE) & (alpha < 255 - SPILL_FREE)
    assert mixed.mean() > 0.9
    assert np.abs(out[mixed].astype(int) - expected[mixed]).max() <= 1
    assert np.array_equal(out[~mixed], pixels[~mixed])


def test_cell_colours_are_the_mean_of_each_cell():
    """Each grid cell's colour is the exact mean of its photo pixels, in [0, 1] (OpenCV's area
    resize rounds the same mean to 8 bits first)."""
    rng = np.random.default_rng(11)
    pixels = rng.integers(0, 256, (50, 70, 4), dtype=np.uint8)
    top, left, rows, cols, factor = 5, 4, 15, 21, 3

    channels = cell_colours(pixels, top, left, rows, cols, factor)

    box = pixels[top : top + rows * factor, left : left + cols * factor, :3].astype(np.float64)
    means = box.reshape(rows, factor, cols, factor, 3).mean(axis=(1, 3)) / 255
    for channel, expected in zip(channels, np.moveaxis(means, 2, 0), strict=True):
        np.testing.assert_allclose(channel, expected, atol=1e-6)
    area = cv2.resize(
        np.ascontiguousarray(box.astype(np.uint8)), (cols, rows), interpolation=cv2.INTER_AREA
    )
    assert np.abs(np.stack(channels, axis=2) * 255 - area).max() <= 0.5 + 1e-3


def test_a_second_process_loads_the_compiled_loops_from_the_cache():
    """A worker process does not compile at start: the loops compiled once (here, on import)
    are read back from numba's cache next to the module."""
    probe = (
        "from workers.pipeline import band_kernels as k\n"
        "kernels = (k.band_alpha, k.band_foreground, k.cell_colours, k.grid_taps)\n"
        "print(sum(sum(f.stats.cache_hits.values()) for f in kernels),"
        " sum(sum(f.stats.cache_misses.values()) for f in kernels))"
    )
    run = [sys.executable, "-c", probe]
    subprocess.run(run, cwd=REPO, check=True, capture_output=True)
    hits, misses = subprocess.run(
        run, cwd=REPO, check=True, capture_output=True, text=True
    ).stdout.split()
    assert (int(hits), int(misses)) == (4, 0)
