"""The ``cutout`` command line, run as a user would run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from storage import api_keys
from tests.images import (
    CAR,
    assert_matches_truth,
    assert_shadowed_cutout,
    eval_item,
    rgba,
    sample,
)
from tests.job_rows import shadow_options
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


def _tree(root):
    """photos/{car.jpg, cafe/coffee.jpg, cafe/broken.jpg, notes.txt}: a folder to process."""
    (root / "cafe").mkdir(parents=True)
    (root / "car.jpg").write_bytes(eval_item(CAR).image.read_bytes())
    (root / "cafe" / "coffee.jpg").write_bytes(sample("coffee.jpg"))
    (root / "cafe" / "broken.jpg").write_text("not an image")
    (root / "notes.txt").write_text("ignored: not an image suffix")
    return root


def test_a_folder_is_processed_recursively_into_a_mirrored_tree(tmp_path):
    photos, out = _tree(tmp_path / "photos"), tmp_path / "out"

    result = cutout("remove", str(photos), "-o", str(out), "-j", "2", "--json")

    assert result.returncode == 2, result.stderr  # one bad file: reported, not fatal
    summary = json.loads(result.stdout)
    assert summary["processed"] == 2
    assert summary["credits_charged"] == 0
    assert [(f["file"], f["error_code"]) for f in summary["failed"]] == [
        (str(photos / "cafe" / "broken.jpg"), "malformed_image")
    ]
    assert "broken.jpg: malformed_image" in result.stderr
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [
        "cafe",
        "cafe/coffee.png",
        "car.png",
    ]
    assert_matches_truth((out / "car.png").read_bytes(), eval_item(CAR))

    before = (out / "car.png").stat().st_mtime_ns
    again = cutout("remove", str(photos), "-o", str(out), "--skip-existing", "--json")
    assert again.returncode == 2  # the broken file is still broken
    summary = json.loads(again.stdout)
    assert (summary["processed"], summary["skipped"], len(summary["failed"])) == (0, 2, 1)
    assert (out / "car.png").stat().st_mtime_ns == before


def test_a_glob_mirrors_its_tree_and_a_missing_input_is_reported_with_progress(tmp_path):
    photos, out = _tree(tmp_path / "photos"), tmp_path / "out"
    missing = tmp_path / "missing.jpg"

    result = cutout("remove", str(missing), f"{photos}/**/coffee.jpg", "-o", str(out))

    assert result.returncode == 2, result.stderr
    assert "processed 1, skipped 0, failed 1, credits charged 0" in result.stdout
    assert f"failed {missing}: no_input: no such file or folder" in result.stdout
    assert "cutting out" in result.stderr
    assert "1/1" in result.stderr  # the progress bar's last state
    assert rgba((out / "cafe" / "coffee.png").read_bytes()).shape == (400, 600, 4)


def test_remote_runs_through_the_server_and_counts_credits(
    api, worker, make_tenant, balance_of, sessions, tmp_path
):
    tenant = make_tenant(credits=20)
    photos, out = _tree(tmp_path / "photos"), tmp_path / "out"
    env = {**os.environ, "SHOP_KEY": tenant.api_key}

    result = cutout(
        "remove",
        str(photos),
        "-o",
        str(out),
        "--remote",
        api.url,
        "--api-key-env",
        "SHOP_KEY",
        "--shadow",
        "--light-x",
        "0.4",
        "--light-z",
        "0.5",
        "-j",
        "3",
        "--json",
        env=env,
    )

    assert result.returncode == 2, result.stderr
    summary = json.loads(result.stdout)
    assert summary["processed"] == 2
    assert summary["credits_charged"] == 8  # two shadow jobs; the broken file was not charged
    assert summary["failed"][0]["error_code"] == "malformed_image"
    assert balance_of(tenant.id) == 12
    assert_shadowed_cutout((out / "car.png").read_bytes(), eval_item(CAR))
    placed = {"opacity": 0.5, "size": 0.3, "x": 0.4, "y": -0.6, "z": 0.5, "automatic": False}
    assert shadow_options(sessions, tenant.id) == [placed, placed]


def test_remote_without_a_key_says_which_variable_to_set(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "CUTOUT_API_KEY"}
    result = cutout(
        "remove",
        str(SAMPLES / "coffee.jpg"),
        "-o",
        str(tmp_path),
        "--remote",
        "http://127.0.0.1:9",
        env=env,
    )
    assert result.returncode == 1
    assert "$CUTOUT_API_KEY" in result.stderr


def test_a_tenant_created_without_a_cap_can_send_the_largest_batch(database, stack_env):
    """Every batch item holds a concurrent-jobs slot, so the default cap is the batch limit."""
    env = {**os.environ, **stack_env, "CUTOUT_MAX_BATCH_ITEMS": "40"}
    created = cutout("admin", "tenants", "create", "--name", "cli-batcher", "--json", env=env)
    assert created.returncode == 0, created.stderr
    listed = cutout("admin", "tenants", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    (row,) = [row for row in json.loads(listed.stdout) if row["name"] == "cli-batcher"]
    assert row["max_concurrent_jobs"] == 40
