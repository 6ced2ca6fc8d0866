"""Fixtures for failure drills: private Redis and Postgres servers we may stop and restart.

The machine's shared Redis (6379) and Postgres (5432) are never touched: a drill that restarts a
service starts its own on a free port, in a temporary directory, and removes it afterwards.
Every drill prints one ``DRILL <name>: {...}`` line with what it observed; docs/drills.md quotes
those lines (``pytest tests/drills -s -q -n 0 | grep DRILL``; ``-n 0`` keeps the
run in one process, where ``-s`` shows prints).
"""

from __future__ import annotations

import contextlib
import glob
import io
import json
import shutil
import signal
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path

import httpx
import pytest
from PIL import Image
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from cutout import devstack
from tests.paths import SAMPLES
from tests.polling import wait_for

__all__ = ["wait_for"]  # the drills import it from here

ASYNC_JOBS = "/v1/jobs/remove-background"


def report(name: str, **facts: object) -> None:
    print(f"\nDRILL {name}: {json.dumps(facts, sort_keys=True, default=str)}")


@cache
def big_photo() -> bytes:
    """A 12 MP photo: seconds of work for a worker, so a drill can act while it runs."""
    image = Image.open(SAMPLES / "astronaut.jpg").convert("RGB").resize((4000, 3000))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def submit(client: httpx.Client, key: str, data: bytes) -> str:
    """Queue an asynchronous job; its id."""
    response = client.post(ASYNC_JOBS, headers={"X-API-Key": key}, files={"image": ("p", data)})
    assert response.status_code == 202, response.text
    return response.json()["job_id"]


@dataclass(frozen=True)
class JobRow:
    status: str
    attempts: int
    error_code: str | None
    result_key: str | None
    finished_at: datetime | None


def job_row(sessions: sessionmaker[Session], job_id: str) -> JobRow:
    with sessions() as session:
        row = session.execute(
            text(
                "SELECT status, attempts, error_code, result_key, finished_at FROM jobs"
                " WHERE id = :id"
            ),
            {"id": job_id},
        ).one()
    return JobRow(*row)


def db_now(sessions: sessionmaker[Session]) -> datetime:
    with sessions() as session:
        return session.execute(text("SELECT now()")).scalar_one()


@dataclass
class Ledger:
    balance: int
    entries: dict[str, int] = field(default_factory=dict)  # kind -> count
    per_job: dict[str, list[str]] = field(default_factory=dict)  # job id -> kinds


def ledger(sessions: sessionmaker[Session], tenant_id: uuid.UUID) -> Ledger:
    with sessions() as session:
        balance = session.execute(
            text("SELECT balance FROM credit_accounts WHERE tenant_id = :t"), {"t": tenant_id}
        ).scalar_one()
        rows = session.execute(
            text("SELECT kind, job_id FROM ledger_entries WHERE tenant_id = :t"), {"t": tenant_id}
        ).all()
    result = Ledger(balance)
    for kind, job_id in rows:
        result.entries[kind] = result.entries.get(kind, 0) + 1
        if job_id is not None:
            result.per_job.setdefault(str(job_id), []).append(kind)
    return result


# --- a private Redis ------------------------------------------------------------------------


@dataclass
class PrivateRedis:
    port: int
    directory: Path
    log: Path
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        argv = [
            shutil.which("redis-server") or "redis-server",
            "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
            "--appendonly", "yes", "--appendfsync", "always", "--save", "",
        ]  # fmt: skip
        self.process = devstack.spawn(argv, {}, self.log)
        devstack.wait_until(lambda: devstack.port_open(self.port), 20, "redis", self.process)

    def stop(self) -> None:
        """SIGTERM: Redis syncs its append-only file and exits, as on a clean restart."""
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=20)
            self.process = None


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(devstack.free_port(), tmp_path / "redis", tmp_path / "redis.log")
    server.directory.mkdir()
    server.start()
    yield server
    if server.process is not None:
        devstack.stop(server.process)


# --- a private Postgres cluster -------------------------------------------------------------


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else (shutil.which(name) or name)


@dataclass
class PrivatePostgres:
    port: int
    directory: Path

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/cutout_drill"

    def _as_postgres(self, *argv: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *argv],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def init(self) -> None:
        self._as_postgres(
            _pg_bin("initdb"), "-D", str(self.directory / "data"), "-A", "trust", "-U",
            "postgres", "--no-sync",
        )  # fmt: skip

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(
            _pg_bin("pg_ctl"), "-D", str(self.directory / "data"), "-l",
            str(self.directory / "postgres.log"), "-o", options, "-w", "start",
        )  # fmt: skip

    def stop(self) -> None:
        self._as_postgres(_pg_bin("pg_ctl"), "-D", str(self.directory / "data"), "-m", "fast",
                          "-w", "stop")  # fmt: skip


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    directory = Path(tempfile.mkdtemp(prefix="cutout-drill-pg-"))
    shutil.chown(directory, "postgres", "postgres")
    server = PrivatePostgres(devstack.free_port(), directory)
    server.init()
    server.start()
    yield server
    with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
        server.stop()
    shutil.rmtree(directory, ignore_errors=True)
