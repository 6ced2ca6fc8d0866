"""Fixtures for the real services every integration test talks to.

Each test session gets its own Postgres database (built by the Alembic migrations), its own Redis
namespace (keys, channels and Celery queues), its own S3 endpoint process and bucket, so runs on
one machine never see each other's state. Services start only when a test asks for them: the pure
pipeline tests run without any.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy.orm import Session, sessionmaker

from cutout import devstack
from storage.objects import ObjectStore
from storage.settings import Settings, get_settings

RUN = uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stack")


@pytest.fixture(scope="session")
def s3_endpoint(run_dir: Path) -> Iterator[str]:
    port = devstack.free_port()
    process = devstack.spawn(devstack.s3_server_argv(port, run_dir / "s3"), {}, run_dir / "s3.log")
    devstack.wait_until(lambda: devstack.port_open(port), 30, "S3 endpoint", process)
    yield f"http://127.0.0.1:{port}"
    devstack.stop(process)


# Loopback servers the API and workers may send requests to (everything else on loopback stays
# refused, as in production): each test server binds its port from ``test_origin_ports``.
TEST_ORIGINS = ("photos", "eval", "scripted", "webhooks", "slow")


@pytest.fixture(scope="session")
def test_origin_ports() -> dict[str, int]:
    return {name: devstack.free_port() for name in TEST_ORIGINS}


@pytest.fixture(scope="session")
def stack_env(s3_endpoint: str, test_origin_ports: dict[str, int]) -> Iterator[dict[str, str]]:
    """The environment shared by this process and the servers it starts."""
    env = {
        "CUTOUT_ENVIRONMENT": "test",
        "CUTOUT_DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/cutout_test_{RUN}",
        "CUTOUT_REDIS_URL": "redis://127.0.0.1:6379/0",
        "CUTOUT_REDIS_NAMESPACE": f"cutout-test-{RUN}",
        "CUTOUT_S3_ENDPOINT_URL": s3_endpoint,
        "CUTOUT_S3_BUCKET": f"cutout-test-{RUN}",
        "CUTOUT_JOB_WAIT_TIMEOUT_SECONDS": "60",
        "CUTOUT_API_KEY_SECRET": f"test-secret-{RUN}",
        "CUTOUT_KEY_USAGE_FLUSH_SECONDS": "0.2",
        # Counting tests must not fail open because a loaded CI machine answered slowly;
        # failing open is tested against an unreachable Redis.
        "CUTOUT_RATE_LIMIT_REDIS_TIMEOUT_SECONDS": "10",
        # Two test processes share two cores, each with its own worker: one onnxruntime thread
        # per worker keeps them from oversubscribing the cores (results do not depend on it).
        "CUTOUT_ORT_INTRA_OP_THREADS": "1",
    }
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    # Only the servers get the test origins: in this process, tests build production-like
    # Settings from the environment, which refuse them.
    origins = [f"127.0.0.1:{port}" for port in test_origin_ports.values()]
    env = {**env, "CUTOUT_OUTBOUND_TEST_ORIGINS": json.dumps(origins)}
    get_settings.cache_clear()
    yield env
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def settings(stack_env: dict[str, str]) -> Settings:
    return get_settings()


@pytest.fixture(scope="session")
def database(settings: Settings) -> Iterator[str]:
    from storage.migrate import upgrade

    devstack.ensure_database(settings.database_url)
    upgrade(settings)
    yield settings.database_url
    devstack.drop_database(settings.database_url)


@pytest.fixture(scope="session")
def sessions(database: str, settings: Settings) -> Iterator[sessionmaker[Session]]:
    from storage.db import make_engine, make_sessionmaker

    engine = make_engine(settings)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture(scope="session")
def store(settings: Settings) -> ObjectStore:
    object_store = ObjectStore(settings)
    object_store.ensure_bucket()
    return object_store


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log: Path


def start_worker(env: dict[str, str], log: Path, concurrency: int = 1) -> Server:
    """A real ``cutout worker`` process; its url is its metrics/health/readiness server."""
    port = devstack.free_port()
    process = devstack.spawn(
        devstack.worker_argv(concurrency), {**env, "CUTOUT_WORKER_METRICS_PORT": str(port)}, log
    )
    devstack.wait_until(lambda: devstack.worker_ready(log), 120, "worker", process)
    return Server(f"http://127.0.0.1:{port}", process, log)


def start_api(env: dict[str, str], log: Path) -> Server:
    port = devstack.free_port()
    process = devstack.spawn(devstack.api_argv(port), env, log)
    url = f"http://127.0.0.1:{port}"
    devstack.wait_until(lambda: devstack.http_ok(f"{url}/healthz"), 60, "API", process)
    return Server(url, process, log)


@pytest.fixture(scope="session")
def worker(
    database: str, store: object, stack_env: dict[str, str], run_dir: Path
) -> Iterator[Server]:
    server = start_worker(stack_env, run_dir / "worker.log")
    yield server
    devstack.stop(server.process)


@pytest.fixture(scope="session")
def api(database: str, store: object, stack_env: dict[str, str], run_dir: Path) -> Iterator[Server]:
    server = start_api(stack_env, run_dir / "api.log")
    yield server
    devstack.stop(server.process)


@pytest.fixture
def private_stack(
    database: str, store: object, stack_env: dict[str, str], tmp_path: Path
) -> Iterator[Callable[..., Server]]:
    """Start API or worker processes of a test's own, with settings of its own.

    ``private_stack("api", CUTOUT_MAX_QUEUE_DEPTH="2")`` (or ``"worker"``, ``"dispatcher"``)
    shares the session's database and S3 but, unless told otherwise, gets its own Redis
    namespace (so its queue is its own, and the session's worker never takes its jobs). Every
    process started is stopped after the test. ``private_stack.together(("api", env),
    ("worker", env))`` starts several at once.
    """
    started: list[Server] = []
    namespace = f"{stack_env['CUTOUT_REDIS_NAMESPACE']}-{uuid.uuid4().hex[:6]}"

    def start(kind: str, concurrency: int = 1, **overrides: str) -> Server:
        env = {**stack_env, "CUTOUT_REDIS_NAMESPACE": namespace, **overrides}
        log = tmp_path / f"{kind}-{uuid.uuid4().hex[:6]}.log"
        if kind == "api":
            server = start_api(env, log)
        elif kind == "dispatcher":
            process = devstack.spawn(devstack.dispatcher_argv(), env, log)
            devstack.wait_until(lambda: devstack.worker_ready(log), 60, "dispatcher", process)
            server = Server("", process, log)
        else:
            server = start_worker(env, log, concurrency)
        started.append(server)
        return server

    def start_together(*kinds: tuple[str, dict[str, str]]) -> list[Server]:
        """Start several processes at once, e.g. ``(("api", env), ("worker", env))``.

        Each waits for its own readiness, so a test pays for the slowest start, not their sum.
        """
        with ThreadPoolExecutor(len(kinds)) as pool:
            return list(pool.map(lambda kind: start(kind[0], **kind[1]), kinds))

    start.namespace = namespace  # type: ignore[attr-defined]
    start.together = start_together  # type: ignore[attr-defined]
    yield start
    for server in started:
        devstack.stop(server.process)
    client = redis.Redis.from_url(stack_env["CUTOUT_REDIS_URL"])
    for key in client.scan_iter(match=f"{namespace}:*"):
        client.delete(key)


@dataclass(frozen=True)
class TestTenant:
    id: uuid.UUID
    name: str
    api_key: str


def create_test_tenant(
    sessions: sessionmaker[Session],
    settings: Settings,
    credits: int = 100,
    per_minute: int = 1000,
    burst: int | None = None,
    concurrency: int = 16,
) -> TestTenant:
    """A fresh tenant with credits and a key, in whichever database ``sessions`` reaches."""
    from storage import api_keys, ledger, tenants
    from storage.db import transaction

    name = f"tenant-{uuid.uuid4().hex[:12]}"
    with transaction(sessions) as session:
        tenant_id = tenants.create_tenant(
            session, name, tenants.Plan(per_minute, burst or per_minute, concurrency)
        )
        if credits:
            ledger.grant(session, tenant_id, credits, reason="test credits")
        key = api_keys.create_key(session, tenant_id, settings.api_key_secret.get_secret_value())
    return TestTenant(tenant_id, name, key)


@pytest.fixture
def make_tenant(sessions: sessionmaker[Session], settings: Settings) -> Callable[..., TestTenant]:
    """Create a fresh tenant (unique per test) with the given credits and plan."""

    def make(
        credits: int = 100, per_minute: int = 1000, burst: int | None = None, concurrency: int = 16
    ) -> TestTenant:
        return create_test_tenant(sessions, settings, credits, per_minute, burst, concurrency)

    return make


@pytest.fixture
def balance_of(sessions: sessionmaker[Session]) -> Callable[[uuid.UUID], int]:
    from storage import ledger

    def read(tenant_id: uuid.UUID) -> int:
        with sessions() as session:
            return ledger.balance(session, tenant_id)

    return read


@pytest.fixture
def client(api: Server, worker: Server) -> Iterator[httpx.Client]:
    """An HTTP client for the running API, with a worker behind it."""
    with httpx.Client(base_url=api.url, timeout=90) as http:
        yield http
