"""A worker's operational surface: heartbeats from the pool processes, and an HTTP server.

- Each pool process, once its model is loaded, writes a :class:`~storage.heartbeats.Heartbeat`
  to Redis and refreshes it from a daemon thread.
- The parent (Celery's main process) serves, on ``CUTOUT_WORKER_METRICS_PORT``:
  ``/metrics`` (all processes' metrics, aggregated from the multiprocess files), ``/healthz``
  (the process answers) and ``/readyz`` (consuming, Postgres, Redis and S3 reachable, and every
  pool process has its model loaded). ``/readyz`` turns 503 as soon as a warm shutdown starts, so
  an orchestrator stops counting on the worker while it finishes its current job.

The parent builds its own clients for the probes: the pool processes are forked from it and must
not share its connections.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
from dataclasses import dataclass, field
from functools import cached_property
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import redis
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client import multiprocess as prometheus_multiprocess
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from storage import metrics_dir
from storage.db import database_url
from storage.heartbeats import INTERVAL_SECONDS, TTL_SECONDS, Heartbeat, key_prefix
from storage.objects import ObjectStore
from storage.settings import Settings

log = logging.getLogger(__name__)

PROBE_TIMEOUT_SECONDS = 3


def start_heartbeat(settings: Settings, beat: Heartbeat) -> threading.Thread:
    """Write ``beat`` now and every few seconds from a daemon thread, for this process's life."""
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=PROBE_TIMEOUT_SECONDS)

    def write() -> None:
        client.set(beat.key(settings), beat.encode(), ex=TTL_SECONDS)

    def loop() -> None:
        stop = threading.Event()
        while not stop.wait(INTERVAL_SECONDS):
            try:
                write()
            except redis.RedisError as error:
                log.warning("worker heartbeat not written: %r", error)

    try:
        write()
    except redis.RedisError as error:
        log.warning("worker heartbeat not written: %r", error)
    thread = threading.Thread(target=loop, name="cutout-heartbeat", daemon=True)
    thread.start()
    return thread


def clear_heartbeat(settings: Settings, beat: Heartbeat) -> None:
    with contextlib.suppress(redis.RedisError):  # else it expires on its own
        redis.Redis.from_url(settings.redis_url, socket_timeout=1).delete(beat.key(settings))


@dataclass
class WorkerState:
    """What the parent knows about itself, flipped by Celery's signals."""

    settings: Settings
    pool_size: int = 1
    consuming: bool = False
    shutting_down: bool = False
    host: str = field(default_factory=socket.gethostname)

    @cached_property
    def _redis(self) -> redis.Redis:
        return redis.Redis.from_url(
            self.settings.redis_url,
            socket_timeout=PROBE_TIMEOUT_SECONDS,
            socket_connect_timeout=PROBE_TIMEOUT_SECONDS,
        )

    @cached_property
    def _engine(self):
        return create_engine(
            database_url(self.settings, "psycopg"),
            poolclass=NullPool,
            connect_args={"connect_timeout": PROBE_TIMEOUT_SECONDS},
        )

    @cached_property
    def _store(self) -> ObjectStore:
        return ObjectStore(self.settings)

    def heartbeats(self) -> list[Heartbeat]:
        """Heartbeats of this worker's own pool processes."""
        beats = []
        for key in self._redis.scan_iter(match=f"{key_prefix(self.settings)}{self.host}:*"):
            raw = self._redis.get(key)
            if raw is not None:
                beat = Heartbeat.decode(raw)
                if beat.parent_pid == os.getpid():
                    beats.append(beat)
        return beats

    def readiness(self) -> tuple[bool, dict[str, object]]:
        checks: dict[str, str] = {}

        def check(name: str, probe) -> None:
            try:
                probe()
                checks[name] = "ok"
            except Exception as error:
                log.warning("worker readiness check %s failed: %r", name, error)
                checks[name] = "unavailable"

        def postgres() -> None:
            with self._engine.connect() as connection:
                connection.execute(text("SELECT 1"))

        checks["consuming"] = (
            "shutting down" if self.shutting_down else "ok" if self.consuming else "starting"
        )
        check("redis", self._redis.ping)
        check("postgres", postgres)
        check("s3", self._store.ping)
        beats: list[Heartbeat] = []
        if checks["redis"] == "ok":
            beats = self.heartbeats()
        checks["model"] = "ok" if len(beats) >= self.pool_size else "loading"
        ready = all(state == "ok" for state in checks.values())
        return ready, {
            "status": "ready" if ready else "unavailable",
            "checks": checks,
            "processes": [{"pid": b.pid, "model": b.model, "provider": b.provider} for b in beats],
        }


def metrics_text() -> bytes:
    if metrics_dir.enabled():
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def serve(state: WorkerState, port: int) -> ThreadingHTTPServer | None:
    """Start the server in a daemon thread; None (with a warning) when the port is taken."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, metrics_text(), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                self._send_json(200, {"status": "ok"})
            elif path == "/readyz":
                ready, body = state.readiness()
                self._send_json(200 if ready else 503, body)
            else:
                self._send_json(404, {"error": "Not found.", "error_code": "not_found"})

        def _send_json(self, status: int, body: dict[str, object]) -> None:
            self._send(status, json.dumps(body).encode(), "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # scrapes every few seconds would drown the job logs

    try:
        server = ThreadingHTTPServer((state.settings.worker_metrics_host, port), Handler)
    except OSError as error:
        log.warning("worker metrics server not started on port %d: %r", port, error)
        return None
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="cutout-metrics", daemon=True).start()
    log.info("worker metrics, health and readiness on port %d", port)
    return server
