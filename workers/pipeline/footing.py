"""Where the subject stands: its contact line, its height and the columns that touch the ground.

The shadow model puts the subject on a ground plane at its lowest opaque row (the contact line)
and measures heights upward from there. Opaque means alpha ≥ ``OPAQUE`` so that a faint halo
under the subject's feet does not lower the ground.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OPAQUE = 128
# Columns whose lowest opaque pixel lies within this fraction of the subject's height above the
# contact line stand on the ground (feet, wheels, the base of a cup); the others overhang it.
FOOTPRINT_BAND = 0.08


@dataclass(frozen=True, slots=True)
class Footing:
    """Rows and columns in the pixels of the matte the footing was measured on."""

    contact_row: int  # the lowest opaque row: the ground line
    top_row: int  # the highest opaque row
    left: int  # the opaque columns' extent
    right: int
    # Per column, the lowest opaque row, or -1 where the column holds no opaque pixel.
    bottom_profile: np.ndarray
    # Per column, True where the subject touches the ground (its footprint).
    footprint: np.ndarray

    @property
    def height(self) -> int:
        """The subject's height in pixels, at least one."""
        return max(1, self.contact_row - self.top_row)

    @property
    def base_centre(self) -> float:
        """The footprint's mean column: where the subject's weight meets the ground."""
        columns = np.flatnonzero(self.footprint)
        return float(columns.mean())


def find_footing(alpha: np.ndarray) -> Footing | None:
    """The footing of the opaque part of ``alpha`` (H×W uint8), or None when nothing is opaque."""
    opaque = alpha >= OPAQUE
    rows = np.flatnonzero(opaque.any(axis=1))
    columns = np.flatnonzero(opaque.any(axis=0))
    if rows.size == 0:
        return None
    height = opaque.shape[0]
    # The lowest opaque row of each column: argmax over the rows read bottom-up.
    lowest = height - 1 - np.argmax(opaque[::-1], axis=0)
    profile = np.where(opaque.any(axis=0), lowest, -1)
    contact, top = int(rows[-1]), int(rows[0])
    band = max(1.0, FOOTPRINT_BAND * (contact - top))
    footprint = profile >= contact - band
    return Footing(
        contact_row=contact,
        top_row=top,
        left=int(columns[0]),
        right=int(columns[-1]),
        bottom_profile=profile,
        footprint=footprint,
    )
