"""What edge refinement costs: its share of one job's CPU time at about 2.5 megapixels.

    .venv/bin/python bench/refine_cost.py [--repeat 5] [--baseline DIR]

For each photo (a 2.45 MP car from the development set, and a furry toy and a potted plant
upscaled to 2.5 MP so there is plenty of edge), it runs the whole pipeline (decode → segment →
refine → encode) with and without refinement, one onnxruntime thread, and times the refinement
call itself on the same photo and mask. CPU time of the whole process (``time.process_time``,
so OpenCV's own threads count too), medians over ``--repeat`` runs, so other load on a shared
machine matters less than it would for wall time.

``--baseline DIR`` also times ``DIR/workers/pipeline/refine.py`` (e.g. an older commit
unpacked with ``git archive``) on the same inputs, alternating with the current code in each
repeat, so a before/after ratio comes from one run. Writes bench/results/refine_cost.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.paths import EVAL_DIR  # noqa: E402
from workers.contract import JobOptions  # noqa: E402
from workers.models.registry import U2NETP, locate  # noqa: E402
from workers.models.session import SessionConfig  # noqa: E402
from workers.pipeline import refine as refine_module  # noqa: E402
from workers.pipeline.decode import decode  # noqa: E402
from workers.pipeline.run import remove_background  # noqa: E402
from workers.pipeline.segment import Segmenter  # noqa: E402

TARGET_PIXELS = 2.5e6


def photo(name: str) -> bytes:
    path = next((EVAL_DIR / "images").glob(f"{name}.*"))
    rgb = np.asarray(Image.open(path).convert("RGB"))
    height, width = rgb.shape[:2]
    if height * width < 0.9 * TARGET_PIXELS:
        factor = (TARGET_PIXELS / (height * width)) ** 0.5
        rgb = cv2.resize(rgb, (round(width * factor), round(height * factor)), cv2.INTER_CUBIC)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


def cpu(fn, *args, **kwargs) -> float:
    start = time.process_time()
    fn(*args, **kwargs)
    return time.process_time() - start


def baseline_refine(root: Path):
    """``refine`` from another checkout's refine.py (it needs only numpy and OpenCV)."""
    spec = importlib.util.spec_from_file_location(
        "baseline_refine", root / "workers" / "pipeline" / "refine.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.refine


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--baseline", type=Path, help="a checkout whose refine.py to compare")
    args = parser.parse_args()
    baseline = baseline_refine(args.baseline) if args.baseline else None
    config = SessionConfig(providers=("CPUExecutionProvider",), intra_op_threads=1)
    segmenter = Segmenter.load(U2NETP, locate(U2NETP, Path("/nonexistent")), config)
    report = {}
    for name in ("carvana_0cdf5b5d0ce1_01", "am_GT12", "am_GT13"):
        data = photo(name)
        pixels = decode(data).pixels  # the job's four-channel workspace
        rgb = np.ascontiguousarray(pixels[..., :3])  # what older refine.py took
        mask = segmenter.predict(pixels)
        full, plain, refine_only, before = [], [], [], []
        for _ in range(args.repeat):
            full.append(cpu(remove_background, data, JobOptions(), segmenter))
            plain.append(cpu(remove_background, data, JobOptions(), segmenter, refine_edges=False))
            refine_only.append(cpu(refine_module.refine, pixels, mask))
            if baseline is not None:
                before.append(cpu(baseline, rgb, mask))
        row = {
            "megapixels": round(rgb.shape[0] * rgb.shape[1] / 1e6, 2),
            "job_cpu_s": statistics.median(full),
            "job_without_refinement_cpu_s": statistics.median(plain),
            "refine_cpu_s": statistics.median(refine_only),
        }
        row["refine_share"] = row["refine_cpu_s"] / row["job_cpu_s"]
        line = (
            f"{name}: {row['megapixels']} MP, job {row['job_cpu_s']:.3f} s CPU, without "
            f"refinement {row['job_without_refinement_cpu_s']:.3f} s, refinement "
            f"{row['refine_cpu_s']:.3f} s = {100 * row['refine_share']:.1f}% of the job"
        )
        if before:
            # The job with the baseline's refinement instead: the rest of the job is the same.
            row["baseline_refine_cpu_s"] = statistics.median(before)
            baseline_job = row["job_without_refinement_cpu_s"] + row["baseline_refine_cpu_s"]
            row["baseline_refine_share"] = row["baseline_refine_cpu_s"] / baseline_job
            row["speedup"] = row["baseline_refine_cpu_s"] / row["refine_cpu_s"]
            line += (
                f"; baseline refinement {row['baseline_refine_cpu_s']:.3f} s "
                f"(~{100 * row['baseline_refine_share']:.1f}% of its job), "
                f"{row['speedup']:.1f}× faster"
            )
        report[name] = row
        print(line, flush=True)
    out = REPO / "bench" / "results" / "refine_cost.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
