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


def encode_cmyk(array: np.ndarray, **params: object) -> bytes:
    """An H×W×4 CMYK array as a JPEG (Pillow writes it the Adobe way: inverted, with APP14)."""
    height, width = array.shape[:2]
    buffer = io.BytesIO()
    Image.frombytes("CMYK", (width, height), array.tobytes()).save(buffer, "JPEG", **params)
    return buffer.getvalue()
