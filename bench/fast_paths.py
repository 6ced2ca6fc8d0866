"""Each fast path against the way it replaced, side by side on the same cut-out (CPU time).

On a real photo at ``--megapixels`` (default 2.5): PNG encoding (the old OpenCV level-1 default,
libpng as tuned for photos above 12 MP, fpng for the rest, and Pillow's level 6 as rembg uses
it; libpng and fpng also on each source photo's cut-out), U²-Netp's inference as exported and
with static upsampling (workers/models/static_resizes.py), refine (numpy rounding vs one OpenCV
pass), and onnxruntime's resident memory after three runs with and without memory patterns.
Variants alternate; medians of ``--runs`` of this thread's CPU time, so other load on the
machine barely moves them.

    .venv/bin/python bench/fast_paths.py [--runs 5] [--megapixels 2.5]
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2
import numpy as np
from PIL import Image

from bench.common import median, photo_at, source_photos, write_result
from workers.models.registry import U2NETP, locate
from workers.models.session import CPU, SessionConfig
from workers.pipeline.compose import cut_out
from workers.pipeline.decode import decode
from workers.pipeline.encode import with_fpng, with_libpng
from workers.pipeline.refine import refine, to_alpha
from workers.pipeline.segment import Segmenter

ARENA = """
import sys, numpy as np, onnxruntime as ort
options = ort.SessionOptions()
options.intra_op_num_threads = 1
options.enable_mem_pattern = sys.argv[2] == "1"
session = ort.InferenceSession(sys.argv[1], options, providers=["CPUExecutionProvider"])
batch = np.random.rand(1, 3, 320, 320).astype(np.float32)
for _ in range(3):
    session.run(None, {session.get_inputs()[0].name: batch})
print(next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS:")))
"""


def old_encode(rgba: np.ndarray) -> bytes:
    bgra = cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA)
    return cv2.imencode(".png", bgra, [cv2.IMWRITE_PNG_COMPRESSION, 1])[1].tobytes()


def zeroed(rgba: np.ndarray) -> np.ndarray:
    """A copy with invisible pixels as transparent black, as encode_png stores them."""
    return np.where(rgba[..., 3:] == 0, 0, rgba).astype(np.uint8)


def pillow_level6(rgba: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgba).save(buffer, "PNG")
    return buffer.getvalue()


def compare(variants: dict[str, Callable[[], object]], runs: int) -> dict[str, dict]:
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    outputs: dict[str, object] = {}
    for _ in range(runs):
        for name, run in variants.items():
            start = time.thread_time()
            outputs[name] = run()
            seconds[name].append(time.thread_time() - start)
    return {
        name: {
            "cpu_ms": round(median(values) * 1000, 1),
            **({"bytes": len(out)} if isinstance(out := outputs[name], bytes) else {}),
        }
        for name, values in seconds.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--megapixels", type=float, default=2.5)
    args = parser.parse_args()

    weights = locate(U2NETP, Path("/nonexistent"))
    segmenter = Segmenter.load(U2NETP, weights, SessionConfig((CPU,), intra_op_threads=1))
    photo = photo_at(args.megapixels)
    image = decode(photo.path.read_bytes())
    mask = segmenter.predict(image.pixels)
    rgba = cut_out(*refine(image.pixels, mask), image.alpha)

    encoding = compare(
        {
            "opencv level 1, default filter (first)": lambda: old_encode(rgba),
            "libpng level 1, RLE + Paeth, transparent zeroed (above 12 MP)": lambda: with_libpng(
                zeroed(rgba)
            ),
            "fpng, transparent zeroed (up to 12 MP)": lambda: with_fpng(zeroed(rgba)),
            "pillow level 6 (rembg)": lambda: pillow_level6(rgba),
        },
        args.runs,
    )
    # The encoders on each source photo's cut-out at this size: speed and file size vary with
    # how much of the frame is subject and edge.
    by_photo = {}
    for source in source_photos():
        other = photo_at(args.megapixels, source)
        decoded = decode(other.path.read_bytes())
        cutout = zeroed(
            cut_out(*refine(decoded.pixels, segmenter.predict(decoded.pixels)), decoded.alpha)
        )
        by_photo[other.label()] = compare(
            {
                "libpng": lambda c=cutout: with_libpng(c.copy()),
                "fpng": lambda c=cutout: with_fpng(c),
            },
            args.runs,
        )
    exported = Segmenter.load(
        dataclasses.replace(U2NETP, static_resizes=False),
        weights,
        SessionConfig((CPU,), intra_op_threads=1),
    )
    batch = segmenter.preprocess(image.pixels)
    inference = compare(
        {
            "U²-Netp as exported (run-time upsampling sizes)": lambda: exported.infer(batch),
            "U²-Netp with static upsampling (now)": lambda: segmenter.infer(batch),
        },
        args.runs,
    )
    refining = compare(
        {
            "numpy clip(mask*255+0.5) (before)": lambda: np.clip(mask * 255.0 + 0.5, 0, 255).astype(
                np.uint8
            ),
            "cv2.multiply to uint8 (now)": lambda: to_alpha(mask),
        },
        args.runs,
    )
    arena = {
        f"memory patterns {'on (before)' if flag == '1' else 'off (now)'}": round(
            int(
                subprocess.run(
                    [sys.executable, "-c", ARENA, str(weights), flag],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
            )
            / 1024
        )
        for flag in ("1", "0")
    }
    for title, rows in (("encode", encoding), ("infer", inference), ("refine", refining)):
        for name, row in rows.items():
            print(f"{title:7s} {name:66s} {row}")
    for label, rows in by_photo.items():
        print(f"encode  {label:66s} {rows}")
    print("onnxruntime RSS after 3 runs, MB:", arena)
    write_result(
        "fast-paths",
        {
            "command": " ".join(["bench/fast_paths.py", *sys.argv[1:]]),
            "photo": photo.label(),
            "runs": args.runs,
            "encode": encoding,
            "encode_by_photo": by_photo,
            "inference": inference,
            "refine": refining,
            "onnxruntime_rss_after_3_runs_mb": arena,
        },
    )


if __name__ == "__main__":
    main()
