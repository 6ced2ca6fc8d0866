"""The cut-out keeps every colour and alpha as given, and the input's transparency."""

from __future__ import annotations

import numpy as np

from tests.images import sample
from workers.pipeline.compose import cut_out
from workers.pipeline.decode import decode


def _photo() -> np.ndarray:
    return decode(sample("coffee.jpg")).rgb


def test_colours_and_alpha_land_in_their_channels():
    rgb = _photo()
    alpha = np.random.default_rng(0).integers(0, 256, rgb.shape[:2], dtype=np.uint8)
    rgba = cut_out(rgb, alpha, None)
    assert rgba.shape == (*rgb.shape[:2], 4)
    assert rgba.dtype == np.uint8
    assert np.array_equal(rgba[..., :3], rgb)
    assert np.array_equal(rgba[..., 3], alpha)


def test_a_view_of_the_colours_is_copied_not_shared():
    """The refiner may hand over a strided view; the RGBA must not alias it."""
    rgb = _photo()[::2, ::2]
    alpha = np.full(rgb.shape[:2], 200, dtype=np.uint8)
    rgba = cut_out(rgb, alpha, None)
    assert np.array_equal(rgba[..., :3], rgb)
    rgba[..., :3] = 0
    assert rgb.any()


def test_input_transparency_caps_the_alpha():
    rgb = _photo()
    alpha = np.full(rgb.shape[:2], 255, dtype=np.uint8)
    alpha[:10] = 40
    input_alpha = np.full_like(alpha, 255)
    input_alpha[:, :7] = 0
    input_alpha[:, 7:9] = 100
    rgba = cut_out(rgb, alpha, input_alpha)
    assert (rgba[:, :7, 3] == 0).all()
    assert (rgba[10:, 7:9, 3] == 100).all()
    assert (rgba[:10, 7:9, 3] == 40).all()
    assert (rgba[10:, 9:, 3] == 255).all()


def test_overwrite_puts_the_alpha_into_a_workspace_in_place():
    """A decoder's four-channel workspace becomes the cut-out itself: no second image."""
    workspace = decode(sample("coffee.jpg")).pixels
    colours = workspace[..., :3].copy()
    alpha = np.random.default_rng(1).integers(0, 256, workspace.shape[:2], dtype=np.uint8)
    rgba = cut_out(workspace, alpha, None, overwrite=True)
    assert rgba is workspace
    assert np.array_equal(rgba[..., :3], colours)
    assert np.array_equal(rgba[..., 3], alpha)

    fresh = decode(sample("coffee.jpg")).pixels
    rgba = cut_out(fresh, alpha, None)
    assert not np.shares_memory(rgba, fresh), "without overwrite the caller's array is kept"
    assert np.array_equal(rgba[..., 3], alpha)
