"""The fast PNG encoders lose nothing visible: every pixel with alpha > 0 comes back exactly.

fpng writes photos up to ``FPNG_MAX_PIXELS``, libpng larger ones; every test runs through both
(``encoder`` lowers the threshold to 0 to reach libpng without a 12 MP image).
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tests.images import eval_item, rgba, sample
from workers.pipeline import encode
from workers.pipeline.compose import cut_out
from workers.pipeline.decode import decode
from workers.pipeline.encode import encode_png


def _cutout_of(data: bytes, segmenter) -> np.ndarray:
    image = decode(data)
    alpha = np.clip(segmenter.predict(image.rgb) * 255 + 0.5, 0, 255).astype(np.uint8)
    return cut_out(image.rgb, alpha, image.alpha)


@pytest.fixture(params=["fpng", "libpng"], autouse=True)
def encoder(request, monkeypatch) -> str:
    if request.param == "libpng":
        monkeypatch.setattr(encode, "FPNG_MAX_PIXELS", 0)
    return request.param


def test_each_encoder_is_used_at_its_size(encoder):
    """fpng's and libpng's PNGs differ in bytes (fpng writes its own deflate stream)."""
    pixels = np.random.default_rng(1).integers(0, 256, (32, 48, 4), dtype=np.uint8)
    fpng_written = encode.with_fpng(np.where(pixels[..., 3:] == 0, 0, pixels))
    assert (encode_png(pixels) == fpng_written) == (encoder == "fpng")


def test_visible_pixels_round_trip_exactly_on_a_real_photo(segmenter):
    cutout = _cutout_of(eval_item("carvana_0cdf5b5d0ce1_01").image.read_bytes(), segmenter)
    transparent = cutout[..., 3] == 0
    assert 0.1 < transparent.mean() < 0.9, "the photo has both a subject and a background"

    out = rgba(encode_png(cutout))

    assert out.shape == cutout.shape
    assert np.array_equal(out[..., 3], cutout[..., 3]), "alpha is lossless"
    assert np.array_equal(out[~transparent], cutout[~transparent]), "visible colours are lossless"
    assert not out[transparent].any(), "invisible pixels are stored as transparent black"


def test_invisible_colours_are_dropped_without_touching_the_caller_array(segmenter):
    cutout = _cutout_of(sample("coffee.jpg"), segmenter)
    before = cutout.copy()
    png = encode_png(cutout)
    assert np.array_equal(cutout, before), "the encoder works on its own copy"
    # Zeroed background compresses far better than the photo's own background would.
    plain = io.BytesIO()
    Image.fromarray(cutout).save(plain, "PNG", compress_level=1)
    assert len(png) < len(plain.getvalue())


def test_opaque_and_semi_transparent_edges_survive():
    pixels = np.zeros((64, 80, 4), np.uint8)
    pixels[..., 0] = np.arange(80, dtype=np.uint8)[None, :] * 3
    pixels[..., 1] = 200
    pixels[..., 2] = np.arange(64, dtype=np.uint8)[:, None] * 4
    pixels[..., 3] = np.tile(np.array([0, 1, 128, 254, 255], np.uint8), 16)[None, :80]
    out = rgba(encode_png(pixels))
    visible = pixels[..., 3] > 0
    assert np.array_equal(out[visible], pixels[visible])
    assert not out[~visible].any()
