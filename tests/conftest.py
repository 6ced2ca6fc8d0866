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
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
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
TEST_ORIGINS = ("photos", "eval", "scripted", "webhooks")


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


@pytest.fixture(scope="session")
def worker(
    database: str, store: object, stack_env: dict[str, str], run_dir: Path
) -> Iterator[Server]:
    log = run_dir / "worker.log"
    process = devstack.spawn(devstack.worker_argv(), stack_env, log)
    devstack.wait_until(lambda: devstack.worker_ready(log), 120, "worker", process)
    yield Server("", process, log)
    devstack.stop(process)


@pytest.fixture(scope="session")
def api(database: str, store: object, stack_env: dict[str, str], run_dir: Path) -> Iterator[Server]:
    port = devstack.free_port()
    log = run_dir / "api.log"
    process = devstack.spawn(devstack.api_argv(port), stack_env, log)
    url = f"http://127.0.0.1:{port}"
    devstack.wait_until(lambda: devstack.http_ok(f"{url}/readyz"), 60, "API", process)
    yield Server(url, process, log)
    devstack.stop(process)


@dataclass(frozen=True)
class TestTenant:
    id: uuid.UUID
    name: str
    api_key: str


@pytest.fixture
def make_tenant(sessions: sessionmaker[Session], settings: Settings) -> Callable[..., TestTenant]:
    """Create a fresh tenant (unique per test) with the given credits and plan."""
    from storage import api_keys, ledger, tenants
    from storage.db import transaction

    def make(
        credits: int = 100, per_minute: int = 1000, burst: int | None = None, concurrency: int = 16
    ) -> TestTenant:
        name = f"tenant-{uuid.uuid4().hex[:12]}"
        with transaction(sessions) as session:
            tenant_id = tenants.create_tenant(
                session, name, tenants.Plan(per_minute, burst or per_minute, concurrency)
            )
            if credits:
                ledger.grant(session, tenant_id, credits, reason="test credits")
            key = api_keys.create_key(
                session, tenant_id, settings.api_key_secret.get_secret_value()
            )
        return TestTenant(tenant_id, name, key)

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
