"""Photos above MAX_WORKING_PIXELS: refined on a shrunken copy without full-size temporaries,
and the same cut-out as the plain way of getting there (within rounding)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.images import eval_item
from workers.pipeline.decode import decode
from workers.pipeline.refine import (
    MAX_WORKING_PIXELS,
    decontaminate,
    enlarge_edges,
    mixed,
    refine,
    refine_alpha,
    to_alpha,
    working_size,
)

LARGE = "dis_pavilion_5795028920"  # 2748×2658, 7.3 MP: above the working size


@pytest.fixture(scope="module")
def large(segmenter):
    rgb = decode(eval_item(LARGE).image.read_bytes()).rgb
    assert rgb.shape[0] * rgb.shape[1] > MAX_WORKING_PIXELS
    return rgb, segmenter


def test_working_size_keeps_the_aspect_and_the_pixel_budget():
    assert working_size(1000, 2000) == (2000, 1000)
    width, height = working_size(6000, 6000)
    assert width == height
    assert width * height <= MAX_WORKING_PIXELS * 1.001
    width, height = working_size(3000, 6000)
    assert abs(width / height - 2.0) < 0.01


@pytest.mark.parametrize("channels", [3, 4])
def test_enlarge_edges_equals_enlarging_the_whole_working_copy(large, channels):
    """With three channels or a decoder's four-channel workspace, whose fourth channel takes
    the alpha in place."""
    rgb, segmenter = large
    if channels == 4:
        rgb = cv2.cvtColor(rgb, cv2.COLOR_RGB2RGBA)
    height, width = rgb.shape[:2]
    size = working_size(height, width)
    small_rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    small_alpha = to_alpha(refine_alpha(small_rgb, segmenter.predict(small_rgb)))
    small_clean = decontaminate(small_rgb, small_alpha)
    alpha = cv2.resize(small_alpha, (width, height), interpolation=cv2.INTER_LINEAR)
    pasted = rgb.copy()
    enlarged = enlarge_edges(pasted, small_clean, small_alpha)

    # remap places a point to 1/32 pixel, resize exactly: a level apart here and there.
    alpha_difference = np.abs(enlarged.astype(np.int16) - alpha)
    assert np.mean(alpha_difference <= 1) > 0.999
    assert alpha_difference.max() <= 4
    partial = mixed(enlarged)
    assert partial.sum() > 10_000  # the photo has real edges to paste
    expected = rgb.copy()
    expected[partial] = cv2.resize(small_clean, (width, height))[partial]
    if channels == 4:
        assert np.shares_memory(enlarged, pasted)
        assert np.array_equal(pasted[..., 3], enlarged)
        pasted, expected, rgb = pasted[..., :3], expected[..., :3], rgb[..., :3]

    # The colours likewise: a level or two apart on steep edges.
    difference = np.abs(pasted.astype(np.int16) - expected)[partial]
    assert np.mean(difference <= 2) > 0.999
    assert difference.mean() < 0.3
    assert difference.max() <= 8
    assert np.array_equal(pasted[~partial], rgb[~partial])  # nothing else is touched


def test_a_mask_made_at_the_working_size_gives_the_full_size_result(large):
    rgb, segmenter = large
    height, width = rgb.shape[:2]
    _, full_alpha = refine(rgb, segmenter.predict(rgb))
    _, alpha = refine(rgb, segmenter.predict(rgb, size=working_size(height, width)))
    difference = np.abs(alpha.astype(np.int16) - full_alpha)
    assert difference.mean() < 0.5
    assert np.mean(difference <= 2) > 0.995
    assert np.mean((alpha > 127) == (full_alpha > 127)) > 0.999


def test_overwrite_reuses_a_writeable_photo_and_never_a_read_only_one(large):
    rgb, segmenter = large
    mask = segmenter.predict(rgb, size=working_size(*rgb.shape[:2]))
    writeable, own_mask = rgb.copy(), mask.copy()
    colours, alpha = refine(writeable, own_mask, overwrite=True)
    assert colours is writeable
    assert not np.array_equal(own_mask, mask), "the refined alpha is made in the caller's mask"

    read_only = rgb.copy()
    read_only.flags.writeable = False
    kept = mask.copy()
    colours, alpha = refine(read_only, mask)
    assert np.array_equal(mask, kept), "without overwrite the mask is left alone"
    colours, alpha = refine(read_only, mask, overwrite=True)
    assert colours is not read_only
    assert np.array_equal(read_only, rgb)
    assert not np.array_equal(colours[mixed(alpha)], rgb[mixed(alpha)])  # edges were cleaned


def test_the_working_copys_heap_is_handed_back_before_the_full_size_arrays(large, monkeypatch):
    """The worker's heap keeps freed blocks (workers/heap.py); a large photo's full-size alpha
    and edges are its peak, so what the working copy freed goes back to the system first."""
    from workers.pipeline import refine as module

    rgb, segmenter = large
    mask = segmenter.predict(rgb, size=working_size(*rgb.shape[:2]))
    events: list[str] = []
    monkeypatch.setattr(module, "return_free_heap", lambda: events.append("trim"))
    real_enlarge = module.enlarge_edges
    monkeypatch.setattr(
        module, "enlarge_edges", lambda *args: (events.append("enlarge"), real_enlarge(*args))[1]
    )
    refine(rgb, mask)
    assert events == ["trim", "enlarge"]

    events.clear()
    small = cv2.resize(rgb, (800, 773), interpolation=cv2.INTER_AREA)
    refine(small, segmenter.predict(small))
    assert events == [], "a photo refined at its own size keeps its heap for the next job"
