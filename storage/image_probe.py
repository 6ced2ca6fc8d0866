"""Cheap checks on an input image before anything is charged or queued.

The API calls :func:`probe` on every input: it identifies the format from magic bytes (never from
a declared content type) and reads the dimensions from the header without decoding pixels, so a
bad input is refused in microseconds and a 6000×6000 limit costs nothing to enforce. Workers decode
the pixels later; an image whose header is fine but whose data is broken fails there as
``malformed_image`` and is refunded.
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass

from PIL import Image

from storage.error_codes import ErrorCode

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")

# What Pillow raises on broken input: besides OSError, its plugins let struct.error, IndexError
# and friends escape while parsing chunk headers. MemoryError is deliberately not here.
DECODE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    struct.error,
    IndexError,
    KeyError,
    TypeError,
    ZeroDivisionError,
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,
)

# Formats we recognise but do not process: they get unsupported_image_format, not
# malformed_image, so a client knows converting the file will help.
_RECOGNISED_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "JPEG"),
    (b"\x89PNG\r\n\x1a\n", 0, "PNG"),
    (b"WEBP", 8, "WEBP"),  # after b"RIFF" + 4-byte size
    (b"GIF87a", 0, "GIF"),
    (b"GIF89a", 0, "GIF"),
    (b"BM", 0, "BMP"),
    (b"II*\x00", 0, "TIFF"),
    (b"MM\x00*", 0, "TIFF"),
    (b"8BPS", 0, "PSD"),
    (b"\x00\x00\x01\x00", 0, "ICO"),
    (b"\x00\x00\x00\x0cjP  ", 0, "JPEG2000"),
    (b"\xff\x4f\xff\x51", 0, "JPEG2000"),
    (b"ftypheic", 4, "HEIC"),
    (b"ftypheix", 4, "HEIC"),
    (b"ftypmif1", 4, "HEIF"),
    (b"ftypavif", 4, "AVIF"),
    (b"\xff\x0a", 0, "JPEG-XL"),
    (b"\x00\x00\x00\x0cJXL ", 0, "JPEG-XL"),
    (b"%PDF", 0, "PDF"),
    (b"<svg", 0, "SVG"),
    (b"<?xml", 0, "SVG"),
)


class ImageRejected(Exception):
    """The input cannot be processed; carries the contract's error code."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class ImageInfo:
    format: str
    width: int
    height: int


def sniff_format(head: bytes) -> str | None:
    """The format named by the file's magic bytes, or None when nothing matches."""
    for signature, offset, name in _RECOGNISED_SIGNATURES:
        if head[offset : offset + len(signature)] == signature:
            if name == "WEBP" and not head.startswith(b"RIFF"):
                continue
            return name
    return None


def probe(data: bytes, *, min_side: int, max_side: int) -> ImageInfo:
    """Format and size from the header; raises :class:`ImageRejected` with the right code."""
    if not data:
        raise ImageRejected(ErrorCode.MALFORMED_IMAGE, "The image is empty.")
    fmt = sniff_format(data[:32])
    if fmt is None:
        raise ImageRejected(ErrorCode.MALFORMED_IMAGE, "The image could not be decoded.")
    if fmt not in ACCEPTED_FORMATS:
        raise ImageRejected(
            ErrorCode.UNSUPPORTED_IMAGE_FORMAT,
            f"{fmt} images are not supported; send JPEG, PNG or WebP.",
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[fmt]) as image:
                width, height = image.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected(
            ErrorCode.RESOLUTION_TOO_HIGH,
            f"The image resolution is too high; the limit is {max_side}x{max_side}px.",
        ) from None
    except DECODE_ERRORS:
        raise ImageRejected(ErrorCode.MALFORMED_IMAGE, "The image could not be decoded.") from None
    if width > max_side or height > max_side:
        raise ImageRejected(
            ErrorCode.RESOLUTION_TOO_HIGH,
            f"The image is {width}x{height}px; the limit is {max_side}x{max_side}px.",
        )
    if width < min_side or height < min_side:
        raise ImageRejected(
            ErrorCode.INVALID_PARAMETER,
            f"The image is {width}x{height}px; the minimum is {min_side}x{min_side}px.",
        )
    return ImageInfo(fmt, width, height)
