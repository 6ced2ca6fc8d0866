"""A private Cutout stack for one benchmark run, torn down afterwards.

Its own Postgres database (built by the migrations), Redis namespace, S3 endpoint (moto, or
MinIO when installed) and bucket, so a run never touches ``make up``'s stack or the tests'. The
API and the Celery worker are the real processes (``cutout serve``, ``cutout worker``), started
under ``taskset`` when ``cpus`` is given. Tenants are created with ``cutout admin create-tenant``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import REPO, providers_for
from cutout import devstack


def pinned(argv: list[str], cpus: str | None) -> list[str]:
    """``argv`` run on the given CPU list (``taskset -c``) when one is given."""
    if cpus and shutil.which("taskset"):
        return ["taskset", "-c", cpus, *argv]
    return argv


@dataclass
class Stack:
    env: dict[str, str]
    api_url: str
    log_dir: Path
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def admin(self, *args: str) -> dict[str, str]:
        done = subprocess.run(
            [sys.executable, "-m", "cutout", "admin", *args, "--json"],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
        )
        return json.loads(done.stdout.strip().splitlines()[-1])

    def tenant(self, *, credits: int, rate_limit: int, burst: int, concurrent: int = 10_000) -> str:
        """A new tenant's API key."""
        name = f"bench-{uuid.uuid4().hex[:8]}"
        created = self.admin(
            "create-tenant",
            "--name",
            name,
            "--credits",
            str(credits),
            "--rate-limit",
            str(rate_limit),
            "--burst",
            str(burst),
            "--max-concurrent-jobs",
            str(concurrent),
        )
        return created["api_key"]

    def pids(self, name: str) -> list[int]:
        """The process and its children (Celery's prefork pool, uvicorn's workers)."""
        process = self.processes[name]
        found = [process.pid]
        pending = [process.pid]
        while pending:
            pid = pending.pop()
            path = Path(f"/proc/{pid}/task/{pid}/children")
            try:
                kids = [int(part) for part in path.read_text().split()]
            except OSError:
                continue
            found += kids
            pending += kids
        return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time consumed so far by the given live processes."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / ticks


def peak_rss_mb(pids: list[int]) -> dict[int, float]:
    """VmHWM of each live process, in MB."""
    peaks = {}
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks[pid] = round(int(line.split()[1]) / 1024, 1)
        except OSError:
            continue
    return peaks


def _drop_redis_keys(namespace: str) -> None:
    """Queued messages, rate-limit windows: nothing of the run is left in the shared Redis."""
    import redis

    client = redis.Redis.from_url(os.environ.get("CUTOUT_REDIS_URL", "redis://127.0.0.1:6379/0"))
    for key in client.scan_iter(match=f"{namespace}*", count=1000):
        client.delete(key)


@contextmanager
def stack(
    *,
    api_workers: int = 1,
    worker_concurrency: int | None = 2,
    ort_threads: int = 1,
    cpus: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> Iterator[Stack]:
    """Start S3, migrate a fresh database, start the API and (unless None) a worker."""
    run = uuid.uuid4().hex[:8]
    log_dir = Path("/tmp") / f"cutout-bench-{run}"
    log_dir.mkdir(parents=True)
    with ExitStack() as cleanup:
        s3_port = devstack.free_port()
        s3 = devstack.spawn(
            pinned(devstack.s3_server_argv(s3_port, log_dir / "s3-data"), cpus),
            {},
            log_dir / "s3.log",
        )
        cleanup.callback(devstack.stop, s3)
        s3_process = s3
        devstack.wait_until(lambda: devstack.port_open(s3_port), 60, "S3 endpoint", s3)
        env = {
            "CUTOUT_ENVIRONMENT": "test",
            "CUTOUT_DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/cutout_bench_{run}",
            "CUTOUT_REDIS_NAMESPACE": f"cutout-bench-{run}",
            "CUTOUT_S3_ENDPOINT_URL": f"http://127.0.0.1:{s3_port}",
            "CUTOUT_S3_BUCKET": f"cutout-bench-{run}",
            "CUTOUT_API_KEY_SECRET": f"bench-secret-{run}",
            "CUTOUT_ORT_INTRA_OP_THREADS": str(ort_threads),
            **(extra_env or {}),
        }
        cleanup.callback(_drop_redis_keys, env["CUTOUT_REDIS_NAMESPACE"])
        devstack.ensure_database(env["CUTOUT_DATABASE_URL"])
        cleanup.callback(devstack.drop_database, env["CUTOUT_DATABASE_URL"])
        subprocess.run(
            [sys.executable, "-m", "cutout", "admin", "migrate"],
            env={**os.environ, **env},
            check=True,
            cwd=REPO,
            capture_output=True,
        )
        port = devstack.free_port()
        result = Stack(env, f"http://127.0.0.1:{port}", log_dir, {"s3": s3_process})
        if worker_concurrency:
            worker = devstack.spawn(
                pinned(devstack.worker_argv(worker_concurrency), cpus), env, log_dir / "worker.log"
            )
            result.processes["worker"] = worker
            cleanup.callback(devstack.stop, worker)
            devstack.wait_until(
                lambda: devstack.worker_ready(log_dir / "worker.log"), 300, "worker", worker
            )
        argv = [sys.executable, "-m", "cutout", "serve", "--port", str(port)]
        api = devstack.spawn(
            pinned([*argv, "--workers", str(api_workers)], cpus), env, log_dir / "api.log"
        )
        result.processes["api"] = api
        cleanup.callback(devstack.stop, api)
        devstack.wait_until(lambda: devstack.http_ok(f"{result.api_url}/readyz"), 120, "API", api)
        yield result


def provider_env(device: str) -> dict[str, str]:
    """The workers' execution providers for a benchmark's ``--device``: ``openvino`` runs them
    on OpenVINOExecutionProvider in bf16, and needs a venv with the ``openvino`` extra."""
    env = {"CUTOUT_ORT_PROVIDERS": json.dumps(list(providers_for(device)))}
    if device == "openvino":
        import onnxruntime

        if "OpenVINOExecutionProvider" not in onnxruntime.get_available_providers():
            raise SystemExit("this venv's onnxruntime has no OpenVINO provider (docs/models.md)")
        env["CUTOUT_OPENVINO_PRECISION"] = "bf16"
    return env
