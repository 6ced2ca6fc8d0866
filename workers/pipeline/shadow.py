"""The AI-shadow stage: a cast shadow and a contact shadow, composed under the subject.

The shadow is rendered at the working resolution (:mod:`workers.pipeline.working`) and its
alpha scaled back up to the image's size.

- Penumbra: the cast shadow is blurred by ``SIGMA_MIN + size·PENUMBRA·travel`` where
  ``travel`` is how far a shadow point lies from the base point that casts it: sharp where the
  subject meets the ground, softer with distance (contact hardening) and with a larger light.
- Darkness: the cast shadow fades with the shadowed height (ambient light fills in far from the
  subject); a tight, darker contact shadow sits under the footprint, whatever the light.
- ``opacity`` multiplies the whole shadow, so darkness is linear in it and 0 adds nothing.
- The subject is composed over the shadow: opaque pixels keep their exact value, soft edges keep
  their premultiplied colour, and the shadow is black with the shadow's alpha elsewhere.
"""

from __future__ import annotations

import cv2
import numpy as np

from workers.contract import ShadowOptions
from workers.pipeline.footing import Footing, find_footing
from workers.pipeline.shadow_matte import cast_shadow
from workers.pipeline.working import from_working, to_working

SIGMA_MIN = 0.8  # working pixels: the penumbra at the contact line
PENUMBRA = 0.22  # blur per pixel of travel, at size 1
PYRAMID_SIGMA = 2.0  # blurs wider than this many pixels run on a copy halved until they are not
CAST_DARKNESS = 0.75  # the cast shadow's density at the contact line
FADE = 0.6  # how much of that density is gone at the tip of the shadow
CONTACT_GAIN = 2.0  # the blurred band saturates to full darkness along the footprint
CONTACT_THICKNESS = 0.012  # the contact shadow's thickness, in subject heights
CONTACT_SPREAD = 0.02  # its horizontal blur, in subject heights


def _blur(matte: np.ndarray, sigma: float) -> np.ndarray:
    """A Gaussian blur; wide ones on a smaller copy (the result is smooth at that scale)."""
    factor = 1
    while sigma / (2 * factor) >= PYRAMID_SIGMA and min(matte.shape) // (2 * factor) >= 8:
        factor *= 2
    if factor == 1:
        return cv2.GaussianBlur(matte, (0, 0), sigma, borderType=cv2.BORDER_CONSTANT)
    rows, columns = matte.shape
    padded = cv2.copyMakeBorder(matte, 0, -rows % factor, 0, -columns % factor, cv2.BORDER_CONSTANT)
    small = cv2.resize(
        padded, (padded.shape[1] // factor, padded.shape[0] // factor), interpolation=cv2.INTER_AREA
    )
    blurred = cv2.GaussianBlur(small, (0, 0), sigma / factor, borderType=cv2.BORDER_CONSTANT)
    size = (blurred.shape[1] * factor, blurred.shape[0] * factor)
    return cv2.resize(blurred, size, interpolation=cv2.INTER_LINEAR)[:rows, :columns]


def _varying_blur(matte: np.ndarray, sigma_per_row: np.ndarray) -> np.ndarray:
    """Blur each row by its own sigma: blend the two nearest of a ladder of octave blurs."""
    levels = [matte]
    sigma = SIGMA_MIN
    while True:
        levels.append(_blur(matte, sigma))
        if sigma >= sigma_per_row.max():
            break
        sigma *= 2
    # Level 0 is unblurred, level k ≥ 1 has sigma SIGMA_MIN·2^(k−1).
    position = 1 + np.log2(np.maximum(sigma_per_row, SIGMA_MIN) / SIGMA_MIN)
    position = np.clip(position, 1, len(levels) - 1)
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, len(levels) - 1)
    weight = (position - low).astype(np.float32)[:, np.newaxis]
    stack = np.stack(levels)
    rows = np.arange(matte.shape[0])
    return stack[low, rows] * (1 - weight) + stack[high, rows] * weight


def _contact_shadow(shape: tuple[int, ...], footing: Footing) -> np.ndarray:
    """A thin dark band under the footprint, spreading a little beyond it."""
    contact = np.zeros(shape[:2], np.float32)
    c = footing.contact_row
    thickness = max(1, round(CONTACT_THICKNESS * footing.height))
    low, high = max(0, c - thickness), min(shape[0], c + thickness + 1)
    contact[low:high, footing.footprint] = 1.0
    spread = max(1.0, CONTACT_SPREAD * footing.height)
    return cv2.GaussianBlur(
        contact, (0, 0), sigmaX=spread, sigmaY=spread / 2, borderType=cv2.BORDER_CONSTANT
    )


def shadow_density(alpha: np.ndarray, options: ShadowOptions) -> np.ndarray | None:
    """The shadow's darkness before ``opacity``, float32 in [0, 1], at the working resolution.

    None when the subject has no opaque pixel to stand on.
    """
    small = to_working(alpha)
    footing = find_footing(small)
    if footing is None:
        return None
    cast = cast_shadow(small.astype(np.float32) / 255, footing, options)
    sigma = SIGMA_MIN + options.size * PENUMBRA * cast.travel
    blurred = _varying_blur(cast.matte, sigma)
    darkness = CAST_DARKNESS * (1 - FADE * cast.height_fraction)[:, np.newaxis]
    contact = CONTACT_GAIN * _contact_shadow(small.shape, footing)
    return np.clip(np.maximum(blurred * darkness, contact), 0, 1)


def compose_under(rgba: np.ndarray, shadow_alpha: np.ndarray) -> np.ndarray:
    """The subject over a black shadow of alpha ``shadow_alpha`` (H×W uint8).

    Pixels the shadow does not reach, and opaque subject pixels, keep their exact values; the
    shadow alone is black with its own alpha; soft subject edges keep their premultiplied colour
    over the combined alpha.
    """
    alpha = rgba[..., 3]
    reached = shadow_alpha > 0
    bare = reached & (alpha == 0)
    # One 32-bit word per pixel (little-endian RGBA: alpha is the top byte), one pass.
    words = np.ascontiguousarray(rgba).view("<u4")[..., 0]
    shadow_words = shadow_alpha.astype("<u4") << 24
    out = np.where(bare, shadow_words, words).view(np.uint8).reshape(rgba.shape)

    edge = np.nonzero(reached & (alpha > 0) & (alpha < 255))
    subject = alpha[edge].astype(np.float32) * (1 / 255)
    shadow = shadow_alpha[edge].astype(np.float32) * (1 / 255)
    combined = subject + shadow * (1 - subject)
    colour = rgba[edge][:, :3].astype(np.float32) * (subject / combined)[:, np.newaxis]
    out[edge[0], edge[1], :3] = np.clip(colour + 0.5, 0, 255).astype(np.uint8)
    out[edge[0], edge[1], 3] = np.clip(combined * 255 + 0.5, 0, 255).astype(np.uint8)
    return out


def render_shadow(rgba: np.ndarray, options: ShadowOptions) -> np.ndarray:
    """``rgba`` with the shadow of ``options``'s light composed under the subject."""
    if options.opacity <= 0:
        return rgba
    density = shadow_density(rgba[..., 3], options)
    if density is None:
        return rgba
    shadow_alpha = np.clip(density * (options.opacity * 255) + 0.5, 0, 255).astype(np.uint8)
    return compose_under(rgba, from_working(shadow_alpha, rgba.shape))
