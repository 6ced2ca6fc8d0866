"""Peak memory of one worker process handling the largest input the contract accepts.

A 6000 × 6000 JPEG (a CC0 sample photo scaled up, so it decodes like a real photo) goes through
the worker's whole pipeline (decode → segment → refine → cut out → [shadow] → encode) in a fresh
process that first loads the model exactly as a worker does. The figure is that process's peak
resident set size (``ru_maxrss``), which is what a container memory limit sees. A baseline run
that only loads the model shows how much of the peak the image itself costs.

Budget (docs/untrusted-input.md): 1.5 GiB per worker process; the script exits 1 above it.

    .venv/bin/python bench/memory_6000.py [--runs 3] [--shadow]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

BUDGET_MIB = 1536
SIDE = 6000
SAMPLE = Path(__file__).resolve().parents[1] / "docs" / "samples" / "coffee.jpg"

# Runs in a fresh interpreter so that each figure is one process's own peak.
CHILD = r"""
import json, resource, sys
from pathlib import Path
from storage.settings import Settings
from workers.contract import JobOptions, ShadowOptions
from workers.heap import reuse_freed_heap
from workers.runtime import WorkerRuntime

reuse_freed_heap()  # as a worker process does
runtime = WorkerRuntime(Settings())
segmenter = runtime.segmenter  # the model, loaded as a worker loads it
path, shadow = sys.argv[1], sys.argv[2] == "shadow"
if path != "-":
    from workers.pipeline.run import remove_background
    options = JobOptions(shadow=ShadowOptions(opacity=0.5, automatic=True) if shadow else None)
    png = remove_background(Path(path).read_bytes(), options, segmenter)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
print(json.dumps({"peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def make_photo(directory: Path) -> Path:
    image = Image.open(SAMPLE).convert("RGB").resize((SIDE, SIDE), Image.LANCZOS)
    path = directory / f"photo_{SIDE}.jpg"
    image.save(path, "JPEG", quality=90)
    return path


def peak_mib(path: str, shadow: bool) -> float:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, path, "shadow" if shadow else "plain"],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])["peak_kib"] / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--shadow", action="store_true", help="also measure with a shadow")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        photo = make_photo(Path(scratch))
        size_mb = photo.stat().st_size / 1e6
        baseline = statistics.median(peak_mib("-", False) for _ in range(args.runs))
        cases = [("plain", False)] + ([("shadow", True)] if args.shadow else [])
        results = {}
        for name, shadow in cases:
            peaks = [peak_mib(str(photo), shadow) for _ in range(args.runs)]
            results[name] = peaks
    print(f"input: {SIDE}x{SIDE} JPEG, {size_mb:.1f} MB; runs: {args.runs}")
    print(f"model loaded, no image: median peak RSS {baseline:.0f} MiB")
    worst = 0.0
    for name, peaks in results.items():
        median = statistics.median(peaks)
        worst = max(worst, max(peaks))
        spread = f"{min(peaks):.0f}-{max(peaks):.0f}"
        print(f"{name:>6}: median peak RSS {median:.0f} MiB (range {spread}); budget {BUDGET_MIB}")
    if worst > BUDGET_MIB:
        print(f"OVER BUDGET: {worst:.0f} MiB > {BUDGET_MIB} MiB")
        sys.exit(1)


if __name__ == "__main__":
    main()
