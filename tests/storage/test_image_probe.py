"""Cheap input checks: the right error code for every kind of bad image, before any decode."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from storage.error_codes import ErrorCode
from storage.image_probe import ImageRejected, probe
from tests.images import encode, sample

LIMITS = {"min_side": 64, "max_side": 6000}


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG of a few dozen bytes whose header claims the given size: a decompression bomb."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"\x00"))
        + _chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_accepted_formats_report_format_and_size(fmt):
    data = encode(np.zeros((100, 150, 3), np.uint8), fmt)
    info = probe(data, **LIMITS)
    assert (info.format, info.width, info.height) == (fmt, 150, 100)


def test_a_real_photo_is_accepted():
    info = probe(sample("coffee.jpg"), **LIMITS)
    assert (info.format, info.width, info.height) == ("JPEG", 600, 400)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", ErrorCode.MALFORMED_IMAGE),
        (b"hello, this is text", ErrorCode.MALFORMED_IMAGE),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, ErrorCode.MALFORMED_IMAGE),
        (encode(np.zeros((80, 80, 3), np.uint8), "GIF"), ErrorCode.UNSUPPORTED_IMAGE_FORMAT),
        (encode(np.zeros((80, 80, 3), np.uint8), "BMP"), ErrorCode.UNSUPPORTED_IMAGE_FORMAT),
        (encode(np.zeros((80, 80, 3), np.uint8), "TIFF"), ErrorCode.UNSUPPORTED_IMAGE_FORMAT),
        (png_header_only(6001, 100), ErrorCode.RESOLUTION_TOO_HIGH),
        (png_header_only(100, 6001), ErrorCode.RESOLUTION_TOO_HIGH),
        (png_header_only(100_000, 100_000), ErrorCode.RESOLUTION_TOO_HIGH),
        (encode(np.zeros((63, 200, 3), np.uint8), "PNG"), ErrorCode.INVALID_PARAMETER),
    ],
    ids=[
        "empty",
        "text",
        "png-magic-garbage",
        "gif",
        "bmp",
        "tiff",
        "too-wide",
        "too-tall",
        "bomb-header",
        "too-small",
    ],
)
def test_bad_inputs_get_the_contract_error_code(data, code):
    with pytest.raises(ImageRejected) as rejected:
        probe(data, **LIMITS)
    assert rejected.value.code == code


def test_the_limits_themselves_are_allowed():
    assert probe(png_header_only(6000, 64), **LIMITS).width == 6000


def test_a_jpeg_declared_as_png_is_judged_by_its_bytes():
    jpeg = sample("chelsea.jpg")
    assert Image.open(io.BytesIO(jpeg)).format == "JPEG"
    assert probe(jpeg, **LIMITS).format == "JPEG"
