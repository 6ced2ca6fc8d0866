"""Real photographs and their ground truth, and helpers to read our PNGs back as pixels."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.paths import EVAL_DIR, SAMPLES


@dataclass(frozen=True)
class EvalItem:
    name: str
    image: Path
    gt: Path
    kind: str
    gt_type: str

    def gt_mask(self) -> np.ndarray:
        """Ground truth as booleans: True where the subject is."""
        return np.asarray(Image.open(self.gt).convert("L")) >= 128


def eval_items() -> list[EvalItem]:
    manifest = EVAL_DIR / "manifest.csv"
    if not manifest.exists():
        pytest.skip(f"development evaluation set not found at {EVAL_DIR}")
    with manifest.open() as rows:
        return [
            EvalItem(
                Path(row["image"]).stem,
                EVAL_DIR / row["image"],
                EVAL_DIR / row["gt"],
                row["kind"],
                row["gt_type"],
            )
            for row in csv.DictReader(rows)
        ]


def eval_item(name: str) -> EvalItem:
    return next(item for item in eval_items() if item.name == name)


def sample(name: str) -> bytes:
    """One of the CC0 photos shipped in docs/samples/."""
    return (SAMPLES / name).read_bytes()


def rgba(png: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.mode == "RGBA"
    return np.asarray(image)


def iou(alpha: np.ndarray, truth: np.ndarray) -> float:
    predicted = alpha >= 128
    return float((predicted & truth).sum() / max((predicted | truth).sum(), 1))


def encode(array: np.ndarray, fmt: str = "PNG", **params: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, fmt, **params)
    return buffer.getvalue()


CAR = "carvana_0cdf5b5d0ce1_01"  # a car on a studio background, with an exact mask


def assert_matches_truth(png: bytes, item: EvalItem, min_iou: float = 0.9) -> np.ndarray:
    """A real cut-out of ``item``: its size, background transparent, subject opaque."""
    out = rgba(png)
    truth = item.gt_mask()
    assert out.shape[:2] == truth.shape
    assert iou(out[..., 3], truth) > min_iou
    return out


def encode_cmyk(array: np.ndarray, **params: object) -> bytes:
    """An H×W×4 CMYK array as a JPEG (Pillow writes it the Adobe way: inverted, with APP14)."""
    height, width = array.shape[:2]
    buffer = io.BytesIO()
    Image.frombytes("CMYK", (width, height), array.tobytes()).save(buffer, "JPEG", **params)
    return buffer.getvalue()


def shadow_coverage(png: bytes, item: EvalItem) -> float:
    """The share of the background (per the ground truth) that the result does not leave clear.

    About 3 % for a plain cut-out of the car (soft edges), 9–18 % with a shadow.
    """
    alpha = rgba(png)[..., 3]
    background = alpha[~item.gt_mask()]
    return np.count_nonzero(background) / background.size


def assert_shadowed_cutout(png: bytes, item: EvalItem) -> np.ndarray:
    """A cut-out of ``item`` with a shadow: the subject stays opaque, a shadow falls outside it."""
    out = rgba(png)
    truth = item.gt_mask()
    assert out.shape[:2] == truth.shape
    assert (out[..., 3][truth] >= 128).mean() > 0.95
    assert shadow_coverage(png, item) > 0.05
    return out
