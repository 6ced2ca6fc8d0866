"""A large photo's inference hands onnxruntime's arena back before the photo's big arrays come.

Without it the ~270 MB the arena keeps between runs sits under refinement and encoding, and a
36 MP job peaked at 705 MB instead of ~500 (bench/memory.py).
"""

from __future__ import annotations

import cv2
import numpy as np

from tests.images import eval_item
from workers.pipeline.decode import decode
from workers.pipeline.segment import RELEASE_ARENA_ABOVE_PIXELS


def _resident_mb() -> float:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def test_a_large_photo_releases_the_arena_and_a_small_one_keeps_it(segmenter):
    photo = decode(eval_item("carvana_0cdf5b5d0ce1_01").image.read_bytes()).rgb
    side = int((RELEASE_ARENA_ABOVE_PIXELS * 1.1) ** 0.5)
    large = cv2.resize(photo, (side, side), interpolation=cv2.INTER_LINEAR)

    small_mask = segmenter.predict(photo)
    kept = _resident_mb()  # the arena is full after a run on a photo below the threshold
    again = segmenter.predict(photo)
    assert _resident_mb() < kept + 20, "a small photo's run reuses the kept arena"

    large_mask = segmenter.predict(large, size=(photo.shape[1], photo.shape[0]))
    released = _resident_mb()
    assert released < kept - 150, f"arena still held: {released:.0f} MB vs {kept:.0f} MB"

    # Releasing changes memory, never the mask: the large photo is the small one enlarged.
    assert np.abs(large_mask - small_mask).mean() < 0.01
    assert np.array_equal(again, small_mask)
