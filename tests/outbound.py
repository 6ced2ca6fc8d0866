"""Loopback servers for outbound-request tests: a canary that counts connections, and an origin
whose answers (redirects, sizes, delays) each test scripts.

Both listen on 127.0.0.1 only; nothing in these tests ever connects anywhere else.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Canary:
    """A TCP listener that records every connection it accepts (and answers HTTP 200)."""

    port: int
    hits: list[tuple[str, int]] = field(default_factory=list)

    def wait_for_hits(self, count: int, within: float = 10.0) -> list[tuple[str, int]]:
        """The hits once ``count`` arrived (the kernel completes a connection before the
        listener's thread accepts it, so a hit can lag the client's view)."""
        deadline = time.monotonic() + within
        while len(self.hits) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.hits


@contextmanager
def canary() -> Iterator[Canary]:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.settimeout(0.2)
    record = Canary(listener.getsockname()[1])
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, peer = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            record.hits.append(peer)
            with connection:
                connection.settimeout(1)
                try:
                    connection.recv(65536)
                    connection.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\ncanary"
                    )
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield record
    finally:
        stop.set()
        thread.join(timeout=2)
        listener.close()


# A route answers (status, headers, body); ``delay`` seconds are slept before answering.
Route = Callable[[], tuple[int, dict[str, str], bytes]]


@dataclass
class Origin:
    url: str
    port: int
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[tuple[str, str, bytes]] = field(default_factory=list)  # method, path, body
    delay: float = 0.0

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        self.routes[path] = lambda: (status, {"Location": location}, b"")

    def serve(self, path: str, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.routes[path] = lambda: (200, dict(headers or {}), body)


@contextmanager
def origin(port: int = 0) -> Iterator[Origin]:
    """A scriptable HTTP/1.1 server on 127.0.0.1 (on ``port``, or any free one)."""
    state: Origin

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            state.requests.append((self.command, self.path, body))
            if state.delay:
                time.sleep(state.delay)
            route = state.routes.get(self.path)
            status, headers, payload = route() if route else (404, {}, b"not found")
            self.send_response(status)
            length = headers.pop("Content-Length", None)
            if length == "omit":  # the body ends when the socket closes
                self.close_connection = True
                headers["Connection"] = "close"
            else:
                headers["Content-Length"] = length or str(len(payload))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            with suppress(OSError):
                self.wfile.write(payload)

        do_GET = _answer
        do_POST = _answer

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    port = server.server_address[1]
    state = Origin(f"http://127.0.0.1:{port}", port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
