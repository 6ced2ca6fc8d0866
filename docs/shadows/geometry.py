"""Draw docs/shadows/geometry.png: how the light-source parameters place the shadow.

Left, the image: the light's foot G at (x, y) relative to the centre, the subject's base B on its
contact line, and the shadow the renderer itself casts (so the drawing cannot drift from the
code). Right, a side view along the line from G through B: the light z subject-heights up.

    .venv/bin/python docs/shadows/geometry.py
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from workers.contract import ShadowOptions
from workers.pipeline.footing import find_footing
from workers.pipeline.shadow import render_shadow

OUT = Path(__file__).with_name("geometry.png")
W, H = 480, 360
LIGHT = ShadowOptions(x=-0.6, y=-0.55, z=0.9, size=0.3, opacity=0.6)
INK, GREY, ACCENT, SUBJECT = (30, 30, 30), (150, 150, 150), (200, 90, 20), (70, 110, 170)


def font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def silhouette() -> np.ndarray:
    """A vase standing on the ground, as an RGBA cut-out."""
    alpha = np.zeros((H, W), np.uint8)
    cv2.ellipse(alpha, (250, 200), (38, 55), 0, 0, 360, 255, -1)
    cv2.rectangle(alpha, (236, 110), (264, 160), 255, -1)
    cv2.rectangle(alpha, (226, 245), (274, 262), 255, -1)
    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[..., :3] = SUBJECT
    rgba[..., 3] = alpha
    return rgba


def arrow(draw: ImageDraw.ImageDraw, start, end, colour, width=2) -> None:
    draw.line([start, end], fill=colour, width=width)
    direction = np.subtract(end, start).astype(float)
    direction /= max(np.hypot(*direction), 1e-6)
    normal = np.array([-direction[1], direction[0]])
    tip = np.array(end, float)
    head = [
        tuple(tip),
        tuple(tip - 9 * direction + 4 * normal),
        tuple(tip - 9 * direction - 4 * normal),
    ]
    draw.polygon(head, fill=colour)


def image_panel() -> Image.Image:
    cut = silhouette()
    shaded = render_shadow(cut, LIGHT)
    alpha = shaded[..., 3:4] / 255
    canvas = (shaded[..., :3] * alpha + 250 * (1 - alpha)).astype(np.uint8)
    panel = Image.fromarray(canvas)
    draw = ImageDraw.Draw(panel)
    footing = find_footing(cut[..., 3])
    assert footing is not None
    base = (footing.base_centre, footing.contact_row)
    foot = (W / 2 * (1 + LIGHT.x), H / 2 * (1 + LIGHT.y))
    tip = (base[0] + (base[0] - foot[0]) / LIGHT.z, base[1] + (base[1] - foot[1]) / LIGHT.z)

    draw.rectangle([0, 0, W - 1, H - 1], outline=INK, width=2)
    draw.line([(W / 2, 0), (W / 2, H)], fill=GREY, width=1)
    draw.line([(0, H / 2), (W, H / 2)], fill=GREY, width=1)
    arrow(draw, (W / 2, H / 2), (W / 2 + 60, H / 2), INK)
    arrow(draw, (W / 2, H / 2), (W / 2, H / 2 + 60), INK)
    small = font(13)
    draw.text((W / 2 + 64, H / 2 - 8), "x", fill=INK, font=small)
    draw.text((W / 2 + 4, H / 2 + 60), "y", fill=INK, font=small)
    draw.text((4, H / 2 + 2), "x = -1", fill=GREY, font=small)
    draw.text((W - 44, H / 2 + 2), "x = 1", fill=GREY, font=small)
    draw.text((W / 2 + 4, 4), "y = -1", fill=GREY, font=small)
    draw.text((W / 2 + 4, H - 18), "y = 1", fill=GREY, font=small)
    for x in range(0, W, 12):
        draw.line([(x, base[1]), (x + 6, base[1])], fill=INK, width=1)
    draw.text((8, base[1] + 3), "contact line (lowest opaque row)", fill=INK, font=small)

    draw.line([foot, tip], fill=ACCENT, width=1)
    draw.ellipse([foot[0] - 6, foot[1] - 6, foot[0] + 6, foot[1] + 6], fill=ACCENT)
    draw.text((foot[0] - 30, foot[1] - 24), "G: light (x, y)", fill=ACCENT, font=small)
    draw.ellipse([base[0] - 4, base[1] - 4, base[0] + 4, base[1] + 4], fill=INK)
    draw.text((base[0] + 8, base[1] - 20), "B", fill=INK, font=small)
    draw.text((base[0] + 40, base[1] + 40), "tip = B + (B - G)/z", fill=ACCENT, font=small)
    draw.text((8, 8), "in the image", fill=INK, font=font(16))
    return panel


def side_panel() -> Image.Image:
    panel = Image.new("RGB", (W, H), (250, 250, 250))
    draw = ImageDraw.Draw(panel)
    small = font(13)
    ground = 290
    subject_x, subject_h = 250, 110
    light_x, light_h = 70, round(LIGHT.z * subject_h)
    tip_x = subject_x + (subject_x - light_x) * subject_h / light_h
    draw.rectangle([0, 0, W - 1, H - 1], outline=INK, width=2)
    draw.line([(0, ground), (W, ground)], fill=INK, width=2)
    draw.text((8, ground + 26), "ground plane", fill=INK, font=small)
    draw.polygon(
        [(subject_x, ground), (subject_x, ground - subject_h), (tip_x, ground)],
        fill=(215, 215, 215),
    )
    draw.line([(subject_x, ground), (tip_x, ground)], fill=(60, 60, 60), width=6)
    draw.rectangle([subject_x - 10, ground - subject_h, subject_x + 10, ground], fill=SUBJECT)
    draw.line([(light_x, ground - light_h), (tip_x, ground)], fill=ACCENT, width=1)
    draw.ellipse(
        [light_x - 8, ground - light_h - 8, light_x + 8, ground - light_h + 8], fill=ACCENT
    )
    draw.line([(light_x, ground - light_h), (light_x, ground)], fill=ACCENT, width=1)
    draw.text((light_x + 4, ground - 18), "G", fill=ACCENT, font=small)
    draw.text((light_x + 12, ground - light_h - 8), "light, z·Hs high", fill=ACCENT, font=small)
    draw.text((subject_x + 14, ground - subject_h), "subject, height Hs", fill=INK, font=small)
    draw.text((subject_x - 4, ground + 6), "B", fill=INK, font=small)
    draw.text((subject_x + 20, ground + 6), "shadow: |B - G|/z long", fill=INK, font=small)
    notes = [
        "size: penumbra grows with the light's size",
        "and with the distance from B (contact hardening);",
        "a dark contact shadow sits under the footprint.",
        "opacity: multiplies the whole shadow.",
    ]
    for row, note in enumerate(notes):
        draw.text((12, 40 + 17 * row), note, fill=INK, font=small)
    draw.text((8, 8), "side view, along G -> B", fill=INK, font=font(16))
    return panel


def main() -> None:
    figure = Image.new("RGB", (2 * W + 10, H), (255, 255, 255))
    figure.paste(image_panel(), (0, 0))
    figure.paste(side_panel(), (W + 10, 0))
    figure.save(OUT, optimize=True)
    print(OUT)


if __name__ == "__main__":
    main()
