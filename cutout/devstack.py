"""A local stack without Docker: what ``make up``/``make down`` run, and what the tests reuse.

Postgres and Redis are the machine's own (started by the Makefile when they are not running).
This module starts the rest as background processes with pid and log files under ``.run/``: an
S3 endpoint (MinIO when installed, else ``moto[server]``), the API and one worker.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx
import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

RUN_DIR = Path(".run")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def wait_until(check, timeout: float, what: str, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with status {process.returncode}")
        try:
            if check():
                return
        except (OSError, httpx.HTTPError):
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{what} not ready after {timeout:.0f} s")


def http_ok(url: str) -> bool:
    return httpx.get(url, timeout=2).status_code == 200


def ensure_database(database_url: str) -> None:
    """Create the database named in the URL if it does not exist yet."""
    url = make_url(database_url)
    admin = url.set(database="postgres", drivername="postgresql")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (url.database,)
        ).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(url.database)))


def drop_database(database_url: str) -> None:
    url = make_url(database_url)
    admin = url.set(database="postgres", drivername="postgresql")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(url.database))
        )


def spawn(argv: list[str], env: Mapping[str, str], log_path: Path) -> subprocess.Popen:
    """Start a process in its own session (so stopping it stops its children too)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("ab")
    return subprocess.Popen(  # noqa: S603 (argv is built here, never from input)
        argv,
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(process: subprocess.Popen | int, timeout: float = 20) -> None:
    """SIGTERM the process group, then SIGKILL what is left after ``timeout``."""
    pid = process if isinstance(process, int) else process.pid
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if isinstance(process, subprocess.Popen):
                if process.poll() is not None:
                    return
            else:
                os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def s3_server_argv(port: int, data_dir: Path) -> list[str]:
    """MinIO when it is installed (it enforces signatures like production S3), else moto."""
    minio = shutil.which("minio")
    if minio:
        return [minio, "server", str(data_dir), "--address", f"127.0.0.1:{port}", "--quiet"]
    return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]


def api_argv(port: int) -> list[str]:
    return [sys.executable, "-m", "cutout", "serve", "--port", str(port)]


def worker_argv(concurrency: int = 1) -> list[str]:
    return [sys.executable, "-m", "cutout", "worker", f"--concurrency={concurrency}"]


def dispatcher_argv() -> list[str]:
    return [sys.executable, "-m", "cutout", "dispatcher"]


def worker_ready(log_path: Path) -> bool:
    """Celery prints ``ready.`` once the worker consumes; the model loads before that."""
    return log_path.exists() and b" ready." in log_path.read_bytes()


# --- make up / make down / make demo ------------------------------------------------------

API_PORT = int(os.environ.get("CUTOUT_PORT", "8000"))
S3_PORT = 9000
SAMPLE = Path("docs/samples/coffee.jpg")


def _pidfile(name: str) -> Path:
    return RUN_DIR / f"{name}.pid"


def _alive(name: str) -> bool:
    path = _pidfile(name)
    if not path.exists():
        return False
    try:
        os.kill(int(path.read_text()), 0)
    except (ProcessLookupError, ValueError):
        return False
    return True


def _start(name: str, argv: list[str], env: Mapping[str, str]) -> subprocess.Popen:
    process = spawn(argv, env, RUN_DIR / f"{name}.log")
    _pidfile(name).write_text(str(process.pid))
    return process


def up() -> None:
    from storage.migrate import upgrade
    from storage.settings import get_settings

    os.environ.setdefault("CUTOUT_S3_ENDPOINT_URL", f"http://127.0.0.1:{S3_PORT}")
    settings = get_settings()
    RUN_DIR.mkdir(exist_ok=True)
    env = {"CUTOUT_S3_ENDPOINT_URL": os.environ["CUTOUT_S3_ENDPOINT_URL"]}

    if not port_open(S3_PORT):
        s3 = _start("s3", s3_server_argv(S3_PORT, RUN_DIR / "minio-data"), env)
        wait_until(lambda: port_open(S3_PORT), 30, "S3 endpoint", s3)
    ensure_database(settings.database_url)
    upgrade(settings)
    print("database migrated")

    if not _alive("worker"):
        (RUN_DIR / "worker.log").unlink(missing_ok=True)
        worker = _start("worker", worker_argv(), env)
        wait_until(lambda: worker_ready(RUN_DIR / "worker.log"), 120, "worker", worker)
    if not _alive("dispatcher"):
        (RUN_DIR / "dispatcher.log").unlink(missing_ok=True)
        dispatcher = _start("dispatcher", dispatcher_argv(), env)
        wait_until(lambda: worker_ready(RUN_DIR / "dispatcher.log"), 60, "dispatcher", dispatcher)
    if not port_open(API_PORT):
        api = _start("api", api_argv(API_PORT), env)
        wait_until(lambda: http_ok(f"http://127.0.0.1:{API_PORT}/readyz"), 60, "API", api)
    print(f"stack is up: API on http://127.0.0.1:{API_PORT} (logs in {RUN_DIR}/)")


def down() -> None:
    for name in ("api", "dispatcher", "worker", "s3"):
        if _alive(name):
            stop(int(_pidfile(name).read_text()))
            print(f"stopped {name}")
        _pidfile(name).unlink(missing_ok=True)


def demo() -> None:
    """Start the stack and cut out the bundled sample photo through the HTTP API."""
    from storage import api_keys, ledger, tenants
    from storage.db import make_engine, make_sessionmaker, transaction
    from storage.settings import get_settings

    up()
    settings = get_settings()
    key_file = RUN_DIR / "demo-api-key"
    with transaction(make_sessionmaker(make_engine(settings))) as session:
        tenant = tenants.find_tenant(session, "demo")
        tenant_id = (
            tenant.id
            if tenant
            else tenants.create_tenant(
                session, "demo", tenants.Plan(settings.default_rate_limit_per_minute, 60, 4)
            )
        )
        if tenant is None or not key_file.exists():
            secret = settings.api_key_secret.get_secret_value()
            key_file.write_text(api_keys.create_key(session, tenant_id, secret, name="demo"))
            key_file.chmod(0o600)
        if ledger.balance(session, tenant_id) < 10:
            ledger.grant(session, tenant_id, 100, reason="demo credits")
    key = key_file.read_text().strip()

    url = f"http://127.0.0.1:{API_PORT}/v1/remove-background"
    started = time.perf_counter()
    with SAMPLE.open("rb") as image:
        response = httpx.post(
            url,
            headers={"X-API-Key": key, "Accept": "image/png"},
            files={"image": (SAMPLE.name, image, "image/jpeg")},
            timeout=120,
        )
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise SystemExit(f"request failed: {response.status_code} {response.text}")
    output = RUN_DIR / f"{SAMPLE.stem}-cutout.png"
    output.write_bytes(response.content)
    print(
        f"cut out {SAMPLE} in {elapsed:.2f} s through {url}"
        f" ({response.headers.get('X-Credits-Charged')} credit charged)"
    )
    print(f"result: {output.resolve()}")
    print(f'demo API key: {key_file} (try: curl -H "X-API-Key: $(cat {key_file})" ...)')


if __name__ == "__main__":
    commands = {"up": up, "down": down, "demo": demo}
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        raise SystemExit(f"usage: python -m cutout.devstack {{{'|'.join(commands)}}}")
    commands[sys.argv[1]]()
