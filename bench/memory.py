"""Peak memory (RSS high-water mark) of one worker process on a 6000×6000 (36 MP) photo, vs rembg.

Each side runs in a fresh process that loads U²-Netp once, cuts out the photo (encoded bytes in,
PNG bytes out, as a worker or ``rembg s`` does per request) and reports ``VmHWM`` from
``/proc/self/status``, next to the RSS it had after loading the model (the per-process floor).
Ours runs ``workers.pipeline.run.remove_background`` from the project's ``.venv``; rembg runs
``rembg.remove`` from ``bench/.venv-rembg``. The two sides alternate ``--runs`` times.

    .venv/bin/python bench/memory.py [--runs 2] [--megapixels 36] [--device cuda]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    BENCH,
    DEVICES,
    REPO,
    RESULT_SUFFIX,
    device_note,
    median,
    photo_at,
    write_result,
)

REMBG_PYTHON = BENCH / ".venv-rembg" / "bin" / "python"

_STATUS = """
def kib(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
"""

OURS = (
    _STATUS
    + """
import sys, json
from pathlib import Path
from workers.models.registry import U2NETP, locate
from workers.models.session import SessionConfig
from bench.common import providers_for
from workers.pipeline.segment import Segmenter
from workers.pipeline.run import remove_background
from workers.contract import JobOptions
from workers.heap import reuse_freed_heap
reuse_freed_heap()  # as a worker process does
config = SessionConfig(providers_for(sys.argv[2]))
segmenter = Segmenter.load(U2NETP, locate(U2NETP, Path("/nonexistent")), config)
data = Path(sys.argv[1]).read_bytes()
loaded = kib("VmRSS")
png = remove_background(data, JobOptions(), segmenter)
print(json.dumps({"loaded_kib": loaded, "peak_kib": kib("VmHWM"), "png_bytes": len(png)}))
"""
)

REMBG = (
    _STATUS
    + """
import sys, json
from pathlib import Path
from rembg import new_session, remove
providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if sys.argv[2] == "cuda" else None
session = new_session("u2netp", providers=providers)
data = Path(sys.argv[1]).read_bytes()
loaded = kib("VmRSS")
png = remove(data, session=session)
print(json.dumps({"loaded_kib": loaded, "peak_kib": kib("VmHWM"), "png_bytes": len(png)}))
"""
)


def measure(python: Path, code: str, photo: Path, device: str) -> dict[str, int]:
    done = subprocess.run(
        [str(python), "-c", code, str(photo), device],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    if done.returncode != 0:
        raise SystemExit(f"{python} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--megapixels", type=float, nargs="+", default=[36.0])
    parser.add_argument(
        "--device",
        choices=DEVICES,
        default="cpu",
        help="openvino: ours on OpenVINO in bf16, run from bench/.venv-openvino (docs/models.md)",
    )
    args = parser.parse_args()
    if not REMBG_PYTHON.exists():
        raise SystemExit("bench/.venv-rembg is missing: run `make bench-setup` first")

    sides = {"cutout": (Path(sys.executable), OURS), "rembg": (REMBG_PYTHON, REMBG)}
    rows = []
    for megapixels in args.megapixels:
        photo = photo_at(megapixels)
        samples: dict[str, list[dict[str, int]]] = {name: [] for name in sides}
        for run in range(args.runs):
            order = list(sides) if run % 2 == 0 else list(reversed(sides))
            for name in order:
                python, code = sides[name]
                samples[name].append(measure(python, code, photo.path, args.device))
        row: dict[str, object] = {"photo": photo.label(), "megapixels": round(photo.megapixels, 2)}
        for name, values in samples.items():
            row[name] = {
                "peak_mb": round(median([v["peak_kib"] for v in values]) / 1024, 1),
                "after_model_load_mb": round(median([v["loaded_kib"] for v in values]) / 1024, 1),
                "png_bytes": values[0]["png_bytes"],
                "runs_peak_mb": [round(v["peak_kib"] / 1024, 1) for v in values],
            }
        ours, theirs = row["cutout"]["peak_mb"], row["rembg"]["peak_mb"]  # type: ignore[index]
        row["peak_ratio_cutout_over_rembg"] = round(ours / theirs, 3)
        rows.append(row)
        print(f"{photo.label()}: cutout peak {ours} MB, rembg peak {theirs} MB")
    write_result(
        "memory" + RESULT_SUFFIX[args.device],
        {
            "command": " ".join(["bench/memory.py", *sys.argv[1:]]),
            "device": device_note(args.device),
            "rows": rows,
        },
    )


if __name__ == "__main__":
    main()
