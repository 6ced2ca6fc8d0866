"""The ``cutout`` command line, run as a user would run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from storage import api_keys
from tests.images import rgba
from tests.paths import SAMPLES


def cutout(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cutout", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_create_tenant_prints_its_key_once_then_credits_are_granted(database, stack_env):
    env = {**os.environ, **stack_env}
    created = cutout(
        "admin", "create-tenant", "--name", "cli-acme", "--credits", "7", "--json", env=env
    )
    assert created.returncode == 0, created.stderr
    payload = json.loads(created.stdout)
    assert set(payload) == {"tenant_id", "api_key"}
    assert api_keys.is_well_formed(payload["api_key"])

    granted = cutout("admin", "grant-credits", "cli-acme", "5", "--reason", "top-up", env=env)
    assert granted.returncode == 0, granted.stderr
    assert json.loads(granted.stdout) == {"balance": 12}
    balance = cutout("admin", "balance", payload["tenant_id"], env=env)
    assert json.loads(balance.stdout) == {"balance": 12}


def test_remove_runs_in_process_without_servers(tmp_path):
    output = tmp_path / "coffee.png"
    result = cutout("remove", str(SAMPLES / "coffee.jpg"), "-o", str(output))
    assert result.returncode == 0, result.stderr
    out = rgba(output.read_bytes())
    assert out.shape == (400, 600, 4)
    assert out[..., 3].min() == 0
    assert out[..., 3].max() == 255


def test_remove_reports_an_unusable_image_and_exits_non_zero(tmp_path):
    bogus = tmp_path / "notes.jpg"
    bogus.write_text("not an image")
    result = cutout("remove", str(bogus), "-o", str(tmp_path / "out.png"))
    assert result.returncode == 2
    assert "malformed_image" in result.stderr
    assert not (tmp_path / "out.png").exists()
