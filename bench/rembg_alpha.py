"""Run rembg (PyPI) with its default settings on images and save the alpha it produces.

Runs inside rembg's own virtual environment (``bench/.venv-rembg``, see ``bench/quality.py``),
never in the project's: rembg is a benchmark reference, not a dependency. The model file is the
same U²-Netp the service ships; rembg finds it through ``U2NET_HOME``.

Usage: ``python bench/rembg_alpha.py OUT_DIR IMAGE...`` → ``OUT_DIR/<stem>.png`` (8-bit alpha).
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageOps
from rembg import new_session, remove


def main(out_dir: str, *images: str) -> None:
    session = new_session("u2netp")
    target = Path(out_dir)
    target.mkdir(parents=True, exist_ok=True)
    for name in images:
        with Image.open(name) as opened:
            image = ImageOps.exif_transpose(opened).convert("RGB")
        cut = remove(image, session=session)  # defaults: no alpha matting, no post-processing
        cut.getchannel("A").save(target / f"{Path(name).stem}.png")


if __name__ == "__main__":
    main(*sys.argv[1:])
