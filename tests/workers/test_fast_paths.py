"""The memory- and time-saving paths give the pixels the plain numpy way gives (within 1 level)."""

from __future__ import annotations

import numpy as np

from tests.images import eval_item, rgba
from workers.contract import JobOptions
from workers.pipeline.compose import cut_out
from workers.pipeline.decode import decode
from workers.pipeline.encode import encode_png
from workers.pipeline.refine import to_alpha
from workers.pipeline.run import remove_background


def test_refine_matches_rounding_the_float_mask(segmenter):
    image = decode(eval_item("carvana_0cdf5b5d0ce1_01").image.read_bytes())
    mask = segmenter.predict(image.rgb)
    expected = np.clip(mask * 255.0 + 0.5, 0, 255).astype(np.uint8)
    alpha = to_alpha(mask)
    assert alpha.dtype == np.uint8
    assert alpha.shape == mask.shape
    assert np.abs(alpha.astype(np.int16) - expected).max() <= 1
    assert np.mean(alpha == expected) > 0.999


def test_refine_saturates_out_of_range_values():
    mask = np.array([[-0.2, 0.0, 0.5, 1.0, 1.7]], np.float32)
    assert to_alpha(mask).tolist() == [[0, 0, 128, 255, 255]]


def test_the_whole_pipeline_matches_the_plain_reference(segmenter):
    """Every fast path at once, against decode → predict → numpy rounding → plain cut-out.

    Edge refinement is off here: it changes alpha and edge colours on purpose and is judged
    against ground truth in test_refine.py.
    """
    data = eval_item("dis_pavilion_5795028920").image.read_bytes()
    image = decode(data)
    mask = segmenter.predict(image.rgb)
    reference = cut_out(image.rgb, np.clip(mask * 255.0 + 0.5, 0, 255).astype(np.uint8), None)

    out = rgba(remove_background(data, JobOptions(), segmenter, refine_edges=False))

    assert out.shape == reference.shape
    assert np.abs(out[..., 3].astype(np.int16) - reference[..., 3]).max() <= 1
    visible = out[..., 3] > 0
    assert np.array_equal(out[..., :3][visible], reference[..., :3][visible])


def test_overwrite_encodes_the_same_png_and_may_reuse_the_buffer():
    pixels = np.random.default_rng(0).integers(0, 256, (48, 40, 4), dtype=np.uint8)
    copy_png = encode_png(pixels.copy())
    assert encode_png(pixels.copy(), overwrite=True) == copy_png
    read_only = pixels.copy()
    read_only.flags.writeable = False
    assert encode_png(read_only, overwrite=True) == copy_png
