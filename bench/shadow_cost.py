"""The shadow stage's cost, as a share of a no-shadow job, at about 2.5 MP on the CPU.

Runs the worker's pipeline in this process (no servers) on one photo, interleaving three kinds of
job so that machine noise hits them alike: no shadow, a manual shadow (the seed's default light)
and an automatic one (``shadow: true``: light estimate + render). Reports per-stage medians and
the shadow stage's median as a percentage of the median no-shadow job.

    .venv/bin/python bench/shadow_cost.py --runs 9 [--image PATH] [--megapixels 2.5]
"""

from __future__ import annotations

import argparse
import io
import statistics
from collections import defaultdict
from pathlib import Path

from PIL import Image

from workers.contract import JobOptions, ShadowOptions
from workers.models.registry import U2NETP, locate
from workers.models.session import SessionConfig
from workers.pipeline.run import StageTimes, run_pipeline
from workers.pipeline.segment import Segmenter

DEFAULT_IMAGE = Path(__file__).resolve().parents[1] / "docs" / "samples" / "coffee.jpg"
KINDS = {
    "none": JobOptions(),
    "manual": JobOptions(shadow=ShadowOptions()),
    "auto": JobOptions(shadow=ShadowOptions(automatic=True)),
}


def photo_at(path: Path, megapixels: float) -> bytes:
    image = Image.open(path).convert("RGB")
    scale = (megapixels * 1e6 / (image.width * image.height)) ** 0.5
    size = (round(image.width * scale), round(image.height * scale))
    buffer = io.BytesIO()
    image.resize(size, Image.LANCZOS).save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", type=Path, default=DEFAULT_IMAGE)
    parser.add_argument("--megapixels", type=float, default=2.5)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()

    data = photo_at(args.image, args.megapixels)
    width, height = Image.open(io.BytesIO(data)).size
    segmenter = Segmenter.load(U2NETP, locate(U2NETP, Path("/nonexistent")), SessionConfig())
    totals: dict[str, list[float]] = defaultdict(list)
    stages: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for run in range(args.runs + 1):
        for kind, options in KINDS.items():
            times = StageTimes()
            run_pipeline(data, options, segmenter, times)
            if run:  # the first round warms the session and caches
                totals[kind].append(sum(times.seconds.values()))
                for stage, seconds in times.seconds.items():
                    stages[kind][stage].append(seconds)

    baseline = statistics.median(totals["none"])
    print(
        f"{args.image.name} at {width}×{height} ({width * height / 1e6:.2f} MP), {args.runs} runs"
    )
    for kind in KINDS:
        parts = ", ".join(
            f"{stage} {statistics.median(values) * 1000:.0f}"
            for stage, values in stages[kind].items()
        )
        print(f"  {kind:6s} job median {statistics.median(totals[kind]) * 1000:6.0f} ms ({parts})")
    for kind in ("manual", "auto"):
        shadow = statistics.median(stages[kind]["shadow"])
        print(
            f"  shadow stage, {kind}: median {shadow * 1000:.0f} ms ="
            f" {100 * shadow / baseline:.1f}% of the median no-shadow job"
        )


if __name__ == "__main__":
    main()
