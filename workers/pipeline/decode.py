"""Bytes to pixels: EXIF orientation applied, every accepted mode brought to 8-bit RGB (+ alpha).

Untrusted bytes meet a C decoder here, so the order matters:

1. the format comes from the magic bytes (:func:`storage.image_probe.probe`), and Pillow is told
   to open only that format, so a file cannot pick a decoder we did not choose;
2. the dimensions are checked from the header before any pixel is decoded (a 40-byte PNG can
   claim 100 000 × 100 000 px);
3. only then are the pixels loaded; whatever the decoder throws at broken data becomes
   ``malformed_image`` (the job is refunded), never an unexpected crash.

Colours: CMYK JPEGs are converted as (1 − C)(1 − K), taking the values as inverted exactly
when Adobe's APP14 marker is present (Photoshop's convention); 16-bit greyscale is scaled by
255/65535 (16-bit colour PNGs keep their high byte); palette and greyscale transparency
(``tRNS``) and real alpha channels become the ``alpha`` plane. Animated PNG and WebP use their
first frame. Embedded ICC profiles are not applied (docs/untrusted-input.md).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import ExifTags, Image, ImageChops, ImageOps

from storage.error_codes import ErrorCode
from storage.image_probe import DECODE_ERRORS, ImageRejected, probe

# The contract's limits; the API checks them too, this keeps the worker safe on its own.
MAX_SIDE = 6000
MIN_SIDE = 1

_SIXTEEN_BIT_GREY = ("I", "I;16", "I;16B", "I;16L", "I;16N")


@dataclass(frozen=True, slots=True)
class Decoded:
    rgb: np.ndarray  # H×W×3 uint8
    alpha: np.ndarray | None  # H×W uint8 when the input carried transparency


def _malformed() -> ImageRejected:
    return ImageRejected(ErrorCode.MALFORMED_IMAGE, "The image could not be decoded.")


def _oriented(image: Image.Image) -> Image.Image:
    """The image as EXIF says to show it; a broken EXIF block is ignored, not fatal.

    Upright images are returned as they are (no copy of a 6000×6000 frame for nothing).
    """
    try:
        orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
        if orientation in range(2, 9):
            return ImageOps.exif_transpose(image)
    except DECODE_ERRORS:
        pass
    return image


def _grey16(image: Image.Image) -> Decoded:
    """16-bit greyscale to 8 bits by scaling (Pillow's convert would clip at 255)."""
    array = np.asarray(image, dtype=np.uint32)
    grey = ((array * 255 + 32767) // 65535).astype(np.uint8)
    alpha = None
    transparent = image.info.get("transparency")
    if isinstance(transparent, int):
        alpha = np.where(array == transparent, 0, 255).astype(np.uint8)
    return Decoded(rgb=np.repeat(grey[..., None], 3, axis=2), alpha=alpha)


def _has_transparency(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info


def _is_plain_cmyk(opened: Image.Image) -> bool:
    """Pillow reads every CMYK JPEG as Adobe-inverted, but only those with Adobe's APP14 marker
    are; without it the values are plain CMYK and Pillow's inversion must be undone."""
    return opened.mode == "CMYK" and "adobe" not in opened.info


def _pixels(image: Image.Image) -> Decoded:
    if image.mode in _SIXTEEN_BIT_GREY:
        return _grey16(image)
    if _has_transparency(image):
        rgba = np.asarray(image.convert("RGBA"))
        return Decoded(rgb=np.ascontiguousarray(rgba[..., :3]), alpha=rgba[..., 3].copy())
    if image.mode != "RGB":
        image = image.convert("RGB")  # L, 1, P, CMYK (Adobe-inverted or not), YCbCr
    return Decoded(rgb=np.asarray(image), alpha=None)


def decode(data: bytes, *, max_side: int = MAX_SIDE, min_side: int = MIN_SIDE) -> Decoded:
    """Pixels of an accepted image; raises :class:`ImageRejected` with the contract's code."""
    info = probe(data, min_side=min_side, max_side=max_side)  # format and size, no pixels yet
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[info.format]) as opened:
                opened.seek(0)  # animated PNG/WebP: the first frame
                # Pixels first: reading EXIF may load a PNG, and a failed load must not be
                # swallowed by the EXIF fallback (a second load() would return half an image).
                opened.load()
                image = _oriented(opened)
                if _is_plain_cmyk(opened):
                    image = ImageChops.invert(image)
                return _pixels(image)
    except DECODE_ERRORS:
        raise _malformed() from None
