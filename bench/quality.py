"""Cut-out quality on the development set: ours (default output) vs rembg with the same model.

    .venv/bin/python bench/quality.py [--model NAME ...] [--eval-dir DIR] [--no-rembg]

Metrics follow ``../shared/eval/dev/README.md``: on every row IoU of ``alpha >= 0.5`` against
``gt >= 128`` and MAE of alpha in [0, 1]; on ``alpha`` rows also SAD (sum of absolute differences
/ 1000) and MSE. Means overall and per ``kind``. Besides the default output ("ours") it reports
the same model without edge refinement ("ours-unrefined"), and optionally other registry models.

rembg (PyPI) runs with its default settings in its own virtual environment,
``bench/.venv-rembg`` (created on first use; rembg is a benchmark reference, not a dependency),
on the very U²-Netp file we ship, found through ``U2NET_HOME``. Results go to
``bench/results/quality.json``; the table is printed as Markdown (it is copied to docs/models.md).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from storage.settings import get_settings  # noqa: E402
from tests.paths import EVAL_DIR  # noqa: E402
from workers.contract import JobOptions  # noqa: E402
from workers.models.registry import U2NETP, get_spec, locate  # noqa: E402
from workers.models.session import SessionConfig  # noqa: E402
from workers.pipeline.run import remove_background  # noqa: E402
from workers.pipeline.segment import Segmenter  # noqa: E402

REMBG_VENV = REPO / "bench" / ".venv-rembg"
RESULTS = REPO / "bench" / "results" / "quality.json"


def metrics(alpha: np.ndarray, truth: np.ndarray, gt_type: str) -> dict[str, float]:
    """``alpha`` and ``truth`` as float arrays in [0, 1]."""
    predicted, actual = alpha >= 0.5, truth >= 128 / 255
    row = {
        "iou": float((predicted & actual).sum() / max((predicted | actual).sum(), 1)),
        "mae": float(np.abs(alpha - truth).mean()),
    }
    if gt_type == "alpha":
        row["sad"] = float(np.abs(alpha - truth).sum() / 1000)
        row["mse"] = float(((alpha - truth) ** 2).mean())
    return row


def summarise(rows: list[dict]) -> dict[str, dict[str, float]]:
    groups: dict[str, list[dict]] = {"overall": rows, "alpha rows": []}
    for row in rows:
        groups.setdefault(f"kind={row['kind']}", []).append(row)
        if row["gt_type"] == "alpha":
            groups["alpha rows"].append(row)
            groups.setdefault(f"alpha rows, kind={row['kind']}", []).append(row)
    summary = {}
    for name, members in groups.items():
        summary[name] = {"n": len(members)}
        for metric in ("iou", "mae", "sad", "mse"):
            values = [m[metric] for m in members if metric in m]
            # SAD and MSE exist on alpha rows only: report them where every row has them
            if values and len(values) == len(members):
                summary[name][metric] = float(np.mean(values))
    return summary


def rembg_alphas(items: list[dict], out_dir: Path) -> dict[str, np.ndarray]:
    if not (REMBG_VENV / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(REMBG_VENV)], check=True)
        pip = [str(REMBG_VENV / "bin" / "pip"), "install", "--quiet"]
        subprocess.run([*pip, "rembg>=2.0.50", "onnxruntime>=1.18"], check=True)
    home = out_dir / "u2net_home"
    home.mkdir()
    (home / "u2netp.onnx").symlink_to(locate(U2NETP, Path("/nonexistent")))
    env = {**os.environ, "U2NET_HOME": str(home), "OMP_NUM_THREADS": "1"}
    subprocess.run(
        [
            str(REMBG_VENV / "bin" / "python"),
            str(REPO / "bench" / "rembg_alpha.py"),
            str(out_dir / "rembg"),
            *(str(item["path"]) for item in items),
        ],
        check=True,
        env=env,
    )
    return {
        item["name"]: np.asarray(Image.open(out_dir / "rembg" / f"{item['name']}.png"))
        for item in items
    }


def our_alpha(data: bytes, segmenter: Segmenter, refine_edges: bool) -> np.ndarray:
    png = remove_background(data, JobOptions(), segmenter, refine_edges=refine_edges)
    return np.asarray(Image.open(io.BytesIO(png)))[..., 3]


def table(results: dict[str, dict]) -> str:
    methods = list(results)
    groups = list(results[methods[0]]["summary"])
    lines = [
        "| rows | metric | " + " | ".join(methods) + " |",
        "| --- | --- |" + " --- |" * len(methods),
    ]
    for group in groups:
        for metric in ("iou", "mae", "sad", "mse"):
            values = [results[m]["summary"][group].get(metric) for m in methods]
            if values[0] is None:
                continue
            better = max if metric == "iou" else min
            best = better(v for v in values if v is not None)
            cells = [
                "" if v is None else (f"**{v:.4f}**" if v == best else f"{v:.4f}") for v in values
            ]
            n = results[methods[0]]["summary"][group]["n"]
            lines.append(f"| {group} ({n}) | {metric.upper()} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--eval-dir", type=Path, default=EVAL_DIR)
    parser.add_argument("--model", action="append", default=[], help="Also run this model.")
    parser.add_argument("--no-rembg", action="store_true")
    args = parser.parse_args()

    with (args.eval_dir / "manifest.csv").open() as rows:
        items = [
            {
                "name": Path(row["image"]).stem,
                "path": args.eval_dir / row["image"],
                "gt": args.eval_dir / row["gt"],
                "kind": row["kind"],
                "gt_type": row["gt_type"],
            }
            for row in csv.DictReader(rows)
        ]
    truths = {
        item["name"]: np.asarray(Image.open(item["gt"]).convert("L"), np.float32) / 255
        for item in items
    }
    settings = get_settings()
    config = SessionConfig(providers=("CPUExecutionProvider",), intra_op_threads=1)
    runs: dict[str, tuple[Segmenter, bool]] = {}
    default = Segmenter.load(U2NETP, locate(U2NETP, settings.models_dir), config)
    runs["ours"] = (default, True)
    runs["ours-unrefined"] = (default, False)
    for name in args.model:
        spec = get_spec(name, settings.models_dir)
        runs[name] = (Segmenter.load(spec, locate(spec, settings.models_dir), config), True)

    results: dict[str, dict] = {}
    for label, (segmenter, refine_edges) in runs.items():
        start = time.process_time()
        rows = []
        for item in items:
            alpha = our_alpha(item["path"].read_bytes(), segmenter, refine_edges)
            rows.append(
                {
                    "image": item["name"],
                    "kind": item["kind"],
                    "gt_type": item["gt_type"],
                    **metrics(
                        alpha.astype(np.float32) / 255, truths[item["name"]], item["gt_type"]
                    ),
                }
            )
        results[label] = {
            "model": segmenter.spec.name,
            "providers": segmenter.providers,
            "refine_edges": refine_edges,
            "cpu_seconds": round(time.process_time() - start, 1),
            "summary": summarise(rows),
            "rows": rows,
        }
        print(f"{label}: done ({results[label]['cpu_seconds']} s CPU)", flush=True)

    if not args.no_rembg:
        with tempfile.TemporaryDirectory() as scratch:
            alphas = rembg_alphas(items, Path(scratch))
        rows = [
            {
                "image": item["name"],
                "kind": item["kind"],
                "gt_type": item["gt_type"],
                **metrics(
                    alphas[item["name"]].astype(np.float32) / 255,
                    truths[item["name"]],
                    item["gt_type"],
                ),
            }
            for item in items
        ]
        results["rembg"] = {
            "model": "u2netp (same file)",
            "settings": "rembg.remove defaults: no alpha matting, no post-processing",
            "summary": summarise(rows),
            "rows": rows,
        }

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    print(f"\nwritten to {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
