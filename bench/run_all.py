"""Every benchmark in turn, then docs/benchmarks.md and its plots: what ``make bench`` runs.

    .venv/bin/python bench/run_all.py [--quick]

The scripts run one after another (never two at once: they would share the CPUs). ``--quick``
shortens every run for a smoke test; the figures in docs/benchmarks.md come from the full run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
PLOTTER = BENCH / ".venv-rembg" / "bin" / "python"  # has matplotlib (make bench-setup)
# The project with the `openvino` extra (make bench-setup): runs with --device openvino.
OPENVINO_PYTHON = BENCH / ".venv-openvino" / "bin" / "python"
OPENVINO_STAGES = ["stages.py", "--runs", "3", "--threads", "1", "--sizes", "2.5"]
OPENVINO_STAGES += ["--device", "openvino"]
OPENVINO_SERVICE = [
    "service_vs_rembg.py",
    "--rounds",
    "2",
    "--requests",
    "12",
    "--device",
    "openvino",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        runs = [
            ["stages.py", "--runs", "1", "--sizes", "0.3", "2.5"],
            ["fast_paths.py", "--runs", "1"],
            ["memory.py", "--runs", "1", "--megapixels", "5"],
            ["service_vs_rembg.py", "--rounds", "1", "--concurrency", "1", "--requests", "4"],
            ["ingress.py", "--duration", "3"],
            ["gpu.py", "--quick"],
        ]
    else:
        runs = [
            ["stages.py", "--runs", "3", "--threads", "1"],
            ["fast_paths.py", "--runs", "5"],
            ["memory.py", "--runs", "2"],
            ["service_vs_rembg.py", "--rounds", "2", "--requests", "12"],
            ["service_vs_rembg.py", "--rounds", "2", "--requests", "12", "--no-refine"],
            ["service_cpu.py"],
            ["service_cpu.py", "--no-refine"],
            ["ingress.py", "--duration", "10", "--rounds", "3", "--api-workers", "3"],
            ["gpu.py"],
            ["openvino_bf16.py", "--repeat", "3"],
            OPENVINO_SERVICE,
            OPENVINO_STAGES,
            ["service_cpu.py", "--device", "openvino"],
            ["memory.py", "--runs", "2", "--device", "openvino"],
        ]
    for script, *rest in runs:
        print(f"== bench/{script} {' '.join(rest)}", flush=True)
        python = OPENVINO_PYTHON if "openvino" in rest else sys.executable
        subprocess.run([str(python), str(BENCH / script), *rest], check=True)
    subprocess.run([str(PLOTTER), str(BENCH / "report.py")], check=True)


if __name__ == "__main__":
    main()
