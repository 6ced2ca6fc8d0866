"""Awkward and broken images through the worker's decoder, each judged by its pixels or code."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from storage.error_codes import ErrorCode
from storage.image_probe import ImageRejected
from tests.images import encode, encode_cmyk, sample
from tests.storage.test_image_probe import _chunk, png_header_only
from workers.pipeline.decode import decode

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


def quadrants(height: int = 96, width: int = 64) -> np.ndarray:
    """An image whose every rotation and mirror is distinguishable."""
    image = np.zeros((height, width, 3), np.uint8)
    image[: height // 2, : width // 2] = RED
    image[: height // 2, width // 2 :] = GREEN
    image[height // 2 :, : width // 2] = BLUE
    image[height // 2 :, width // 2 :] = WHITE
    return image


def quadrant_colours(image: np.ndarray) -> list[tuple[int, ...]]:
    """The colours at the centres of the four quadrants (top-left, top-right, ...)."""
    height, width = image.shape[:2]
    points = [(height // 4, width // 4), (height // 4, 3 * width // 4)]
    points += [(3 * height // 4, width // 4), (3 * height // 4, 3 * width // 4)]
    return [tuple(int(v) for v in image[y, x]) for y, x in points]


# How each EXIF orientation value stores an upright image (EXIF 2.32, tag 0x0112): the decoder
# must undo it. Written from the standard's row/column description, not from Pillow's code.
STORED_AS = {
    1: lambda upright: upright,
    2: lambda upright: upright[:, ::-1],  # mirrored left-right
    3: lambda upright: upright[::-1, ::-1],  # rotated 180°
    4: lambda upright: upright[::-1, :],  # mirrored top-bottom
    5: lambda upright: upright.transpose(1, 0, 2),  # row 0 is the left column
    6: lambda upright: np.rot90(upright, 1),  # viewer rotates 90° clockwise
    7: lambda upright: upright[::-1, ::-1].transpose(1, 0, 2),  # anti-transpose
    8: lambda upright: np.rot90(upright, -1),  # viewer rotates 90° anticlockwise
}


def with_orientation(upright: np.ndarray, orientation: int, fmt: str) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored = np.ascontiguousarray(STORED_AS[orientation](upright))
    params = {"quality": 95} if fmt == "JPEG" else {}
    return encode(stored, fmt, exif=exif.tobytes(), **params)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_in_jpeg(orientation):
    upright = quadrants()
    decoded = decode(with_orientation(upright, orientation, "JPEG"))
    assert decoded.rgb.shape == upright.shape
    for got, want in zip(quadrant_colours(decoded.rgb), quadrant_colours(upright), strict=True):
        assert np.abs(np.subtract(got, want)).max() <= 12, (got, want)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_in_png_is_exact(orientation):
    upright = quadrants(70, 66)
    decoded = decode(with_orientation(upright, orientation, "PNG"))
    assert np.array_equal(decoded.rgb, upright)


def test_exif_orientation_in_webp():
    upright = quadrants()
    decoded = decode(with_orientation(upright, 6, "WEBP"))
    assert decoded.rgb.shape == upright.shape
    assert quadrant_colours(decoded.rgb)[0][0] > 200  # red stays top-left


def test_a_broken_exif_block_is_ignored():
    data = encode(quadrants(), "JPEG", quality=95, exif=b"Exif\x00\x00MM\x00*\xff\xff\xff\xff")
    decoded = decode(data)
    assert decoded.rgb.shape == (96, 64, 3)


# --- colour models


def _strip_app14(jpeg: bytes) -> bytes:
    """The JPEG without its Adobe APP14 segment (the marker that says CMYK is inverted)."""
    start = jpeg.index(b"\xff\xee")
    (length,) = struct.unpack(">H", jpeg[start + 2 : start + 4])
    return jpeg[:start] + jpeg[start + 2 + length :]


CMYK_PATCHES = [
    ((0, 0, 0, 0), WHITE),
    ((255, 0, 0, 0), (0, 255, 255)),  # cyan
    ((0, 255, 0, 0), (255, 0, 255)),  # magenta
    ((0, 0, 0, 255), (0, 0, 0)),  # black
    ((0, 0, 0, 128), (127, 127, 127)),  # 50% grey
]


def cmyk_stripes() -> np.ndarray:
    stripes = np.zeros((64, 64 * len(CMYK_PATCHES), 4), np.uint8)
    for index, (cmyk, _) in enumerate(CMYK_PATCHES):
        stripes[:, index * 64 : (index + 1) * 64] = cmyk
    return stripes


def assert_cmyk_colours(decoded_rgb: np.ndarray) -> None:
    for index, (_, rgb) in enumerate(CMYK_PATCHES):
        got = decoded_rgb[32, index * 64 + 32]
        assert np.abs(got.astype(int) - rgb).max() <= 10, (index, got, rgb)


def test_adobe_inverted_cmyk_jpeg():
    data = encode_cmyk(cmyk_stripes(), quality=95)
    assert b"Adobe" in data  # Pillow writes CMYK the Photoshop way: inverted, with APP14
    assert_cmyk_colours(decode(data).rgb)


def test_plain_cmyk_jpeg_without_the_adobe_marker():
    # Pillow stores CMYK inverted; storing the inverse and dropping APP14 leaves plain CMYK.
    data = _strip_app14(encode_cmyk(255 - cmyk_stripes(), quality=95))
    assert b"Adobe" not in data
    assert_cmyk_colours(decode(data).rgb)


def png16(array: np.ndarray, colour_type: int, extra: bytes = b"") -> bytes:
    """A 16-bit PNG written by hand (Pillow cannot write 16-bit colour)."""
    height, width = array.shape[:2]
    rows = array.reshape(height, -1).astype(">u2").tobytes()
    stride = len(rows) // height
    raw = b"".join(b"\x00" + rows[y * stride : (y + 1) * stride] for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + extra
        + _chunk(b"IDAT", zlib.compress(raw))
        + _chunk(b"IEND", b"")
    )


def test_16_bit_greyscale_is_scaled_not_clipped():
    grey = np.zeros((64, 96), np.uint16)
    grey[:, 32:64] = 32896  # 128 × 257
    grey[:, 64:] = 65535
    decoded = decode(png16(grey, colour_type=0))
    assert decoded.alpha is None
    assert decoded.rgb[0, 0].tolist() == [0, 0, 0]
    assert decoded.rgb[0, 40].tolist() == [128, 128, 128]
    assert decoded.rgb[0, 80].tolist() == [255, 255, 255]


def test_16_bit_greyscale_with_a_transparent_value():
    grey = np.full((64, 64), 1000, np.uint16)
    grey[:, :32] = 40000
    decoded = decode(png16(grey, colour_type=0, extra=_chunk(b"tRNS", struct.pack(">H", 40000))))
    assert decoded.alpha is not None
    assert decoded.alpha[:, :32].max() == 0
    assert decoded.alpha[:, 32:].min() == 255


def test_16_bit_colour_keeps_the_colours():
    rgb = np.zeros((64, 64, 3), np.uint16)
    rgb[..., 0] = 65535
    rgb[:, 32:, 2] = 0x8000
    decoded = decode(png16(rgb, colour_type=2))
    assert decoded.rgb[0, 0].tolist() == [255, 0, 0]
    assert decoded.rgb[0, 40].tolist() == [255, 0, 128]


def test_16_bit_colour_with_alpha():
    rgba = np.zeros((64, 64, 4), np.uint16)
    rgba[..., 1] = 65535
    rgba[:, 32:, 3] = 65535
    decoded = decode(png16(rgba, colour_type=6))
    assert decoded.rgb[0, 40].tolist() == [0, 255, 0]
    assert decoded.alpha is not None
    assert decoded.alpha[:, :32].max() == 0
    assert decoded.alpha[:, 32:].min() == 255


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_greyscale_becomes_equal_channels(fmt):
    grey = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (64, 1))
    decoded = decode(encode(grey, fmt, **({"lossless": True} if fmt == "WEBP" else {})))
    assert decoded.rgb.shape == (64, 64, 3)
    assert np.array_equal(decoded.rgb[..., 0], decoded.rgb[..., 1])
    assert np.array_equal(decoded.rgb[..., 1], decoded.rgb[..., 2])
    assert np.abs(decoded.rgb[..., 0].astype(int) - grey).max() <= (0 if fmt != "JPEG" else 6)


def test_bilevel_png():
    bits = np.zeros((64, 64), bool)
    bits[:, 32:] = True
    buffer = io.BytesIO()
    Image.fromarray(bits).save(buffer, "PNG")
    decoded = decode(buffer.getvalue())
    assert decoded.rgb[0, 0].tolist() == [0, 0, 0]
    assert decoded.rgb[0, 40].tolist() == [255, 255, 255]


def _palette_image(transparency: object) -> bytes:
    indices = np.zeros((64, 96), np.uint8)
    indices[:, 32:64] = 1
    indices[:, 64:] = 2
    image = Image.fromarray(indices, "P")
    image.putpalette([*RED, *GREEN, *BLUE])
    buffer = io.BytesIO()
    image.save(buffer, "PNG", transparency=transparency)
    return buffer.getvalue()


def test_palette_with_one_transparent_index():
    decoded = decode(_palette_image(transparency=1))
    assert decoded.rgb[0, 0].tolist() == list(RED)
    assert decoded.rgb[0, 80].tolist() == list(BLUE)
    assert decoded.alpha is not None
    assert decoded.alpha[:, 32:64].max() == 0
    assert decoded.alpha[:, :32].min() == 255
    assert decoded.alpha[:, 64:].min() == 255


def test_palette_with_per_index_alpha():
    decoded = decode(_palette_image(transparency=bytes([255, 128, 0])))
    assert decoded.alpha is not None
    assert decoded.alpha[0, 0] == 255
    assert decoded.alpha[0, 40] == 128
    assert decoded.alpha[0, 80] == 0
    assert decoded.rgb[0, 40].tolist() == list(GREEN)


def test_rgb_with_a_transparent_colour():
    pixels = quadrants()
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG", transparency=GREEN)
    decoded = decode(buffer.getvalue())
    assert decoded.alpha is not None
    colours = quadrant_colours(decoded.alpha[..., None])
    assert colours == [(255,), (0,), (255,), (255,)]


def test_greyscale_with_alpha():
    la = np.zeros((64, 64, 2), np.uint8)
    la[..., 0] = 200
    la[:, 32:, 1] = 255
    buffer = io.BytesIO()
    Image.fromarray(la, "LA").save(buffer, "PNG")
    decoded = decode(buffer.getvalue())
    assert decoded.rgb[0, 40].tolist() == [200, 200, 200]
    assert decoded.alpha is not None
    assert (decoded.alpha[0, 0], decoded.alpha[0, 40]) == (0, 255)


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_existing_alpha_is_kept_exactly(fmt):
    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[..., :3] = quadrants(64, 64)
    rgba[..., 3] = np.arange(64, dtype=np.uint8)[None, :] * 4
    params = {"lossless": True, "exact": True} if fmt == "WEBP" else {}
    decoded = decode(encode(rgba, fmt, **params))
    assert decoded.alpha is not None
    assert np.array_equal(decoded.alpha, rgba[..., 3])
    visible = rgba[..., 3] > 0
    assert np.array_equal(decoded.rgb[visible], rgba[..., :3][visible])


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_animated_inputs_use_the_first_frame(fmt):
    frames = [Image.new("RGB", (64, 64), colour) for colour in (RED, BLUE, GREEN)]
    buffer = io.BytesIO()
    params = {"lossless": True} if fmt == "WEBP" else {}
    frames[0].save(buffer, fmt, save_all=True, append_images=frames[1:], duration=100, **params)
    data = buffer.getvalue()
    with Image.open(io.BytesIO(data)) as opened:
        assert opened.n_frames == 3
    decoded = decode(data)
    assert decoded.rgb[32, 32].tolist() == list(RED)


# --- broken and hostile inputs


def _garbage_idat() -> bytes:
    """A PNG whose compressed pixel data is noise (with correct chunk CRCs)."""
    data = encode(quadrants(), "PNG")
    start = data.index(b"IDAT") - 4
    (length,) = struct.unpack(">I", data[start : start + 4])
    noise = bytes(np.random.default_rng(1).integers(0, 256, length, dtype=np.uint8))
    return data[:start] + _chunk(b"IDAT", noise) + data[start + 12 + length :]


BROKEN = {
    "zero-length": (b"", ErrorCode.MALFORMED_IMAGE),
    "text": (b"this is not an image at all", ErrorCode.MALFORMED_IMAGE),
    "jpeg-magic-then-garbage": (b"\xff\xd8\xff" + b"\x00" * 200, ErrorCode.MALFORMED_IMAGE),
    "png-magic-jpeg-body": (
        b"\x89PNG\r\n\x1a\n" + sample("coffee.jpg")[3:],
        ErrorCode.MALFORMED_IMAGE,
    ),
    "truncated-jpeg": (sample("coffee.jpg")[:4000], ErrorCode.MALFORMED_IMAGE),
    "truncated-png": (encode(quadrants(), "PNG")[:-40], ErrorCode.MALFORMED_IMAGE),
    "truncated-webp": (encode(quadrants(), "WEBP")[:60], ErrorCode.MALFORMED_IMAGE),
    "png-garbage-pixel-data": (_garbage_idat(), ErrorCode.MALFORMED_IMAGE),
    "huge-dimensions-tiny-file": (png_header_only(100_000, 100_000), ErrorCode.RESOLUTION_TOO_HIGH),
    "wide-strip": (png_header_only(60_000, 1), ErrorCode.RESOLUTION_TOO_HIGH),
    "gif": (encode(quadrants(), "GIF"), ErrorCode.UNSUPPORTED_IMAGE_FORMAT),
    "tiff": (encode(quadrants(), "TIFF"), ErrorCode.UNSUPPORTED_IMAGE_FORMAT),
    "bmp": (encode(quadrants(), "BMP"), ErrorCode.UNSUPPORTED_IMAGE_FORMAT),
    "svg": (b"<svg xmlns='http://www.w3.org/2000/svg'/>", ErrorCode.UNSUPPORTED_IMAGE_FORMAT),
}


@pytest.mark.parametrize("name", list(BROKEN))
def test_broken_inputs_get_their_code(name):
    data, code = BROKEN[name]
    with pytest.raises(ImageRejected) as rejected:
        decode(data)
    assert rejected.value.code == code


def test_the_worker_checks_dimensions_itself():
    """A 100×100 image is refused by a worker configured for 64 px at most, before decoding."""
    with pytest.raises(ImageRejected) as rejected:
        decode(encode(quadrants(100, 100), "PNG"), max_side=64)
    assert rejected.value.code == ErrorCode.RESOLUTION_TOO_HIGH


def test_a_real_photo_decodes_to_its_pixels():
    data = sample("coffee.jpg")
    decoded = decode(data)
    expected = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    assert np.array_equal(decoded.rgb, expected)
    assert decoded.alpha is None


@pytest.mark.parametrize("subsampling", [0, 1, 2])  # 4:4:4, 4:2:2, 4:2:0
@pytest.mark.parametrize("progressive", [False, True])
def test_colour_jpegs_decode_exactly_as_pillow_does(subsampling, progressive):
    """Colour JPEGs take libjpeg-turbo's path into the workspace; their pixels must be Pillow's."""
    photo = np.asarray(Image.open(io.BytesIO(sample("coffee.jpg"))).convert("RGB"))
    data = encode(photo, "JPEG", quality=90, subsampling=subsampling, progressive=progressive)
    decoded = decode(data)
    assert decoded.pixels.shape == (*photo.shape[:2], 4)
    assert np.array_equal(decoded.rgb, np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_images_taller_than_a_strip_are_copied_whole(fmt):
    """Pillow's images are copied into the workspace a strip of rows at a time."""
    from workers.pipeline.decode import STRIP_ROWS

    lossless = {"lossless": True, "exact": True} if fmt == "WEBP" else {}
    rng = np.random.default_rng(7)
    rgba = rng.integers(0, 256, (2 * STRIP_ROWS + 37, 90, 4), dtype=np.uint8)
    decoded = decode(encode(rgba, fmt, **lossless))
    assert np.array_equal(decoded.rgb, rgba[..., :3])
    assert np.array_equal(decoded.alpha, rgba[..., 3])
    opaque = rgba[..., :3].copy()
    decoded = decode(encode(opaque, fmt, **lossless))
    assert np.array_equal(decoded.rgb, opaque)
    assert decoded.alpha is None


def test_a_jpeg_with_a_libjpeg_warning_is_decoded_as_pillow_decodes_it():
    """Stray bytes before a marker make libjpeg warn; strict decoding stops, Pillow decodes."""
    data = sample("coffee.jpg")
    marker = data.index(b"\xff\xdb")  # the first quantisation table
    warned = data[:marker] + b"\x12\x34\x56" + data[marker:]
    decoded = decode(warned)
    assert np.array_equal(decoded.rgb, np.asarray(Image.open(io.BytesIO(warned)).convert("RGB")))
    assert decoded.pixels.shape[2] == 4
