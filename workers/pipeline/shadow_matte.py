"""The cast shadow's geometry: the subject's silhouette projected onto the ground plane.

The model (drawn in ``docs/shadows/geometry.png``):

- The image shows a ground plane and, standing on it, the subject: a flat cut-out whose lowest
  opaque row ``c`` is the contact line. An opaque pixel ``(u, r)`` is a point at height
  ``h = c − r`` above the ground point seen at ``(u, c)``; ground further away appears higher
  up in the image.
- The light sits above the ground point seen at ``G = (W/2 + x·W/2, H/2 + y·H/2)``: (x, y) is
  the light's position projected onto the image, x to the right, y downward, ±1 at the edges.
  So y < 0 puts it behind the subject (its shadow comes toward the camera, down the image) and
  y > 0 in front (the shadow goes back, up the image, partly hidden by the subject). It is
  ``Lh = z·Hs`` above the ground, ``Hs`` the subject's height in pixels.
- The shadow of the point at height ``h`` lies on the ground, moved away from the light by
  ``h/Lh`` of the distance between the light's foot ``G`` and the subject's base point ``B``
  (the middle of its footprint on the contact line):

      shadow(u, h) = (u, c) + h/Lh · (B − G)

  That is the exact projection from the light for the base point, and for the rest of the
  silhouette with rays taken parallel (as if the light were far compared to the subject's
  width). It is linear in ``h``: the exact point-light factor, ``h/(Lh − h)``, sends everything
  taller than the light to infinity, which no caller wants from ``z < 1``. So the shadow falls
  away from the light, its length is ``|B − G|/z`` at the subject's top, a low light casts a
  long shadow and a high one shrinks it toward the contact shadow under the subject.

Every shadow row ``r'`` holds the shadow of exactly one height, ``h = (r' − c)·Lh/(c − G_y)``,
so the projection inverts row by row: the matte is one ``cv2.remap`` of the subject's alpha.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from workers.contract import ShadowOptions
from workers.pipeline.footing import Footing

# The lowest light we model, in subject heights: z = 0 would cast an infinite shadow.
MIN_LIGHT_HEIGHT = 0.05
# A light's foot level with the contact line would lay the shadow flat along it, one row thick;
# real subjects have depth, so the shadow always advances at least this many rows toward or away
# from the camera per column it moves sideways.
MIN_DROP = 0.3


@dataclass(frozen=True, slots=True)
class CastShadow:
    """The projected silhouette and, per row, how far from the contact line it lies."""

    matte: np.ndarray  # H×W float32 in [0, 1]
    height_fraction: np.ndarray  # H float32: the shadowed height h/Hs each row shows, in [0, 1]
    travel: np.ndarray  # H float32: the distance in pixels from a base point to its shadow


def light_height(options: ShadowOptions, footing: Footing) -> float:
    """The light's height above the ground, in pixels."""
    return max(options.z, MIN_LIGHT_HEIGHT) * footing.height


def light_foot(options: ShadowOptions, shape: tuple[int, ...]) -> tuple[float, float]:
    """Where the ground point below the light is seen, in pixels (column, row)."""
    height, width = shape[:2]
    return width / 2 * (1 + options.x), height / 2 * (1 + options.y)


def cast_shadow(alpha: np.ndarray, footing: Footing, options: ShadowOptions) -> CastShadow:
    """Project ``alpha`` (H×W float32 in [0, 1]) onto the ground plane, away from the light."""
    rows, columns = alpha.shape
    c = footing.contact_row
    subject_height = float(footing.height)
    lift = light_height(options, footing)
    foot_x, foot_y = light_foot(options, alpha.shape)
    drop = c - foot_y  # rows from the light's foot to the contact line
    floor = MIN_DROP * abs(footing.base_centre - foot_x)
    if abs(drop) < floor:
        drop = floor if drop >= 0 else -floor
    if abs(drop) < 1e-3:  # the light right above the base: no cast shadow, only the contact one
        drop = 1e-3

    target_rows = np.arange(rows, dtype=np.float32)
    height_at_row = (target_rows - c) * (lift / drop)  # h whose shadow row r' shows
    visible = (height_at_row >= 0) & (height_at_row <= subject_height + 1)

    # Many source rows can land on one shadow row when the shadow is foreshortened: average
    # them first, so thin horizontal parts are neither lost nor aliased.
    squeeze = round(lift / abs(drop))
    source = cv2.blur(alpha, (1, squeeze)) if squeeze >= 2 else alpha

    # Parallel rays: every point at height h moves by h/Lh · (B − G), B the base point.
    shift = np.where(visible, height_at_row / lift, 0) * (footing.base_centre - foot_x)
    map_y = np.where(visible, c - height_at_row, -1e4).astype(np.float32)
    map_x = np.arange(columns, dtype=np.float32)[np.newaxis, :] - shift[:, np.newaxis]
    matte = cv2.remap(
        source,
        map_x.astype(np.float32),
        np.broadcast_to(map_y[:, np.newaxis], (rows, columns)).astype(np.float32),
        interpolation=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    base_to_foot = float(np.hypot(footing.base_centre - foot_x, drop))
    clipped = np.clip(height_at_row, 0, subject_height)
    return CastShadow(
        matte=matte,
        height_fraction=(clipped / subject_height).astype(np.float32),
        travel=(clipped * base_to_foot / lift).astype(np.float32),
    )
