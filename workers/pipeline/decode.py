"""Bytes to pixels: EXIF orientation applied, every accepted mode brought to 8-bit RGB (+ alpha).

The pixels land in a *workspace*: H×W×4, the colours in the first three channels and the fourth
kept free, so that the cut-out later writes its alpha there instead of allocating a new RGBA image
next to the photo (at 36 MP that is 144 MB off the worker's peak; ``bench/memory.py``).

* Colour JPEGs, most of what arrives, are decoded by libjpeg-turbo through ``simplejpeg``
  straight into the workspace: no copy at all, where Pillow decoded into its own image and
  ``np.asarray`` then held two more copies (its ``tobytes`` chunks and their join); and faster:
  the decode stage went from 11–14 to 5–9 ms at 2.5 MP and from 380 to 98 ms at 36 MP
  (``bench/stages.py``, same host). The pixels are identical to Pillow's: same library, same
  default DCT and upsampling (``tests/workers/test_decode_corpus.py``).
* Everything else goes through Pillow and is copied into the workspace a strip of rows at a time.

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

import contextlib
import io
import warnings
from dataclasses import dataclass

import cv2
import numpy as np
import simplejpeg
from PIL import ExifTags, Image, ImageChops

from storage.error_codes import ErrorCode
from storage.image_probe import DECODE_ERRORS, ImageRejected, probe

# The contract's limits; the API checks them too, this keeps the worker safe on its own.
MAX_SIDE = 6000
MIN_SIDE = 1

_SIXTEEN_BIT_GREY = ("I", "I;16", "I;16B", "I;16L", "I;16N")
STRIP_ROWS = 256  # rows copied from a Pillow image at a time (see _workspace)

# How to turn each EXIF orientation's stored pixels upright (EXIF 2.32, tag 0x0112).
_UPRIGHT = {
    2: lambda stored: cv2.flip(stored, 1),
    3: lambda stored: cv2.rotate(stored, cv2.ROTATE_180),
    4: lambda stored: cv2.flip(stored, 0),
    5: cv2.transpose,
    6: lambda stored: cv2.rotate(stored, cv2.ROTATE_90_CLOCKWISE),
    7: lambda stored: cv2.flip(cv2.transpose(stored), -1),
    8: lambda stored: cv2.rotate(stored, cv2.ROTATE_90_COUNTERCLOCKWISE),
}


@dataclass(frozen=True, slots=True)
class Decoded:
    pixels: np.ndarray  # H×W×4 uint8: the colours (RGB), and a fourth channel free for the alpha
    alpha: np.ndarray | None  # H×W uint8 when the input carried transparency

    @property
    def rgb(self) -> np.ndarray:
        """The colours, as a view (not contiguous: OpenCV copies it; pass ``pixels`` instead)."""
        return self.pixels[..., :3]


def _malformed() -> ImageRejected:
    return ImageRejected(ErrorCode.MALFORMED_IMAGE, "The image could not be decoded.")


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation (1: upright); a broken EXIF block is ignored, not fatal."""
    try:
        orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
    except DECODE_ERRORS:
        return 1
    return orientation if orientation in _UPRIGHT else 1


def _upright(decoded: Decoded, orientation: int) -> Decoded:
    """The pixels (and alpha) as EXIF says to show them, whichever decoder made them. Upright
    images are returned as they are (no copy of a 6000×6000 frame for nothing)."""
    if orientation == 1:
        return decoded
    turn = _UPRIGHT[orientation]
    return Decoded(turn(decoded.pixels), None if decoded.alpha is None else turn(decoded.alpha))


def _colour_jpeg(data: bytes, opened: Image.Image) -> Decoded:
    """A three-channel JPEG decoded by libjpeg-turbo into the workspace.

    ``strict``: libjpeg's first warning raises ``ValueError``, and the caller hands the file to
    Pillow, which decides as it always has: stray bytes between segments (a warning some
    cameras' files carry) are decoded, a truncated stream is refused. Lenient decoding here
    would return a truncated photo's missing rows as grey.
    """
    pixels = np.empty((opened.height, opened.width, 4), np.uint8)
    simplejpeg.decode_jpeg(data, colorspace="RGBX", buffer=pixels, strict=True)
    return Decoded(pixels, None)


def _workspace(image: Image.Image, rawmode: str) -> np.ndarray:
    """A Pillow image's pixels as H×W×4 (``rawmode``: "RGBX" or "RGBA"), a strip of rows at a
    time: ``np.asarray`` of the whole image would hold two extra copies of it."""
    width, height = image.size
    pixels = np.empty((height, width, 4), np.uint8)
    for top in range(0, height, STRIP_ROWS):
        strip = image.crop((0, top, width, min(height, top + STRIP_ROWS)))
        raw = np.frombuffer(strip.tobytes("raw", rawmode), np.uint8)
        pixels[top : top + strip.height] = raw.reshape(strip.height, width, 4)
    return pixels


def _grey16(image: Image.Image) -> Decoded:
    """16-bit greyscale to 8 bits by scaling (Pillow's convert would clip at 255)."""
    array = np.asarray(image, dtype=np.uint32)
    grey = ((array * 255 + 32767) // 65535).astype(np.uint8)
    alpha = None
    transparent = image.info.get("transparency")
    if isinstance(transparent, int):
        alpha = np.where(array == transparent, 0, 255).astype(np.uint8)
    return Decoded(pixels=cv2.cvtColor(grey, cv2.COLOR_GRAY2RGBA), alpha=alpha)


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
        pixels = _workspace(image.convert("RGBA"), "RGBA")
        return Decoded(pixels=pixels, alpha=pixels[..., 3].copy())
    if image.mode != "RGB":
        image = image.convert("RGB")  # L, 1, P, CMYK (Adobe-inverted or not), YCbCr
    return Decoded(pixels=_workspace(image, "RGBX"), alpha=None)


def decode(data: bytes, *, max_side: int = MAX_SIDE, min_side: int = MIN_SIDE) -> Decoded:
    """Pixels of an accepted image; raises :class:`ImageRejected` with the contract's code."""
    info = probe(data, min_side=min_side, max_side=max_side)  # format and size, no pixels yet
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[info.format]) as opened:
                if info.format == "JPEG" and opened.mode == "RGB":
                    with contextlib.suppress(ValueError):
                        return _upright(_colour_jpeg(data, opened), _orientation(opened))
                opened.seek(0)  # animated PNG/WebP: the first frame
                # Pixels first: reading EXIF may load a PNG, and a failed load must not be
                # swallowed by the EXIF fallback (a second load() would return half an image).
                opened.load()
                image = ImageChops.invert(opened) if _is_plain_cmyk(opened) else opened
                return _upright(_pixels(image), _orientation(opened))
    except DECODE_ERRORS:
        raise _malformed() from None
