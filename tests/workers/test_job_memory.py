"""A large photo's stages hold no hidden full-size copies (bench/memory.py measures the job).

Each stage runs in a fresh interpreter on a 4000×4000 photo (a 64 MB four-channel workspace),
and the growth of its peak resident memory (``VmHWM``) is compared with the arrays the stage
must hold. The copies these tests keep out were each a whole image: Pillow's ``np.asarray``
(two), and OpenCV's ``cvtColor`` cloning a source that is its own destination.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.images import sample

SIDE = 4000
WORKSPACE_MB = SIDE * SIDE * 4 / 2**20

PRELUDE = """
import sys
from pathlib import Path
from workers.heap import reuse_freed_heap
reuse_freed_heap()  # as a worker process does
def status_mb(field):
    with open("/proc/self/status") as status:
        return int(next(l for l in status if l.startswith(field + ":")).split()[1]) / 1024
def start():
    # forget the peak so far (Linux resets VmHWM to VmRSS): only the stage's own counts
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
    return status_mb("VmRSS")
def peak_mb():
    return status_mb("VmHWM")
data = Path(sys.argv[1]).read_bytes()
"""

DECODE = """
from workers.pipeline.decode import decode
before = start()
image = decode(data)
print(peak_mb() - before)
"""

ENCODE = """
from workers.pipeline.decode import decode
from workers.pipeline.encode import encode_png
rgba = decode(data).pixels
rgba[..., 3] = 255
rgba[: len(rgba) // 2, :, 3] = 0
before = start()
png = encode_png(rgba, overwrite=True, compact=True)
print(peak_mb() - before - len(png) / 2**20)
"""


@pytest.fixture(scope="module")
def large_jpeg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Made here, so that making it does not raise the measuring process's peak."""
    photo = Image.open(io.BytesIO(sample("coffee.jpg"))).convert("RGB")
    path = tmp_path_factory.mktemp("large") / "photo.jpg"
    photo.resize((SIDE, SIDE), Image.Resampling.BILINEAR).save(path, "JPEG", quality=90)
    return path


def _growth_mb(stage: str, photo: Path) -> float:
    done = subprocess.run(
        [sys.executable, "-c", PRELUDE + stage, str(photo)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout.split()[-1])


@pytest.mark.parametrize(
    ("stage", "allowed"),
    [
        # the workspace itself, and libjpeg's few rows; Pillow's way held 2.5× the workspace
        (DECODE, 1.15 * WORKSPACE_MB),
        # libpng's output buffer as it grows, beyond the PNG itself; a whole-image clone was
        # a workspace more
        (ENCODE, 0.5 * WORKSPACE_MB),
    ],
    ids=["decode", "encode"],
)
def test_a_stage_holds_no_full_size_copy(stage, allowed, large_jpeg):
    growth = _growth_mb(stage, large_jpeg)
    assert growth < allowed, f"peak grew {growth:.0f} MB, allowed {allowed:.0f}"
