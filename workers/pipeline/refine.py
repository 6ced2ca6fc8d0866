"""Edge refinement: from the model's low-resolution soft mask to an alpha that follows the photo.

U²-Netp sees the image at 320×320; upsampled, its mask is a blurred blob exactly where a cut-out
is judged: hair, fur, thin leaves. Two steps fix what they can from the photo's own colours, and
both only touch the *uncertain band* (where the mask is neither clearly 0 nor clearly 1, widened
by a few pixels), so the subject's interior and the clean background are never disturbed:

1. **Alpha from colour.** A colour-guided filter (He et al., *Guided Image Filtering*) makes the
   mask locally an affine function of the pixel's colour, so its edge snaps to the photo's edge
   at the photo's resolution (computed on a grid about twice the model's, then upsampled). Then
   local foreground and background colour models (alpha-weighted box averages of the photo, as
   in blur-fusion) give a second estimate per pixel: the projection of the pixel's colour onto
   the line between its local foreground and background colours, α = (I−B)·(F−B)/|F−B|². It is
   trusted in proportion to how well the two colours are separated.
2. **Colour decontamination.** Where alpha is partial the photo's colour is a mix of subject and
   background (green spill on hair). Blur-fusion foreground estimation (Forte & Pitié 2021,
   *Approximate Fast Foreground Colour Estimation*), two passes of box filters, recovers the
   subject's own colour there. Opaque pixels keep the photo's colours exactly.

Both are box filters and a 3×3 solve per pixel on a reduced grid: linear time, no iterations.
``bench/refine_cost.py`` measures their share of a job; ``bench/quality.py`` their effect.
"""

from __future__ import annotations

import cv2
import numpy as np

LOW, HIGH = 0.02, 0.98  # mask values outside (LOW, HIGH) count as certain
GUIDED_EPS = 1e-4  # guided-filter regulariser: small, so edges follow colour closely
COLOUR_RADIUS = 15  # box radius (pixels, at the image's size) of the local colour models
COLOUR_TRUST = 0.3  # weight of the colour estimate where the colours separate well
SEPARATION = 0.05  # |F−B|² (colours in [0, 1]) above which the colours separate "well"
MAX_WORKING_PIXELS = 6_000_000  # larger photos are refined on a shrunken copy (memory)


def _box(image: np.ndarray, radius: int) -> np.ndarray:
    size = 2 * radius + 1
    return cv2.boxFilter(image, -1, (size, size), borderType=cv2.BORDER_REFLECT)


def _blur(image: np.ndarray, size: int) -> np.ndarray:
    return cv2.blur(image, (size, size), borderType=cv2.BORDER_REFLECT)


def guided_filter(guide: np.ndarray, mask: np.ndarray, radius: int, scale: float) -> np.ndarray:
    """Colour-guided filter of ``mask`` by ``guide`` (H×W×3 in [0, 1]), fast variant.

    The linear coefficients are computed on a grid ``scale`` times smaller and upsampled, which
    keeps the cost independent of the image's resolution (He & Sun, *Fast Guided Filter*).
    """
    height, width = mask.shape
    small_size = (max(1, round(width / scale)), max(1, round(height / scale)))
    g = cv2.resize(guide, small_size, interpolation=cv2.INTER_AREA)
    p = cv2.resize(mask, small_size, interpolation=cv2.INTER_AREA)
    r = max(1, round(radius / scale))
    mean_g = _box(g, r)
    mean_p = _box(p, r)
    cov_gp = _box(g * p[..., None], r) - mean_g * mean_p[..., None]
    outer = (g[..., :, None] * g[..., None, :]).reshape(*p.shape, 9)
    var_g = _box(outer, r).reshape(*p.shape, 3, 3) - mean_g[..., :, None] * mean_g[..., None, :]
    var_g += GUIDED_EPS * np.eye(3, dtype=np.float32)
    a = np.linalg.solve(var_g, cov_gp[..., None])[..., 0]
    b = mean_p - np.einsum("hwc,hwc->hw", a, mean_g)
    mean_a = cv2.resize(_box(a, r), (width, height), interpolation=cv2.INTER_LINEAR)
    mean_b = cv2.resize(_box(b, r), (width, height), interpolation=cv2.INTER_LINEAR)
    return np.einsum("hwc,hwc->hw", mean_a, guide) + mean_b


def local_colours(
    image: np.ndarray,
    alpha: np.ndarray,
    size: int,
    fg: np.ndarray | None = None,
    bg: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Alpha-weighted local means of foreground and background colour (blur fusion)."""
    fg = image if fg is None else fg
    bg = image if bg is None else bg
    a = alpha[..., None]
    blurred_alpha = _blur(alpha, size)[..., None]
    mean_fg = _blur(fg * a, size) / (blurred_alpha + 1e-5)
    mean_bg = _blur(bg * (1.0 - a), size) / (1.0 - blurred_alpha + 1e-5)
    return mean_fg, mean_bg


def colour_alpha(image: np.ndarray, alpha: np.ndarray, size: int) -> np.ndarray:
    """Alpha re-estimated from local colour models, blended by how well the colours separate."""
    mean_fg, mean_bg = local_colours(image, alpha, size)
    direction = mean_fg - mean_bg
    separation = np.einsum("hwc,hwc->hw", direction, direction)
    projected = np.einsum("hwc,hwc->hw", image - mean_bg, direction) / (separation + 1e-4)
    trust = COLOUR_TRUST * np.clip(separation / SEPARATION, 0.0, 1.0)
    return trust * np.clip(projected, 0.0, 1.0) + (1.0 - trust) * alpha


def estimate_foreground(image: np.ndarray, alpha: np.ndarray, large: int) -> np.ndarray:
    """Blur-fusion foreground colours (Forte & Pitié 2021): a coarse pass, then a fine one."""
    fg, bg = local_colours(image, alpha, large)
    a = alpha[..., None]
    fg = np.clip(fg + a * (image - a * fg - (1.0 - a) * bg), 0.0, 1.0)
    fine_fg, fine_bg = local_colours(image, alpha, 6, fg=fg, bg=bg)
    return np.clip(fine_fg + a * (image - a * fine_fg - (1.0 - a) * fine_bg), 0.0, 1.0)


def _band(mask: np.ndarray, radius: int) -> tuple[slice, slice] | None:
    """The bounding box of the uncertain pixels, widened by ``radius``; None if there are none."""
    rows = np.flatnonzero(((mask > LOW) & (mask < HIGH)).any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(((mask > LOW) & (mask < HIGH)).any(axis=0))
    height, width = mask.shape
    return (
        slice(max(0, rows[0] - radius), min(height, rows[-1] + radius + 1)),
        slice(max(0, cols[0] - radius), min(width, cols[-1] + radius + 1)),
    )


def refine_alpha(rgb: np.ndarray, mask: np.ndarray, model_size: int = 320) -> np.ndarray:
    """The soft mask (H×W float32 in [0, 1]) refined from the photo's colours, same shape."""
    height, width = mask.shape
    scale = max(height, width) / model_size  # image pixels per model pixel
    radius = max(2, round(4 * scale))
    box = _band(mask, radius)
    if box is None:
        return mask
    image = rgb[box].astype(np.float32) * np.float32(1 / 255)
    soft = mask[box]
    guided = guided_filter(image, soft, radius, max(1.0, scale / 2))
    refined = colour_alpha(image, np.clip(guided, 0.0, 1.0), 2 * COLOUR_RADIUS + 1)
    # Only the uncertain band changes: a dilation of the pixels the model was unsure about.
    unsure = ((soft > LOW) & (soft < HIGH)).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    band = cv2.dilate(unsure, kernel).astype(bool)
    out = mask.copy()
    out[box] = np.where(band, np.clip(refined, 0.0, 1.0), soft)
    return out


def decontaminate(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Colours freed from background spill where alpha (uint8) is partial; others unchanged."""
    partial = (alpha > 0) & (alpha < 255)
    if not partial.any():
        return rgb
    height, width = alpha.shape
    large = int(np.clip(round(0.045 * max(height, width)), 9, 91))
    rows = np.flatnonzero(partial.any(axis=1))
    cols = np.flatnonzero(partial.any(axis=0))
    box = (
        slice(max(0, rows[0] - large), min(height, rows[-1] + large + 1)),
        slice(max(0, cols[0] - large), min(width, cols[-1] + large + 1)),
    )
    image = rgb[box].astype(np.float32) * np.float32(1 / 255)
    a = alpha[box].astype(np.float32) * np.float32(1 / 255)
    fg = estimate_foreground(image, a, large)
    out = rgb.copy()
    where = partial[box]
    out[box][where] = np.clip(fg[where] * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return out


def to_alpha(mask: np.ndarray) -> np.ndarray:
    """The mask as 8-bit alpha: ×255, rounded and saturated to 0..255 in one pass by OpenCV,
    with no full-size float temporaries (numpy's ``clip(mask * 255 + 0.5)`` made two of 144 MB
    at 36 MP, and took ~4× longer). Ties round to even, so a value may differ by 1 from
    rounding half up.
    """
    return cv2.multiply(mask, 255.0, dtype=cv2.CV_8U)


def _working_copy(rgb: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Photo and mask shrunk to ``MAX_WORKING_PIXELS``, or None when they are small enough."""
    height, width = mask.shape
    if height * width <= MAX_WORKING_PIXELS:
        return None
    factor = (MAX_WORKING_PIXELS / (height * width)) ** 0.5
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return (
        cv2.resize(rgb, size, interpolation=cv2.INTER_AREA),
        cv2.resize(mask, size, interpolation=cv2.INTER_AREA),
    )


def refine(
    rgb: np.ndarray, mask: np.ndarray, model_size: int = 320, enabled: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Colours and 8-bit alpha of the cut-out: refined, or the plain mask when disabled.

    Above ``MAX_WORKING_PIXELS`` the refinement runs on a shrunken copy (the model saw 320² px
    anyway) and its alpha and edge colours are scaled back up, so a 36 MP photo does not hold a
    dozen full-size float images at once.
    """
    if not enabled:
        return rgb, to_alpha(mask)
    shrunk = _working_copy(rgb, mask)
    if shrunk is None:
        alpha = to_alpha(refine_alpha(rgb, mask, model_size))
        return decontaminate(rgb, alpha), alpha
    small_rgb, small_mask = shrunk
    small_alpha = to_alpha(refine_alpha(small_rgb, small_mask, model_size))
    small_clean = decontaminate(small_rgb, small_alpha)
    height, width = mask.shape
    alpha = cv2.resize(small_alpha, (width, height), interpolation=cv2.INTER_LINEAR)
    partial = (alpha > 0) & (alpha < 255)
    colours = rgb.copy()
    upscaled = cv2.resize(small_clean, (width, height), interpolation=cv2.INTER_LINEAR)
    colours[partial] = upscaled[partial]
    return colours, alpha
