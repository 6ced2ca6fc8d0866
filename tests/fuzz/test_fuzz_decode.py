"""Fuzzing the decode path: mutated and truncated real images, and random bytes behind magic.

Whatever the bytes, :func:`storage.image_probe.probe` (the API's check) and
:func:`workers.pipeline.decode.decode` (the worker's) either succeed or raise ``ImageRejected``;
any other exception would be a 500 or a crashed job.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from storage.image_probe import ImageRejected, probe
from tests.images import encode, encode_cmyk
from workers.pipeline.decode import decode

# Small enough to keep a thousand decodes fast; the limits below keep mutated headers cheap too.
MAX_SIDE = 256


def _seeds() -> list[bytes]:
    rng = np.random.default_rng(6)
    photo = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
    rgba = np.dstack([photo, rng.integers(0, 256, (40, 48), dtype=np.uint8)])
    exif = Image.Exif()
    exif[0x0112] = 6
    palette = io.BytesIO()
    Image.fromarray(photo).quantize(16).save(palette, "PNG", transparency=3)
    apng = io.BytesIO()
    frames = [Image.fromarray(photo), Image.fromarray(photo[::-1])]
    frames[0].save(apng, "PNG", save_all=True, append_images=frames[1:])
    return [
        encode(photo, "JPEG", quality=80),
        encode(photo, "JPEG", quality=80, progressive=True, exif=exif.tobytes()),
        encode_cmyk(np.ascontiguousarray(np.dstack([photo, photo[..., :1]]))),
        encode(photo, "PNG"),
        encode(rgba, "PNG"),
        palette.getvalue(),
        apng.getvalue(),
        encode(photo, "WEBP", quality=80),
        encode(rgba, "WEBP", lossless=True),
    ]


SEEDS = _seeds()
MAGICS = [b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"RIFF\x00\x00\x00\x00WEBPVP8 ", b"GIF89a", b""]


def _check(data: bytes) -> None:
    with contextlib.suppress(ImageRejected):
        probe(data, min_side=1, max_side=MAX_SIDE)
    try:
        decoded = decode(data, max_side=MAX_SIDE)
    except ImageRejected:
        return
    assert decoded.rgb.dtype == np.uint8
    assert decoded.rgb.ndim == 3
    assert decoded.rgb.shape[2] == 3
    assert decoded.pixels.shape == (*decoded.rgb.shape[:2], 4)
    assert max(decoded.rgb.shape[:2]) <= MAX_SIDE
    if decoded.alpha is not None:
        assert decoded.alpha.shape == decoded.rgb.shape[:2]


@settings(settings.get_profile("fuzz"))
@given(
    seed=st.sampled_from(SEEDS),
    flips=st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), max_size=12),
    cut=st.one_of(st.none(), st.integers(0, 1 << 16)),
)
def test_mutated_images(seed: bytes, flips: list[tuple[int, int]], cut: int | None):
    data = bytearray(seed)
    for position, value in flips:
        data[position % len(data)] = value
    _check(bytes(data[:cut]))


@settings(settings.get_profile("fuzz"))
@given(magic=st.sampled_from(MAGICS), body=st.binary(max_size=2048))
def test_random_bytes_behind_magic(magic: bytes, body: bytes):
    _check(magic + body)
