"""Does running jobs that arrive together as one batch help? U²-Netp on this machine's CPU.

    .venv/bin/python bench/batching.py [--batch 4] [--repeat 5]

The shipped ``u2netp.onnx`` (like imgly's IS-Net) declares a fixed batch of 1, so as shipped it
accepts no batch at all. To measure what batching *could* gain, this script makes the batch
dimension symbolic with the ``onnx`` package (the ``bench`` extra), checks the batched outputs
equal the single ones, and compares N single runs with one batch of N: CPU time
(``process_time``) and wall time, medians over ``--repeat``, with one and with two intra-op
threads. Writes bench/results/batching.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.paths import EVAL_DIR  # noqa: E402
from workers.models.registry import U2NETP, locate  # noqa: E402
from workers.models.session import SessionConfig, open_session  # noqa: E402
from workers.pipeline.decode import decode  # noqa: E402
from workers.pipeline.segment import Segmenter  # noqa: E402


def batchable(path: Path, out: Path) -> Path:
    model = onnx.load(str(path))
    for value in [*model.graph.input, *model.graph.output]:
        value.type.tensor_type.shape.dim[0].dim_param = "batch"
    onnx.save(model, str(out))
    return out


def timed(fn, *args) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    fn(*args)
    return time.process_time() - cpu, time.perf_counter() - wall


def singles_of(segmenter: Segmenter, inputs: list[np.ndarray]) -> None:
    for x in inputs:
        segmenter.infer(x)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    photos = sorted((EVAL_DIR / "images").glob("ccp_*"))[: args.batch]
    report: dict[str, dict] = {"batch": args.batch, "threads": {}}
    with tempfile.TemporaryDirectory() as scratch:
        path = batchable(locate(U2NETP, Path("/nonexistent")), Path(scratch) / "u2netp-b.onnx")
        for threads in (1, 2):
            session = open_session(path, SessionConfig(("CPUExecutionProvider",), None, threads))
            segmenter = Segmenter(U2NETP, session)
            inputs = [segmenter.preprocess(decode(p.read_bytes()).pixels) for p in photos]
            batch = np.concatenate(inputs)
            singles = np.concatenate([segmenter.infer(x) for x in inputs])
            assert np.allclose(segmenter.infer(batch), singles, atol=1e-4)
            one_by_one, together = [], []
            for _ in range(args.repeat):
                one_by_one.append(timed(singles_of, segmenter, inputs))
                together.append(timed(segmenter.infer, batch))
            row = {
                "singles_cpu_s": statistics.median(c for c, _ in one_by_one),
                "batch_cpu_s": statistics.median(c for c, _ in together),
                "singles_wall_s": statistics.median(w for _, w in one_by_one),
                "batch_wall_s": statistics.median(w for _, w in together),
            }
            row["cpu_saving"] = 1 - row["batch_cpu_s"] / row["singles_cpu_s"]
            row["wall_saving"] = 1 - row["batch_wall_s"] / row["singles_wall_s"]
            report["threads"][threads] = row
            print(
                f"{threads} thread(s): {args.batch} singles {row['singles_cpu_s']:.3f} s CPU /"
                f" {row['singles_wall_s']:.3f} s wall; one batch {row['batch_cpu_s']:.3f} s CPU"
                f" / {row['batch_wall_s']:.3f} s wall; saving {100 * row['cpu_saving']:.1f}% CPU,"
                f" {100 * row['wall_saving']:.1f}% wall",
                flush=True,
            )
    report["onnxruntime"] = ort.__version__
    out = REPO / "bench" / "results" / "batching.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
