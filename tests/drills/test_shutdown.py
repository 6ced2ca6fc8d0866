"""Graceful shutdown, with real processes and real signals.

- The API (uvicorn) on SIGTERM stops accepting connections and drains the requests in flight.
- A worker (Celery, warm shutdown) on SIGTERM finishes its current job and takes no new one;
  a worker started after it takes the queued job: a rolling restart loses and double-charges
  nothing.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import redis

from tests.drills.conftest import big_photo, db_now, job_row, ledger, report, submit, wait_for
from tests.images import rgba, sample
from workers.contract import queue_name


@pytest.fixture
def slow_origin(test_origin_ports: dict[str, int]) -> Iterator[tuple[str, threading.Event]]:
    """An image_url origin that answers after 3 s; the event is set when a request arrives."""
    arrived = threading.Event()
    photo = sample("chelsea.jpg")

    class Slow(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            arrived.set()
            time.sleep(3)
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(photo)))
            self.end_headers()
            self.wfile.write(photo)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", test_origin_ports["slow"]), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/chelsea.jpg", arrived
    server.shutdown()
    server.server_close()


def test_api_drains_a_request_in_flight_on_sigterm(
    private_stack, worker, stack_env, make_tenant, balance_of, slow_origin
):
    url, arrived = slow_origin
    # An API of its own (it will be stopped), on the session's queue and worker.
    api = private_stack("api", CUTOUT_REDIS_NAMESPACE=stack_env["CUTOUT_REDIS_NAMESPACE"])
    tenant = make_tenant(credits=5)
    answer: dict[str, httpx.Response] = {}

    def in_flight() -> None:
        answer["response"] = httpx.post(
            f"{api.url}/v1/remove-background",
            headers={"X-API-Key": tenant.api_key, "Accept": "image/png"},
            json={"image_url": url},
            timeout=60,
        )

    thread = threading.Thread(target=in_flight)
    thread.start()
    assert arrived.wait(30), "the API started fetching the image"
    api.process.send_signal(signal.SIGTERM)

    def refuses_new_connections() -> bool:
        try:
            httpx.get(f"{api.url}/healthz", timeout=1)
        except httpx.TransportError:
            return True
        return False

    wait_for(refuses_new_connections, 10, "the API to stop accepting connections")
    assert thread.is_alive(), "the request was still in flight when the listener closed"
    thread.join(60)

    response = answer["response"]
    assert response.status_code == 200, response.text
    assert rgba(response.content).shape == (300, 451, 4)
    assert balance_of(tenant.id) == 4
    # uvicorn re-raises the signal once it has shut down cleanly, so "killed by SIGTERM" is
    # its normal exit status; the log shows the drain ran to completion.
    assert api.process.wait(30) in (0, -signal.SIGTERM)
    lines = api.log.read_text()
    assert "Waiting for connections to close" in lines
    assert "Application shutdown complete" in lines
    report(
        "api-sigterm-drain",
        in_flight_request=response.status_code,
        new_connections_after_sigterm="refused",
        exit_status=api.process.returncode,
    )


def test_worker_finishes_its_job_on_sigterm_and_takes_no_new_one(
    private_stack, make_tenant, sessions, settings
):
    api, first = private_stack.together(("api", {}), ("worker", {}))
    tenant = make_tenant(credits=10)
    queue_key = f"{private_stack.namespace}:{queue_name(private_stack.namespace, 'cpu')}"
    broker = redis.Redis.from_url(settings.redis_url)

    with httpx.Client(base_url=api.url, timeout=60) as client:
        running = submit(client, tenant.api_key, big_photo())
        wait_for(lambda: job_row(sessions, running).status == "running", 60, "job to start")
        os.kill(first.process.pid, signal.SIGTERM)  # the main process only, as `docker stop`
        signalled_at = db_now(sessions)
        queued = submit(client, tenant.api_key, sample("chelsea.jpg"))
        exit_code = first.process.wait(120)

        finished = job_row(sessions, running)
        left = job_row(sessions, queued)
        waiting = broker.llen(queue_key)
        assert exit_code == 0
        assert finished.status == "succeeded"
        assert finished.attempts == 1
        assert finished.finished_at > signalled_at, "it finished after the signal, not before"
        assert (left.status, left.attempts) == ("queued", 0), "no new job was taken"
        assert waiting == 1, "its message is still in the queue"

        # The rolling restart's second half: a new worker takes the queued job.
        private_stack("worker")
        wait_for(lambda: job_row(sessions, queued).status == "succeeded", 120, "queued job")

    books = ledger(sessions, tenant.id)
    assert books.balance == 8
    assert books.entries == {"grant": 1, "debit": 2}, "two debits, nothing refunded"
    report(
        "worker-sigterm-warm-shutdown",
        running_job=finished.status,
        finished_after_sigterm_s=round((finished.finished_at - signalled_at).total_seconds(), 2),
        queued_job_after_shutdown=left.status,
        queue_depth_after_shutdown=waiting,
        queued_job_after_new_worker=job_row(sessions, queued).status,
        worker_exit_code=exit_code,
        balance=books.balance,
    )
