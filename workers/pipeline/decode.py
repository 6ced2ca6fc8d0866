"""Bytes to pixels: EXIF orientation applied, every accepted mode brought to 8-bit RGB.

Only the accepted formats are ever opened (Pillow is told which), so a file that claims to be a
PNG but is something else cannot reach a decoder we did not choose.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

from storage.error_codes import ErrorCode
from storage.image_probe import ACCEPTED_FORMATS, ImageRejected


@dataclass(frozen=True, slots=True)
class Decoded:
    rgb: np.ndarray  # H×W×3 uint8
    alpha: np.ndarray | None  # H×W uint8 when the input carried transparency


def _to_8bit(image: Image.Image) -> Image.Image:
    """16-bit and 32-bit greyscale scaled to 8 bits (Pillow's convert would clip them)."""
    array = np.asarray(image, dtype=np.float64)
    peak = 65535.0 if image.mode.startswith("I;16") or array.max() > 255 else 255.0
    return Image.fromarray(np.clip(array * (255.0 / peak), 0, 255).astype(np.uint8), "L")


def _has_transparency(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info


def decode(data: bytes) -> Decoded:
    try:
        with Image.open(io.BytesIO(data), formats=list(ACCEPTED_FORMATS)) as opened:
            image = ImageOps.exif_transpose(opened)
            image.load()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise ImageRejected(ErrorCode.MALFORMED_IMAGE, "The image could not be decoded.") from None

    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        image = _to_8bit(image)
    if _has_transparency(image):
        rgba = np.asarray(image.convert("RGBA"))
        return Decoded(rgb=np.ascontiguousarray(rgba[..., :3]), alpha=rgba[..., 3].copy())
    return Decoded(rgb=np.asarray(image.convert("RGB")), alpha=None)
