"""The Dockerfile's install step, run by /bin/sh with a stand-in ``pip`` that records its calls.

No Docker engine runs in CI; what can go wrong here is the shell: the GPU and OpenVINO builds of
onnxruntime are the same ``onnxruntime`` module as the plain one the weights package requires,
so for those flavours the plain one must go and theirs be reinstalled over it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _install_step() -> str:
    """The RUN instruction that installs the package, with its line continuations joined."""
    text = (REPO / "Dockerfile").read_text().replace("\\\n", " ")
    (step,) = [line for line in text.splitlines() if line.startswith("RUN pip install")]
    return step.removeprefix("RUN ")


@pytest.mark.parametrize(
    ("flavour", "after_install"),
    [
        ("cpu", []),
        (
            "gpu",
            ["uninstall -y onnxruntime", "install --force-reinstall --no-deps onnxruntime-gpu"],
        ),
        (
            "openvino",
            [
                "uninstall -y onnxruntime",
                "install --force-reinstall --no-deps onnxruntime-openvino",
            ],
        ),
    ],
)
def test_each_flavour_ends_with_its_own_onnxruntime(tmp_path, flavour, after_install):
    calls = tmp_path / "calls"
    pip = tmp_path / "pip"
    pip.write_text(f'#!/bin/sh\necho "$*" >> {calls}\n')
    pip.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}", "ONNXRUNTIME_FLAVOUR": flavour}
    subprocess.run(["/bin/sh", "-c", _install_step()], env=env, check=True)
    recorded = calls.read_text().splitlines()
    assert recorded == [f"install .[{flavour},ops]", *after_install]


def test_the_image_compiles_the_refinement_loops_before_dropping_root():
    """Workers run as an unprivileged user who cannot write numba's cache into site-packages:
    the image compiles the loops at build time, after installing the package, so no worker
    process compiles them (~5 s) at start."""
    lines = [line.strip() for line in (REPO / "Dockerfile").read_text().splitlines()]
    install = next(i for i, line in enumerate(lines) if line.startswith("RUN pip install"))
    compile_step = lines.index('RUN python -c "import workers.pipeline.band_kernels"')
    user = next(i for i, line in enumerate(lines) if line.startswith("USER "))
    assert install < compile_step < user
    assert (REPO / "workers" / "pipeline" / "band_kernels.py").is_file()
