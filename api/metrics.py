"""Prometheus metrics of the API: requests by route and status, latency, queue depth.

Requests are labelled with the route *template* (``/v1/remove-background``), never the raw path,
so unknown URLs cannot create unbounded label values. Queue depth is sampled from Redis when
Prometheus scrapes, so it is fresh and costs nothing between scrapes. With several API processes
(``cutout serve --workers N``) the counters live in Prometheus' multiprocess files and every
process answers ``/metrics`` with the sum.
"""

from __future__ import annotations

import logging
import time

from fastapi import APIRouter, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess
from redis.exceptions import RedisError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import queues
from api.deps import ServicesDep
from storage import metrics_dir

log = logging.getLogger(__name__)

REQUESTS = Counter(
    "cutout_http_requests_total",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "cutout_http_request_duration_seconds",
    "Seconds from receiving a request to the end of its response, by method and route.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120),
)
UNMATCHED = "unmatched"

router = APIRouter(tags=["operations"])


class MetricsMiddleware:
    """Count and time every HTTP request; pure ASGI, so streaming is not buffered."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = getattr(scope.get("route"), "path", UNMATCHED)
            method = scope["method"]
            REQUESTS.labels(method, route, str(status)).inc()
            LATENCY.labels(method, route).observe(time.perf_counter() - started)


class _Sample:
    """A one-off collector: the queue depths read for this scrape."""

    def __init__(self, depths: dict[str, int]) -> None:
        self._depths = depths

    def collect(self):
        gauge = Gauge(
            "cutout_queue_depth",
            "Jobs waiting in each Celery queue (not yet taken by a worker).",
            ["queue"],
            registry=None,
        )
        for queue, depth in self._depths.items():
            gauge.labels(queue).set(depth)
        yield from gauge.collect()


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
async def metrics(services: ServicesDep) -> Response:
    if metrics_dir.enabled():
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    body = generate_latest(registry)
    try:
        depths = await queues.depths(services.redis, services.settings)
    except (RedisError, OSError) as error:
        log.warning("queue depth not sampled: %r", error)
    else:
        sample = CollectorRegistry(auto_describe=False)
        sample.register(_Sample(depths))
        body += generate_latest(sample)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
