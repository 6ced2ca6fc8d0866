"""The AI-shadow stage (rendering lands with issue 5; today it returns the cut-out unchanged)."""

from __future__ import annotations

import numpy as np

from workers.contract import ShadowOptions


def add_shadow(rgba: np.ndarray, options: ShadowOptions) -> np.ndarray:
    return rgba
