"""What a worker measures: time per pipeline stage, model load time, the execution provider.

Jobs run in Celery's prefork children, while the metrics server runs in the parent, so these
metrics live in Prometheus' multiprocess files (``PROMETHEUS_MULTIPROC_DIR``, prepared by
``cutout worker`` before anything imports prometheus_client) and the server aggregates them.
Jobs by outcome and the credits they moved are counted in :mod:`storage.metrics`.
"""

from __future__ import annotations

from prometheus_client import Gauge, Histogram

# The pipeline's own stage names, mapped to the ones operators know; others pass unchanged.
_STAGE_LABELS = {"segment": "inference"}

STAGE_SECONDS = Histogram(
    "cutout_job_stage_seconds",
    "Seconds per job stage (download, decode, resize, inference, refine, shadow, encode, upload).",
    ["stage"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
MODEL_LOAD_SECONDS = Gauge(
    "cutout_model_load_seconds",
    "Seconds the worker process took to load its model.",
    ["model"],
    multiprocess_mode="liveall",
)
EXECUTION_PROVIDER = Gauge(
    "cutout_execution_provider",
    "1 for the onnxruntime execution provider the worker process's model runs on.",
    ["model", "provider"],
    multiprocess_mode="liveall",
)


def observe_stages(seconds: dict[str, float]) -> None:
    for stage, value in seconds.items():
        STAGE_SECONDS.labels(_STAGE_LABELS.get(stage, stage)).observe(value)


def model_loaded(model: str, provider: str, load_seconds: float) -> None:
    MODEL_LOAD_SECONDS.labels(model).set(load_seconds)
    EXECUTION_PROVIDER.labels(model, provider).set(1)
