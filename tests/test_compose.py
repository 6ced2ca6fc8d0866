"""docker-compose.yml: structure checked without a Docker engine (none runs in CI).

When a compose CLI is installed (``docker compose`` or ``docker-compose``), its ``config``
command validates the file too.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from storage.settings import Settings

REPO = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
ONE_SHOT = {"minio-init", "migrate", "admin"}
LONG_RUNNING = set(SERVICES) - ONE_SHOT


def test_every_long_running_service_has_a_healthcheck_and_limits():
    for name in LONG_RUNNING:
        service = SERVICES[name]
        assert service.get("healthcheck", {}).get("test"), name
        limits = service.get("deploy", {}).get("resources", {}).get("limits", {})
        assert limits.get("cpus"), name
        assert limits.get("memory"), name


def test_health_checks_use_our_readiness_endpoints():
    assert "/readyz" in " ".join(SERVICES["api"]["healthcheck"]["test"])
    for name in ("worker", "worker-gpu0", "worker-gpu1"):
        assert "9101/readyz" in " ".join(SERVICES[name]["healthcheck"]["test"]), name


def test_gpu_workers_reserve_one_distinct_gpu_each_in_the_gpu_profile():
    gpu_workers = [name for name in SERVICES if name.startswith("worker-gpu")]
    assert len(gpu_workers) >= 2
    devices = []
    for name in gpu_workers:
        service = SERVICES[name]
        assert service["profiles"] == ["gpu"], name
        assert service["build"]["args"]["ONNXRUNTIME_FLAVOUR"] == "gpu", name
        (reservation,) = service["deploy"]["resources"]["reservations"]["devices"]
        assert reservation["driver"] == "nvidia"
        assert reservation["capabilities"] == ["gpu"]
        assert len(reservation["device_ids"]) == 1
        devices += reservation["device_ids"]
        assert service["command"] == ["cutout", "worker"]
    assert len(set(devices)) == len(devices), "one service per GPU"
    assert "profiles" not in SERVICES["worker"], "the CPU worker runs by default"


def test_workers_get_longer_than_a_job_to_shut_down_warmly():
    job_limit = Settings.model_fields["task_time_limit_seconds"].default
    for name in ("worker", "worker-gpu0", "worker-gpu1"):
        grace = SERVICES[name]["stop_grace_period"]
        assert int(re.fullmatch(r"(\d+)s", grace).group(1)) > job_limit, name
    api_grace = int(SERVICES["api"]["stop_grace_period"].rstrip("s"))
    assert api_grace > Settings.model_fields["shutdown_grace_seconds"].default


def test_flower_and_the_full_stack_are_there():
    assert {"postgres", "redis", "minio", "api", "worker", "dispatcher", "flower"} <= set(SERVICES)
    assert SERVICES["flower"]["command"][:2] == ["cutout", "flower"]
    assert "--appendonly" in SERVICES["redis"]["command"], "queued jobs survive a Redis restart"


def test_dependencies_and_settings_exist():
    for name, service in SERVICES.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in SERVICES, (name, dependency)
    known = {f"CUTOUT_{field.upper()}" for field in Settings.model_fields}
    for name, service in SERVICES.items():
        for variable in service.get("environment", {}):
            if variable.startswith("CUTOUT_"):
                assert variable in known, (name, variable)


def _compose_cli() -> list[str] | None:
    """``docker compose`` (v2), else the standalone ``docker-compose``; None when neither."""
    if (
        shutil.which("docker")
        and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0
    ):
        return ["docker", "compose"]
    standalone = shutil.which("docker-compose")
    return [standalone] if standalone else None


@pytest.mark.skipif(_compose_cli() is None, reason="no docker compose CLI is installed")
def test_docker_compose_config_accepts_it():
    cli = _compose_cli()
    assert cli is not None
    for profile in ([], ["--profile", "gpu", "--profile", "monitoring"]):
        result = subprocess.run(
            [*cli, *profile, "config", "--quiet"], cwd=REPO, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr


def test_the_cpu_worker_runs_a_process_per_core_each_allowed_every_core():
    """Threads left at 0 would follow the host's core count, not the container's CPU limit."""
    worker = SERVICES["worker"]
    cores = int(float(worker["deploy"]["resources"]["limits"]["cpus"]))
    assert int(worker["environment"]["CUTOUT_WORKER_CONCURRENCY"]) == cores
    assert int(worker["environment"]["CUTOUT_ORT_INTRA_OP_THREADS"]) == cores
    assert worker["environment"]["CUTOUT_DATABASE_URL"], "the shared settings are still merged in"
