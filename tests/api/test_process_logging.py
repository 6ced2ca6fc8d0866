"""Every API process logs structured JSON, also when ``cutout serve --workers N`` spawns them."""

from __future__ import annotations

import json
from pathlib import Path

from cutout import devstack


def test_spawned_api_processes_log_json(
    database: str, store: object, stack_env: dict[str, str], tmp_path: Path
) -> None:
    port = devstack.free_port()
    log = tmp_path / "api.log"
    process = devstack.spawn([*devstack.api_argv(port), "--workers", "2"], stack_env, log)
    try:
        url = f"http://127.0.0.1:{port}"
        devstack.wait_until(lambda: devstack.http_ok(f"{url}/healthz"), 60, "API", process)
    finally:
        devstack.stop(process)

    lines = [line for line in log.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is JSON, none plain text
    started = [r for r in records if r["message"] == "Application startup complete."]
    # uvicorn's INFO lines from both spawned processes: their logging was configured.
    assert len(started) == 2, lines
    assert all(r["level"] == "INFO" and r["logger"] == "uvicorn.error" for r in started)
