from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.paths import EVAL_DIR, SAMPLES


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
