from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from cutout import devstack
from tests.conftest import Server
from tests.paths import EVAL_DIR, SAMPLES

# Webhook timings short enough for tests: retries after ~0.5 s, 1 s, 2 s…, a sweep every second.
FAST_WEBHOOKS = {
    "CUTOUT_WEBHOOK_TIMEOUT_SECONDS": "3",
    "CUTOUT_WEBHOOK_RETRY_BASE_SECONDS": "0.5",
    "CUTOUT_WEBHOOK_RETRY_FACTOR": "2",
    "CUTOUT_WEBHOOK_RETRY_WINDOW_SECONDS": "300",
    "CUTOUT_SWEEP_INTERVAL_SECONDS": "1",
}


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def _serve(directory: Path, port: int) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def photo_server(test_origin_ports: dict[str, int]) -> Iterator[str]:
    """An HTTP origin for ``image_url`` tests, serving the CC0 samples."""
    yield from _serve(SAMPLES, test_origin_ports["photos"])


@pytest.fixture(scope="session")
def eval_server(test_origin_ports: dict[str, int]) -> Iterator[str]:
    """An HTTP origin serving the development evaluation set's photos."""
    yield from _serve(EVAL_DIR, test_origin_ports["eval"])


@pytest.fixture(scope="module")
def start_dispatcher(
    database: str, store: object, stack_env: dict[str, str], run_dir: Path
) -> Iterator[Callable[..., Server]]:
    """Start ``cutout dispatcher`` processes (stopped at the end of the module)."""
    started: list[Server] = []

    def start(extra_env: dict[str, str] | None = None) -> Server:
        log = run_dir / f"dispatcher-{len(started)}-{id(started)}.log"
        env = {**stack_env, **FAST_WEBHOOKS, **(extra_env or {})}
        process = devstack.spawn(devstack.dispatcher_argv(), env, log)
        devstack.wait_until(lambda: devstack.worker_ready(log), 60, "dispatcher", process)
        started.append(Server("", process, log))
        return started[-1]

    yield start
    for server in started:
        devstack.stop(server.process)


@pytest.fixture(scope="session")
def webhook_port(test_origin_ports: dict[str, int]) -> int:
    """The loopback port webhook receivers bind, allowed by the outbound policy in tests."""
    return test_origin_ports["webhooks"]


@pytest.fixture
def tenant(make_tenant):
    """A fresh tenant with 10 credits, for tests that need one and no particular plan."""
    return make_tenant(credits=10)


@pytest.fixture
def unchanged_balance(tenant, balance_of) -> Iterator[None]:
    """Whatever the test does, ``tenant`` ends with the credits it started with."""
    before = balance_of(tenant.id)
    yield
    assert balance_of(tenant.id) == before
