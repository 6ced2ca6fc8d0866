"""A local webhook endpoint for end-to-end tests: it records every request and answers from a
script, e.g. ``[500, 200]`` (then the last answer again), or ``"hang"`` to hold the request open
until the test releases it (to kill the dispatcher mid-delivery)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HANG = "hang"


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes


class Receiver:
    def __init__(self, answers: list[int | str]) -> None:
        self.answers = answers
        self.requests: list[Received] = []
        self.hanging = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()
        self.url = ""

    def answer_for(self, received: Received) -> int | str:
        with self._lock:
            self.requests.append(received)
            index = len(self.requests) - 1
        return self.answers[min(index, len(self.answers) - 1)]

    def wait_for(self, count: int, timeout: float = 120) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.requests) >= count:
                return list(self.requests)
            time.sleep(0.1)
        raise AssertionError(f"{len(self.requests)} webhook requests arrived, not {count}")


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            answer = receiver.answer_for(Received(dict(self.headers.items()), body))
            if answer == HANG:
                receiver.hanging.set()
                receiver.release.wait(120)
                self.close_connection = True
                return
            self.send_response(int(answer))
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextmanager
def running_receiver(answers: list[int | str], port: int = 0) -> Iterator[Receiver]:
    """A receiver on 127.0.0.1 (on ``port``, or any free one)."""
    receiver = Receiver(answers)
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(receiver))
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/cutout"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()
