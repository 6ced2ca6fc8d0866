"""What every benchmark script shares: test photos, the machine's description, statistics, results.

Photos are made by resizing real photographs (the development set in ``../shared/eval/dev`` when
it is there, else the CC0 samples in ``docs/samples``) to a number of megapixels and saving them as
JPEG (quality 90) under ``bench/data/`` (git-ignored). Sizes above the source's own are upscaled;
the result files say which photo each size came from.
"""

from __future__ import annotations

import io
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
DATA = BENCH / "data"
RESULTS = BENCH / "results"
SAMPLES = REPO / "docs" / "samples"
# A benchmark's --device: the execution providers it puts before the CPU provider, and the
# suffix of its results file. ``openvino`` (bf16) needs bench/.venv-openvino (make bench-setup).
DEVICE_PROVIDERS = {
    "cpu": (),
    "cuda": ("CUDAExecutionProvider",),
    "openvino": ("OpenVINOExecutionProvider",),
}
DEVICES = tuple(DEVICE_PROVIDERS)
RESULT_SUFFIX = {"cpu": "", "cuda": "-gpu", "openvino": "-openvino"}


def providers_for(device: str) -> tuple[str, ...]:
    return (*DEVICE_PROVIDERS[device], "CPUExecutionProvider")


MAX_SIDE = 6000  # the contract's limit; a 36 MP photo is 6000×6000

# Real photos, largest first: the 7.3 MP DIS photo and a 2.5 MP Carvana product shot from the
# development set; the CC0 samples when that set is not beside the clone.
EVAL_SOURCES = ("dis_pavilion_5795028920.jpg", "carvana_0cdf5b5d0ce1_01.jpg", "am_GT06.png")
SAMPLE_SOURCES = ("coffee.jpg", "astronaut.jpg", "chelsea.jpg")


def eval_dir() -> Path:
    if configured := os.environ.get("CUTOUT_EVAL_DIR"):
        return Path(configured)
    for candidate in (REPO.parent / "shared" / "eval" / "dev", Path("/work/shared/eval/dev")):
        if candidate.is_dir():
            return candidate
    return REPO.parent / "shared" / "eval" / "dev"


def source_photos() -> list[Path]:
    images = eval_dir() / "images"
    found = [images / name for name in EVAL_SOURCES if (images / name).is_file()]
    return found or [SAMPLES / name for name in SAMPLE_SOURCES]


@dataclass(frozen=True)
class Photo:
    path: Path
    source: str
    width: int
    height: int

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1e6

    def label(self) -> str:
        return f"{self.megapixels:.1f} MP ({self.width}×{self.height}, from {self.source})"


def photo_at(megapixels: float, source: Path | None = None) -> Photo:
    """A JPEG of about ``megapixels`` made from a real photo, cached in ``bench/data``."""
    source = source or source_photos()[0]
    DATA.mkdir(parents=True, exist_ok=True)
    with Image.open(source) as opened:
        image = opened.convert("RGB")
    scale = (megapixels * 1e6 / (image.width * image.height)) ** 0.5
    width, height = round(image.width * scale), round(image.height * scale)
    if max(width, height) > MAX_SIDE:  # the largest photo the contract accepts
        width = height = min(MAX_SIDE, round((megapixels * 1e6) ** 0.5))
    path = DATA / f"{source.stem}-{width}x{height}.jpg"
    if not path.exists():
        resized = image.resize((width, height), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        resized.save(buffer, "JPEG", quality=90)
        path.write_bytes(buffer.getvalue())
    return Photo(path, source.name, width, height)


def mixed_photos(sizes: Sequence[float] = (0.3, 1.0, 2.5, 5.0)) -> list[Photo]:
    """The mixed 0.3–5 MP set: every size from every source photo."""
    return [photo_at(mp, source) for source in source_photos() for mp in sizes]


# The CPU features inference speed turns on: the shared machines report one model name
# ("AMD EPYC") for hosts with and without AVX-512, and U²-Netp's float32 inference took 410 ms
# on one and 650 on the other; OpenVINO's bfloat16 needs AVX-512 BF16 or AMX.
SIMD_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16")


def machine() -> dict[str, object]:
    """What produced the figures: cores, CPU model and SIMD features, load when the run
    started."""
    model = ""
    flags: set[str] = set()
    try:
        for line in subprocess.run(
            ["lscpu"], capture_output=True, text=True, check=False
        ).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
            if line.startswith("Flags:"):
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    load = os.getloadavg()
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "cpu_simd": [flag for flag in SIMD_FLAGS if flag in flags],
        "loadavg_1_5_15": [round(value, 2) for value in load],
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile, q in [0, 100]."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def write_result(name: str, payload: dict[str, object]) -> Path:
    """``bench/results/<name>.json`` with the machine description added."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **payload}, indent=2) + "\n")
    print(f"wrote {path.relative_to(REPO)}")
    return path


def device_note(device: str) -> dict[str, object]:
    """Whether CUDA is really there; benchmarks asked for ``cuda`` say so when it is not."""
    try:
        import onnxruntime as ort
    except ImportError:
        return {"requested": device, "available_providers": [], "cuda": False}
    providers = ort.get_available_providers()
    cuda = "CUDAExecutionProvider" in providers
    note: dict[str, object] = {"requested": device, "available_providers": providers, "cuda": cuda}
    if device == "cuda" and not cuda:
        note["note"] = "no GPU: this onnxruntime build has no CUDA provider; ran on CPU"
        print("GPU requested but CUDA is not available here: running on CPU", file=sys.stderr)
    return note
