"""The benchmarks again with CUDA, when this machine has it; otherwise a note saying it has not.

With onnxruntime-gpu installed (``pip install -e '.[gpu]'`` instead of ``.[cpu]``, and
``rembg[gpu]`` in bench/.venv-rembg) and a CUDA device visible, runs ``stages.py``,
``memory.py`` and ``service_vs_rembg.py`` with ``--device cuda`` (results ``*-gpu.json``).
Without one, writes ``bench/results/gpu.json`` recording that nothing ran, and why.

    .venv/bin/python bench/gpu.py [--quick]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import BENCH, device_note, write_result


def gpu_visible() -> bool:
    smi = shutil.which("nvidia-smi")
    if not smi:
        return False
    return subprocess.run([smi, "-L"], capture_output=True, check=False).returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs and sizes")
    args = parser.parse_args()
    note = device_note("cuda")
    if not (note["cuda"] and gpu_visible()):
        reason = (
            "no CUDA device visible (nvidia-smi absent or failing)"
            if not gpu_visible()
            else "onnxruntime here has no CUDAExecutionProvider (install .[gpu])"
        )
        print(f"GPU benchmarks skipped: {reason}")
        write_result("gpu", {"ran": False, "reason": reason, "device": note})
        return
    quick = ["--runs", "1", "--sizes", "1", "5", "36"] if args.quick else []
    scripts = [
        ["stages.py", "--device", "cuda", *quick],
        ["memory.py", "--device", "cuda", "--runs", "1"],
        ["service_vs_rembg.py", "--device", "cuda", "--rounds", "1" if args.quick else "2"],
    ]
    for script, *rest in scripts:
        subprocess.run([sys.executable, str(BENCH / script), *rest], check=True)
    write_result("gpu", {"ran": True, "device": note, "scripts": [s[0] for s in scripts]})


if __name__ == "__main__":
    main()
