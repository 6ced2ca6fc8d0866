"""Edge refinement: from the model's low-resolution soft mask to an alpha that follows the photo.

U²-Netp sees the image at 320×320; upsampled, its mask is a blurred blob exactly where a cut-out
is judged: hair, fur, thin leaves. Two steps fix what they can from the photo's own colours, and
both only touch the *uncertain band* (where the mask is neither clearly 0 nor clearly 1, widened
by a few pixels), so the subject's interior and the clean background are never disturbed:

1. **Alpha from colour.** A colour-guided filter (He et al., *Guided Image Filtering*) makes the
   mask locally an affine function of the pixel's colour, so its edge snaps to the photo's edge
   at the photo's resolution. Then local foreground and background colour models (alpha-weighted
   box averages of the photo, as in blur-fusion) give a second estimate per pixel: the projection
   of the pixel's colour onto the line between its local foreground and background colours,
   α = (I−B)·(F−B)/|F−B|². It is trusted in proportion to how well the two colours are separated.
2. **Colour decontamination.** Where alpha is partial the photo's colour is a mix of subject and
   background (green spill on hair). Blur-fusion foreground estimation (Forte & Pitié 2021,
   *Approximate Fast Foreground Colour Estimation*), two passes of box filters, recovers the
   subject's own colour there. Opaque pixels keep the photo's colours exactly.

**Where the time goes, and why it is small.** Everything that is a local *mean* (the guided
filter's coefficients, the colour models, the blur-fusion means) is smooth, so it is computed on
a *grid* about twice the model's resolution (:func:`grid_factor`; ~640 px on the long side), not
on the photo: box filters there cost the same for a 1 MP and a 6 MP photo. What must be sharp is
per pixel (the pixel's own colour, projected or corrected with those means), and that is done at
the photo's resolution *only on the band's pixels*, with the means interpolated bilinearly at each
of them, by compiled loops that visit each pixel once (:mod:`workers.pipeline.band_kernels`).
Alpha-weighted means are interpolated as numerator and denominator and divided per pixel, so a
pixel next to a grid cell with no weight still gets a proper mean. The band (≈10–30% of a photo)
is the only full-resolution float work. At 2.5 MP the grid cut refinement's CPU time 4.5–10×
against running the means at full resolution over the band's bounding box, and the compiled
loops a further 1.1–1.9× against gathering the band's pixels for numpy and ``cv2.remap``
(``bench/refine_cost.py --baseline``). ``bench/quality.py`` measures the effect on the dev set;
``tests/workers/test_refine.py`` compares the grid with a full-resolution run (``grid=1``).
"""

from __future__ import annotations

import cv2
import numpy as np

from workers.heap import return_free_heap
from workers.pipeline.band_kernels import band_alpha, band_foreground, cell_colours

LOW, HIGH = 0.02, 0.98  # mask values outside (LOW, HIGH) count as certain
# Alpha within 5/255 (2%) of 0 or 255 keeps the photo's colour: the spill it could carry is at
# most 2% of the background's colour, invisible, and skipping those pixels halves the work of
# decontamination on a soft mask's long faint tails.
SPILL_FREE = 5
GUIDED_EPS = 1e-4  # guided-filter regulariser: small, so edges follow colour closely
COLOUR_RADIUS = 15  # box radius (pixels, at the image's size) of the local colour models
COLOUR_TRUST = 0.3  # weight of the colour estimate where the colours separate well
SEPARATION = 0.05  # |F−B|² (colours in [0, 1]) above which the colours separate "well"
MAX_WORKING_PIXELS = 6_000_000  # larger photos are refined on a shrunken copy (memory)


Channels = list[np.ndarray]  # one h×w grid image per channel


def _box(image: np.ndarray, radius: int) -> np.ndarray:
    size = 2 * radius + 1
    return cv2.boxFilter(image, -1, (size, size), borderType=cv2.BORDER_REFLECT)


def _blur(image: np.ndarray, size: int) -> np.ndarray:
    return cv2.blur(image, (size, size), borderType=cv2.BORDER_REFLECT)


def _boxes(channels: Channels, radius: int) -> Channels:
    """Each channel box-filtered on its own: merging them into one image for OpenCV and
    splitting the result again cost more than the filter."""
    return [_box(channel, radius) for channel in channels]


def grid_factor(height: int, width: int, model_size: int) -> int:
    """Photo pixels per grid pixel: the grid is about twice the model's input on its long side
    (finer than the mask, so colour edges still steer it), never finer than the photo. An
    integer, so that shrinking to the grid is OpenCV's fast whole-block averaging."""
    return max(1, round(max(height, width) / (2 * model_size)))


def _bounds(where: np.ndarray, margin: int, factor: int) -> tuple[slice, slice] | None:
    """The bounding box of ``where``'s true pixels, widened by ``margin`` and out to whole grid
    cells counted from the photo's origin; None if there are none."""
    rows = np.flatnonzero(where.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(where.any(axis=0))
    height, width = where.shape
    return (
        _cells(rows[0] - margin, rows[-1] + margin + 1, height, factor),
        _cells(cols[0] - margin, cols[-1] + margin + 1, width, factor),
    )


def _cells(start: int, stop: int, length: int, factor: int) -> slice:
    return slice(max(0, start // factor * factor), min(length, -(-stop // factor) * factor))


def _on_grid(box: tuple[slice, slice], factor: int) -> tuple[tuple[slice, slice], tuple[int, int]]:
    """The part of ``box`` made of whole grid cells, and the grid's (width, height).

    A box cut by the photo's right or bottom edge loses its last, partial cell: the grid is a
    whole-cell average (:func:`~workers.pipeline.band_kernels.cell_colours`, or OpenCV's fast
    block average). Pixels in the lost rows or columns take the grid's last cell (the band
    kernels clamp, as ``cv2.BORDER_REPLICATE`` does).
    """
    rows, cols = (max(1, (part.stop - part.start) // factor) for part in box)
    trimmed = (
        slice(box[0].start, min(box[0].stop, box[0].start + rows * factor)),
        slice(box[1].start, min(box[1].stop, box[1].start + cols * factor)),
    )
    return trimmed, (cols, rows)


def stacked(*groups: Channels) -> np.ndarray:
    """Grid images as one h×w×C float32 image, for the band kernels (C-contiguous)."""
    return cv2.merge([channel for group in groups for channel in group])


def _dot(a: Channels, b: Channels) -> np.ndarray:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def guided_coefficients(guide: Channels, mask: np.ndarray, radius: int) -> Channels:
    """Box-averaged coefficients (a_r, a_g, a_b, b) of the colour-guided filter of ``mask`` by
    ``guide`` (three h×w channels in [0, 1]): the filtered mask is a·I + b.

    The 3×3 system per pixel is solved in closed form (the covariance is symmetric): at 0.27 MP
    ``np.linalg.solve`` took ~70 ms, the cofactors a few.
    """
    red, green, blue = guide
    means = _boxes(guide, radius)
    mean_p = _box(mask, radius)
    products = [red * red, red * green, red * blue, green * green, green * blue, blue * blue]
    moments = _boxes(products, radius)
    cross = _boxes([channel * mask for channel in guide], radius)
    pairs = ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))
    rr, rg, rb, gg, gb, bb = (
        moment - means[i] * means[j] for moment, (i, j) in zip(moments, pairs, strict=True)
    )
    rr += GUIDED_EPS
    gg += GUIDED_EPS
    bb += GUIDED_EPS
    cov = [c - m * mean_p for c, m in zip(cross, means, strict=True)]
    # Inverse of [[rr, rg, rb], [rg, gg, gb], [rb, gb, bb]] by cofactors, times cov.
    c00, c01, c02 = gg * bb - gb * gb, rb * gb - rg * bb, rg * gb - rb * gg
    c11, c12, c22 = rr * bb - rb * rb, rg * rb - rr * gb, rr * gg - rg * rg
    inverse_det = 1.0 / (rr * c00 + rg * c01 + rb * c02)
    a = [
        (c00 * cov[0] + c01 * cov[1] + c02 * cov[2]) * inverse_det,
        (c01 * cov[0] + c11 * cov[1] + c12 * cov[2]) * inverse_det,
        (c02 * cov[0] + c12 * cov[1] + c22 * cov[2]) * inverse_det,
    ]
    b = mean_p - _dot(a, means)
    return _boxes([*a, b], radius)


def weighted_sums(alpha: np.ndarray, size: int, fg: Channels, bg: Channels) -> Channels:
    """Box sums for alpha-weighted local means of foreground and background colour (blur
    fusion): fg·α (3), α, bg·(1−α) (3), 1−α. A mean is a sum over its weight; sampling sums
    and weights separately and dividing per pixel keeps a pixel next to a weightless grid cell
    from being pulled towards black."""
    rest = 1.0 - alpha
    weighted = [*(c * alpha for c in fg), alpha, *(c * rest for c in bg), rest]
    return [_blur(channel, size) for channel in weighted]


def means(sums: Channels) -> tuple[Channels, Channels]:
    """Foreground and background colour means from :func:`weighted_sums`."""
    fg_scale = 1.0 / (sums[3] + 1e-5)
    bg_scale = 1.0 / (sums[7] + 1e-5)
    return [c * fg_scale for c in sums[:3]], [c * bg_scale for c in sums[4:7]]


def local_colours(
    image: Channels,
    alpha: np.ndarray,
    size: int,
    fg: Channels | None = None,
    bg: Channels | None = None,
) -> tuple[Channels, Channels]:
    """Alpha-weighted local means of foreground and background colour (blur fusion)."""
    return means(
        weighted_sums(alpha, size, image if fg is None else fg, image if bg is None else bg)
    )


def colour_projection(mean_fg: Channels, mean_bg: Channels) -> Channels:
    """The colour models as a linear map and its weight: (p_r, p_g, p_b, q, trust).

    The projection α = (I−B)·(F−B)/|F−B|² is linear in the pixel's colour I, so α = p·I + q
    with p and q smooth like the means; ``trust`` is how far to believe it over the guided
    alpha, in proportion to how well the two colours separate.
    """
    direction = [f - b for f, b in zip(mean_fg, mean_bg, strict=True)]
    separation = _dot(direction, direction)
    inverse = 1.0 / (separation + 1e-4)
    p = [d * inverse for d in direction]
    q = -_dot(mean_bg, p)
    trust = COLOUR_TRUST * np.clip(separation / SEPARATION, 0.0, 1.0)
    return [*p, q, trust]


def corrected_foreground(
    colours: Channels, alpha: np.ndarray, mean_fg: Channels, mean_bg: Channels
) -> Channels:
    """Blur fusion's per-pixel step: F + α(I − αF − (1−α)B), clipped to [0, 1]."""
    rest = 1.0 - alpha
    return [
        np.clip(f + alpha * (c - alpha * f - rest * b), 0.0, 1.0)
        for c, f, b in zip(colours, mean_fg, mean_bg, strict=True)
    ]


def _shrink(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A box of the photo (or of an 8-bit alpha) as a float32 grid image in [0, 1], averaged
    over whole cells in 8 bits first, so no full-resolution float copy is made."""
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA).astype(np.float32) / 255


def _colours(
    rgb: np.ndarray, cells: tuple[slice, slice], size: tuple[int, int], factor: int
) -> Channels:
    """The photo's colours over ``cells`` on the grid (``size``: width, height), in [0, 1].

    A box thinner than one cell (a photo a few pixels high) is averaged by OpenCV instead: the
    kernel reads whole cells."""
    rows, cols = (part.stop - part.start for part in cells)
    if (rows, cols) != (size[1] * factor, size[0] * factor):
        return cv2.split(_shrink(rgb[cells], size))[:3]
    return list(cell_colours(rgb, cells[0].start, cells[1].start, size[1], size[0], factor))


def _band(unsure: np.ndarray, radius: int, factor: int) -> np.ndarray:
    """The uncertain pixels dilated by a disc of ``radius`` (photo pixels), at the photo's
    resolution. The dilation runs on the grid (an elliptic kernel of radius 24 at full
    resolution cost ~0.1 s at 2.5 MP), so the band is up to one grid cell wider than exact."""
    height, width = unsure.shape
    cells = (-(-height // factor), -(-width // factor))
    padded = cv2.copyMakeBorder(
        unsure.view(np.uint8) * np.uint8(255),
        0,
        cells[0] * factor - height,
        0,
        cells[1] * factor - width,
        cv2.BORDER_CONSTANT,
    )
    on_grid = cv2.resize(padded, cells[::-1], interpolation=cv2.INTER_AREA) > 0  # any, per cell
    reach = max(1, round(radius / factor))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1))
    widened = cv2.dilate(on_grid.view(np.uint8), kernel)
    band = cv2.resize(widened, padded.shape[::-1], interpolation=cv2.INTER_NEAREST)
    return band[:height, :width].view(bool) | unsure


def refine_alpha(
    rgb: np.ndarray,
    mask: np.ndarray,
    model_size: int = 320,
    *,
    grid: int | None = None,
    in_place: bool = False,
) -> np.ndarray:
    """The soft mask (H×W float32 in [0, 1]) refined from the photo's colours, same shape;
    with ``in_place`` written into ``mask`` itself.

    The guided filter and the colour models run on the grid over the band's bounding box; the
    alpha of each band pixel is then computed from its own colour at full resolution. ``grid``
    overrides :func:`grid_factor` (1: everything at full resolution, the reference).
    """
    height, width = mask.shape
    scale = max(height, width) / model_size  # image pixels per model pixel
    radius = max(2, round(4 * scale))
    factor = grid or grid_factor(height, width, model_size)
    unsure = (mask > LOW) & (mask < HIGH)
    box = _bounds(unsure, radius, factor)
    if box is None:
        return mask
    cells, size = _on_grid(box, factor)
    colour = _colours(rgb, cells, size, factor)
    small_mask = cv2.resize(mask[cells], size, interpolation=cv2.INTER_AREA)
    coefficients = guided_coefficients(colour, small_mask, max(1, round(radius / factor)))
    guided = np.clip(_dot(coefficients, colour) + coefficients[3], 0.0, 1.0)
    colour_size = 2 * max(1, round(COLOUR_RADIUS / factor)) + 1
    projection = colour_projection(*local_colours(colour, guided, colour_size))

    out = mask if in_place else mask.copy()
    band = _band(unsure[box], radius, factor)
    grids = stacked(coefficients, projection)
    band_alpha(rgb, out, band, box[0].start, box[1].start, grids, float(factor))
    return out


def mixed(alpha: np.ndarray) -> np.ndarray:
    """Where an 8-bit alpha mixes subject and background visibly: what decontamination
    changes (``SPILL_FREE``)."""
    return (alpha > SPILL_FREE) & (alpha < 255 - SPILL_FREE)


def decontaminate(
    rgb: np.ndarray,
    alpha: np.ndarray,
    model_size: int = 320,
    *,
    grid: int | None = None,
    in_place: bool = False,
) -> np.ndarray:
    """Colours freed from background spill where alpha (uint8) is :func:`mixed`; others
    unchanged. With ``in_place`` they are written into ``rgb`` itself (each pixel is read before
    it is written, and the grid is made first).

    Both blur-fusion passes run on the grid; the final correction uses each partial pixel's own
    colour and alpha at full resolution. ``grid`` as in :func:`refine_alpha`.
    """
    partial = mixed(alpha)
    height, width = alpha.shape
    large = int(np.clip(round(0.045 * max(height, width)), 9, 91))
    factor = grid or grid_factor(height, width, model_size)
    box = _bounds(partial, large, factor)
    if box is None:
        return rgb
    cells, size = _on_grid(box, factor)
    image = _colours(rgb, cells, size, factor)
    weight = _shrink(alpha[cells], size)
    mean_fg, mean_bg = local_colours(image, weight, max(3, round(large / factor)))
    coarse = corrected_foreground(image, weight, mean_fg, mean_bg)
    sums = stacked(weighted_sums(weight, max(3, round(6 / factor)), coarse, mean_bg))

    out = rgb if in_place else rgb.copy()
    rows, cols = (part.stop - part.start for part in box)
    top, left = box[0].start, box[1].start
    band_foreground(rgb, out, alpha, top, left, rows, cols, sums, float(factor), SPILL_FREE)
    return out


def to_alpha(mask: np.ndarray) -> np.ndarray:
    """The mask as 8-bit alpha: ×255, rounded and saturated to 0..255 in one pass by OpenCV,
    with no full-size float temporaries (numpy's ``clip(mask * 255 + 0.5)`` made two of 144 MB
    at 36 MP, and took ~4× longer). Ties round to even, so a value may differ by 1 from
    rounding half up.
    """
    return cv2.multiply(mask, 255.0, dtype=cv2.CV_8U)


def working_size(height: int, width: int) -> tuple[int, int]:
    """The (width, height) refinement works at: the photo's own, or shrunk to
    ``MAX_WORKING_PIXELS``. The segmenter upsamples its mask straight to this size, so a 36 MP
    photo never gets a full-size float mask (144 MB) that refinement would only shrink again."""
    if height * width <= MAX_WORKING_PIXELS:
        return width, height
    factor = (MAX_WORKING_PIXELS / (height * width)) ** 0.5
    return max(1, round(width * factor)), max(1, round(height * factor))


STRIP = 64  # photo rows enlarged at a time (see enlarge_edges)


def enlarge_edges(
    pixels: np.ndarray, small_clean: np.ndarray, small_alpha: np.ndarray
) -> np.ndarray:
    """The working copy's alpha enlarged to ``pixels``' size, and its decontaminated colours
    pasted onto the :func:`mixed` pixels of ``pixels``, in place, a strip of rows at a time.

    Bilinear, with the same pixel-centre alignment as ``cv2.resize``. Nothing full-size is made:
    enlarging the working copy's colours at once made a full-size RGB image (108 MB at 36 MP)
    to use a few percent of it, and a decoder's H×W×4 workspace takes the alpha in its fourth
    channel (the alpha returned is a view of it) instead of a separate 36 MB array.
    """
    height, width = pixels.shape[:2]
    workspace = pixels.shape[2] == 4
    alpha = pixels[..., 3] if workspace else np.empty((height, width), np.uint8)
    small_height, small_width = small_alpha.shape
    map_x = (np.arange(width, dtype=np.float32) + 0.5) * np.float32(small_width / width) - 0.5
    for top in range(0, height, STRIP):
        rows = slice(top, min(height, top + STRIP))
        y = (np.arange(rows.start, rows.stop, dtype=np.float32) + 0.5) * np.float32(
            small_height / height
        ) - 0.5
        xs, ys = np.meshgrid(map_x, y)
        strip_alpha = _enlarged(small_alpha, xs, ys)
        where = mixed(strip_alpha)
        if where.any():
            pixels[rows][where] = _enlarged(small_clean, xs, ys)[where]  # all four channels
        alpha[rows] = strip_alpha  # so the alpha goes in after the colours
    return alpha


def _enlarged(small: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    return cv2.remap(small, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def refine(
    rgb: np.ndarray,
    mask: np.ndarray,
    model_size: int = 320,
    enabled: bool = True,
    *,
    overwrite: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Colours and 8-bit alpha of the cut-out: refined, or the plain mask when disabled.

    ``rgb`` is H×W×3, or a decoder's H×W×4 workspace (colours first, the fourth channel
    ignored); the colours come back in the same layout. A large photo's alpha may come back
    as a view of the workspace's fourth channel (:func:`enlarge_edges`).

    ``mask`` is at the photo's size or, for a photo above ``MAX_WORKING_PIXELS``, at
    :func:`working_size` (a full-size mask is shrunk to it). Above that size the refinement
    runs on a shrunken copy (the model saw 320² px anyway) and its alpha and edge colours are
    scaled back up, so a 36 MP photo does not hold a dozen full-size images at once. With
    ``overwrite`` the edge colours are written into ``rgb`` itself, and the refined alpha into
    ``mask`` (the caller is done with both): one full-size copy fewer of each.
    """
    height, width = rgb.shape[:2]
    if not rgb.flags.c_contiguous:  # e.g. a workspace's [..., :3] view: numpy and OpenCV would
        rgb = np.ascontiguousarray(rgb)  # each copy it again and again
    if not enabled:
        alpha = to_alpha(mask)
        if alpha.shape != (height, width):
            alpha = cv2.resize(alpha, (width, height), interpolation=cv2.INTER_LINEAR)
        return rgb, alpha
    size = working_size(height, width)
    own_mask = overwrite and mask.flags.writeable
    if mask.shape != (size[1], size[0]):
        mask, own_mask = cv2.resize(mask, size, interpolation=cv2.INTER_AREA), True
    writeable = overwrite and rgb.flags.writeable
    if size == (width, height):
        alpha = to_alpha(refine_alpha(rgb, mask, model_size, in_place=own_mask))
        return decontaminate(rgb, alpha, model_size, in_place=writeable), alpha
    small_rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    small_alpha = to_alpha(refine_alpha(small_rgb, mask, model_size, in_place=own_mask))
    del mask
    small_clean = decontaminate(small_rgb, small_alpha, model_size, in_place=True)
    # The working copy's temporaries stay in the heap for reuse (workers/heap.py); the
    # full-size arrays coming next are the job's peak, so hand them back first.
    return_free_heap()
    colours = rgb if writeable else rgb.copy()
    return colours, enlarge_edges(colours, small_clean, small_alpha)
