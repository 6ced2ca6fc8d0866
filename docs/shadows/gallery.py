"""Render the gallery in docs/shadows/: real subjects under sweeps of the light's parameters.

The subjects are the CC0 sample photos' cut-outs made by the pipeline (U²-Netp), placed on a
larger canvas with floor around them (the samples are cropped at the subject's base, which would
leave no ground for a shadow). Each grid varies one parameter; the last one shows automatic
shadows: a studio-like photo is made with the subject's shadow from a known light, the full
pipeline runs on it with ``shadow: true``, and the light it reports is printed under it.

    .venv/bin/python docs/shadows/gallery.py
"""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from workers.contract import JobOptions, ShadowOptions
from workers.models.registry import U2NETP, locate
from workers.models.session import SessionConfig
from workers.pipeline.compose import cut_out
from workers.pipeline.decode import decode
from workers.pipeline.refine import refine
from workers.pipeline.run import run_pipeline
from workers.pipeline.segment import Segmenter
from workers.pipeline.shadow import render_shadow, shadow_density
from workers.pipeline.working import from_working

HERE = Path(__file__).parent
SAMPLES = HERE.parent / "samples"
SUBJECTS = ["coffee.jpg", "astronaut.jpg"]
CANVAS = (900, 700)  # width, height
THUMB_HEIGHT = 170
BASE = ShadowOptions(x=-0.6, y=0.0, z=0.7, size=0.3, opacity=0.6)
SWEEPS = {
    "x": [-1.0, -0.5, 0.0, 0.5, 1.0],
    "y": [-1.0, -0.5, 0.3, 1.0],
    "z": [0.3, 0.5, 0.7, 1.2, 2.0],
    "size": [0.0, 0.3, 0.6, 1.0],
    "opacity": [0.25, 0.5, 1.0],
}
KNOWN_LIGHTS = [ShadowOptions(x=-0.9, y=0.1, z=0.5), ShadowOptions(x=0.8, y=-0.4, z=0.8)]


def placed(segmenter: Segmenter, name: str) -> np.ndarray:
    """The sample's cut-out, scaled to 45% of the canvas height, standing at 62% of it."""
    image = decode((SAMPLES / name).read_bytes())
    rgba = cut_out(*refine(image.pixels, segmenter.predict(image.pixels)), image.alpha)
    rows = np.flatnonzero((rgba[..., 3] >= 128).any(axis=1))
    columns = np.flatnonzero((rgba[..., 3] >= 128).any(axis=0))
    rgba = rgba[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]
    scale = 0.45 * CANVAS[1] / rgba.shape[0]
    size = (round(rgba.shape[1] * scale), round(rgba.shape[0] * scale))
    rgba = cv2.resize(rgba, size, interpolation=cv2.INTER_AREA)
    canvas = np.zeros((CANVAS[1], CANVAS[0], 4), np.uint8)
    top = round(0.62 * CANVAS[1]) - rgba.shape[0]
    left = (CANVAS[0] - rgba.shape[1]) // 2
    canvas[top : top + rgba.shape[0], left : left + rgba.shape[1]] = rgba
    return canvas


def on_paper(rgba: np.ndarray) -> np.ndarray:
    alpha = rgba[..., 3:4] / 255
    return (rgba[..., :3] * alpha + 246 * (1 - alpha)).astype(np.uint8)


def thumbnail(rgb: np.ndarray, label: str) -> Image.Image:
    scale = THUMB_HEIGHT / rgb.shape[0]
    size = (round(rgb.shape[1] * scale), THUMB_HEIGHT)
    image = Image.fromarray(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA))
    ImageDraw.Draw(image).text((4, 3), label, fill=(20, 20, 20), font=ImageFont.load_default(12))
    return image


def grid(rows: list[list[Image.Image]], path: Path) -> None:
    width = max(sum(tile.width + 4 for tile in row) for row in rows)
    sheet = Image.new("RGB", (width, len(rows) * (THUMB_HEIGHT + 4)), (255, 255, 255))
    for r, row in enumerate(rows):
        x = 0
        for tile in row:
            sheet.paste(tile, (x, r * (THUMB_HEIGHT + 4)))
            x += tile.width + 4
    sheet.save(path, "JPEG", quality=78, optimize=True)
    print(path, f"{path.stat().st_size // 1024} KB")


def studio_photo(subject: np.ndarray, light: ShadowOptions) -> bytes:
    """The subject on a plain floor darkened by its shadow from ``light``, as a JPEG."""
    density = from_working(shadow_density(subject[..., 3], light), subject.shape)
    rng = np.random.default_rng(1)
    floor = (205 + rng.normal(0, 3, subject.shape[:2])) * (1 - 0.6 * density)
    alpha = subject[..., 3:4] / 255
    photo = subject[..., :3] * alpha + floor[..., np.newaxis] * (1 - alpha)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(photo, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


def main() -> None:
    segmenter = Segmenter.load(U2NETP, locate(U2NETP, Path("/nonexistent")), SessionConfig())
    subjects = [placed(segmenter, name) for name in SUBJECTS]
    for parameter, values in SWEEPS.items():
        rows = [
            [
                thumbnail(
                    on_paper(render_shadow(subject, replace(BASE, **{parameter: value}))),
                    f"{parameter} = {value}",
                )
                for value in values
            ]
            for subject in subjects
        ]
        grid(rows, HERE / f"sweep-{parameter}.jpg")

    rows = []
    for subject in subjects:
        row = []
        for light in KNOWN_LIGHTS:
            photo = studio_photo(subject, light)
            removal = run_pipeline(
                photo, JobOptions(shadow=ShadowOptions(automatic=True)), segmenter
            )
            found = removal.shadow
            assert found is not None
            original = np.asarray(Image.open(io.BytesIO(photo)).convert("RGB"))
            row.append(thumbnail(original, f"photo: light x={light.x} y={light.y}"))
            shaded = np.asarray(Image.open(io.BytesIO(removal.png)))
            row.append(
                thumbnail(on_paper(shaded), f"auto ({found.source}): x={found.x} y={found.y}")
            )
        rows.append(row)
    grid(rows, HERE / "automatic.jpg")


if __name__ == "__main__":
    main()
