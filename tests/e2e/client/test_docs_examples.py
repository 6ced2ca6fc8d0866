"""Every Python example in docs/sdk.md runs, as written, against the test stack."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.images import CAR, eval_item
from tests.paths import REPO

DOC = REPO / "docs" / "sdk.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)


def test_the_guide_has_examples():
    assert len(BLOCKS) >= 6


@pytest.mark.parametrize("code", BLOCKS, ids=[f"example-{i}" for i in range(len(BLOCKS))])
def test_example_runs(code, api, worker, make_tenant, tmp_path):
    tenant = make_tenant(credits=30)
    (tmp_path / "shoe.jpg").write_bytes(eval_item(CAR).image.read_bytes())
    env = {**os.environ, "CUTOUT_API_KEY": tenant.api_key, "CUTOUT_BASE_URL": api.url}
    run = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip(), "every example prints what it did"
