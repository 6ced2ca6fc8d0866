"""Process settings, read from ``CUTOUT_*`` environment variables.

Every process (API, worker, CLI) builds its settings once through :func:`get_settings`, never at
import time, so tests and tools can change the environment before the first use. Defaults work on
a developer machine with Postgres, Redis and an S3 endpoint on localhost. The docstring under each
field is its documentation: docs/settings.md is generated from them.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Environment = Literal["development", "test", "production"]

DEVELOPMENT_SECRET = "development-only-secret-change-me"  # noqa: S105 (refused in production)


class Settings(BaseSettings):
    """All tunables of a Cutout deployment."""

    model_config = SettingsConfigDict(
        env_prefix="CUTOUT_", extra="ignore", use_attribute_docstrings=True
    )

    environment: Environment = "development"
    """`production` refuses development secrets and conveniences."""
    log_level: str = "INFO"
    """Level of the root logger."""
    log_format: Literal["json", "text"] = "json"
    """One JSON object per line (for log pipelines), or plain text (for people)."""

    # --- Postgres: the source of truth for tenants, credits and jobs.
    database_url: str = "postgresql://postgres@127.0.0.1:5432/cutout"
    """Postgres URL; the driver part is chosen per process (psycopg or asyncpg)."""
    database_pool_size: int = Field(10, ge=1)
    """Connections kept open per process."""
    database_connect_timeout_seconds: float = Field(5.0, gt=0)
    """How long to wait for a new Postgres connection before answering 503."""

    # --- Redis: Celery broker, rate limits and job-outcome notifications.
    redis_url: str = "redis://127.0.0.1:6379/0"
    """Redis URL: Celery broker, rate limits and job-outcome notifications."""
    redis_namespace: str = Field("cutout", pattern=r"^[A-Za-z0-9_.-]+$")
    """Prefix of Redis keys, channels and Celery queues; stacks may share one Redis."""

    # --- S3-compatible object storage.
    s3_endpoint_url: str | None = "http://127.0.0.1:9000"
    """S3 endpoint this process talks to; unset means AWS S3."""
    s3_public_endpoint_url: str | None = None
    """Endpoint clients reach; presigned URLs are signed for it (default: s3_endpoint_url)."""
    s3_region: str = "us-east-1"
    """Region used for SigV4 signing."""
    s3_bucket: str = "cutout"
    """Bucket holding inputs and results."""
    s3_access_key_id: str = "minioadmin"
    """S3 access key id."""
    s3_secret_access_key: SecretStr = SecretStr("minioadmin")
    """S3 secret access key."""
    s3_create_bucket: bool = True
    """Create the bucket on start (development only)."""
    result_url_ttl_seconds: int = Field(3600, ge=60, le=7 * 24 * 3600)
    """How long a presigned result URL stays valid."""

    api_key_secret: SecretStr = SecretStr(DEVELOPMENT_SECRET)
    """Server secret keying the HMAC under which API keys are stored."""

    # --- Limits of the contract.
    max_image_bytes: int = 25 * 1024 * 1024
    """Largest accepted input, in bytes (file_size_too_large beyond)."""
    max_image_side: int = 6000
    """Largest accepted width or height (resolution_too_high beyond)."""
    min_image_side: int = 64
    """Smallest accepted width or height (invalid_parameter below)."""

    default_rate_limit_per_minute: int = Field(60, ge=1)
    """Requests per minute given to tenants created without an explicit limit."""
    rate_limit_redis_timeout_seconds: float = Field(1.0, gt=0)
    """How long the rate limiter waits for Redis before failing open (admitting, logged)."""
    api_key_cache_seconds: float = Field(5.0, ge=0)
    """How long an API process may reuse an authenticated key without asking Postgres (0: never).
    Revocations and plan changes made with `cutout admin` reach every API process at once over
    Redis; this is the bound when that notice is lost."""
    key_usage_flush_seconds: float = Field(5.0, gt=0)
    """How often an API process writes its keys' `last_used_at` (batched, off the hot path)."""
    idempotency_key_ttl_hours: int = Field(24, ge=1)
    """How long an `Idempotency-Key` is remembered per tenant."""

    job_wait_timeout_seconds: float = Field(120.0, gt=0)
    """How long a synchronous request waits for its job before failing (and refunding) it."""
    image_url_timeout_seconds: float = Field(20.0, gt=0)
    """Total time allowed to download an image_url (redirects included)."""

    # --- Requests to client-chosen URLs (image_url, webhooks): docs/untrusted-input.md.
    outbound_allowed_ports: list[int] = Field([80, 443], min_length=1)
    """Ports outbound requests may connect to, as a JSON list (add e.g. 8080 for development)."""
    outbound_connect_timeout_seconds: float = Field(5.0, gt=0)
    """Time allowed to resolve a host and connect to it."""
    outbound_test_origins: list[str] = Field(default_factory=list)
    """Loopback `ip:port` origins outbound requests may reach; for the test suite only."""

    # --- Operations: backpressure, shutdown, metrics.
    max_queue_depth: int = Field(1000, ge=0)
    """Jobs waiting in a queue beyond which new jobs get 503 service_overloaded (0: no bound)."""
    overload_retry_after_seconds: int = Field(10, ge=1)
    """Retry-After sent with service_overloaded."""
    shutdown_grace_seconds: int = Field(30, ge=0)
    """How long the API drains in-flight requests after SIGTERM before closing them."""
    worker_metrics_host: str = "127.0.0.1"
    """Address of a worker's metrics/health server (0.0.0.0 in containers)."""
    worker_metrics_port: int = Field(9101, ge=0, le=65535)
    """Port of a worker's /metrics, /healthz and /readyz (0: no server)."""

    # --- Workers.
    task_time_limit_seconds: int = Field(90, ge=5)
    """Hard limit per job attempt; must stay below the visibility timeout."""
    broker_visibility_timeout_seconds: int = Field(300, ge=10)
    """Redis redelivers a job whose worker died after this long."""
    job_max_attempts: int = Field(3, ge=1)
    """Attempts before a job that keeps failing transiently is failed and refunded."""
    worker_concurrency: int = Field(1, ge=1)
    """Jobs a worker runs at once (one process each)."""
    ort_intra_op_threads: int = Field(0, ge=0)
    """onnxruntime threads per inference, and OpenCV threads per worker process; 0 lets both decide
    (one per core)."""
    ort_allow_spinning: bool = False
    """Whether onnxruntime's idle threads spin-wait for the next operator. Off, so that worker
    processes sharing cores give them up between operators: two processes of two threads each on
    two cores took 561 ms per U²-Netp inference spinning, 461 ms not (one thread each: 455), and
    alone 246 ms (one thread: 444)."""
    ort_adaptive_threads: bool = True
    """Whether a job that starts while another worker process of the machine is running one
    runs on one onnxruntime and one OpenCV thread instead of ``ort_intra_op_threads``: wide
    threads halve a lone job's latency but waste CPU when every process is busy (2 cores, two
    processes of two threads: 1,151 ms of worker CPU per request against 851 with one thread
    each). See workers/cpu_share.py."""
    ort_inter_op_threads: int = Field(1, ge=0)
    """onnxruntime threads across independent graph branches; 1 (sequential) suits these models."""
    ort_providers: list[str] = Field(
        ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    )
    """Execution providers in order of preference, as a JSON list; unavailable ones are skipped.
    With the `openvino` extra, put `OpenVINOExecutionProvider` first to run on OpenVINO."""
    openvino_precision: Literal["f32", "bf16"] = "bf16"
    """Arithmetic of OpenVINOExecutionProvider on the CPU: `bf16` runs U²-Netp in about half
    the CPU time on CPUs with AVX-512 BF16 or AMX, for masks at ~0.98 IoU with `f32`'s."""
    model_name: str = "u2netp"
    """Segmentation model used when a request names none (see docs/models.md)."""
    request_models: list[str] = Field(["u2netp"])
    """Models a request may name in its `model` field, as a JSON list; operators add the ones
    their workers have pulled."""
    models_dir: Path = Path.home() / ".cache" / "cutout" / "models"
    """Folder holding pulled model weights and custom.json (models registered by path)."""
    default_queue: str = Field("cpu", pattern=r"^[A-Za-z0-9_.-]+$")
    """Queue (after the namespace) of jobs whose model has no entry in model_queues."""
    model_queues: dict[str, str] = Field(default_factory=dict)
    """Model → queue routing as a JSON object, e.g. `{"birefnet-general": "gpu"}`."""
    gpu_queue: str = Field("gpu", pattern=r"^[A-Za-z0-9_.-]+$")
    """Queue a worker started with `--gpu N` consumes (CPU workers consume default_queue)."""
    worker_gpu: int | None = Field(None, ge=0)
    """GPU device this worker is pinned to; `cutout worker --gpu N` sets it. Unset: CPU worker."""
    refine_edges: bool = True
    """Run the edge refinement (alpha from colour + colour decontamination) after the model."""
    png_encoder: Literal["fast", "compact"] = "fast"
    """`fast`: fpng up to 12 MP (about a tenth of libpng's CPU, files 18–28% larger); `compact`:
    libpng for every size, for storage and egress that cost more than CPU."""

    # --- Async jobs, batches, retention and webhooks.
    max_batch_items: int = Field(100, ge=1, le=1000)
    """Most items one POST /v1/batches may hold; also the concurrent-jobs cap of tenants created
    without one (each item holds a slot)."""
    max_batch_body_bytes: int = Field(300 * 1024 * 1024, ge=1)
    """Largest POST /v1/batches body (uploads of all items together), in bytes."""
    batch_fetch_concurrency: int = Field(8, ge=1)
    """image_url downloads a batch submission runs at once."""
    inline_input_max_bytes: int = Field(512 * 1024, ge=0)
    """Inputs up to this size travel to the worker in Redis instead of S3 (0: always S3). See
    docs/operations.md, "Small inputs in Redis"."""
    inline_input_ttl_seconds: int = Field(3 * 3600, ge=60)
    """Backstop expiry of an input kept in Redis; it is deleted when its job ends. A job whose
    input expired first fails and is refunded, so keep it above stuck_job_after_seconds ×
    (stuck_job_max_requeues + 1)."""
    retention_hours: float = Field(24.0, gt=0)
    """Inputs and results of finished jobs are deleted after this long (sweeper + S3 lifecycle)."""
    stuck_job_after_seconds: float = Field(600.0, gt=0)
    """A job queued (or leased by a dead worker) this long is sent to the queue again."""
    stuck_job_max_requeues: int = Field(3, ge=0)
    """Re-sends of a stuck job before it is failed and refunded."""
    sweep_interval_seconds: float = Field(30.0, gt=0)
    """How often the dispatcher sweeps the outbox, stuck jobs and expired objects."""
    webhook_timeout_seconds: float = Field(10.0, gt=0)
    """Time allowed for one webhook delivery attempt."""
    webhook_retry_base_seconds: float = Field(5.0, gt=0)
    """Delay before the first webhook retry; each next one is webhook_retry_factor times longer."""
    webhook_retry_factor: float = Field(4.0, ge=1)
    """Growth of the delay between webhook retries (exponential backoff)."""
    webhook_retry_max_delay_seconds: float = Field(6 * 3600.0, gt=0)
    """Longest delay between two webhook attempts."""
    webhook_retry_window_seconds: float = Field(24 * 3600.0, gt=0)
    """Webhook retries go on this long after the event; the last attempt falls at its end."""
    webhook_secret_grace_hours: float = Field(24.0, ge=0)
    """After a rotation, the previous webhook secret keeps signing (a 2nd signature) this long."""

    @model_validator(mode="after")
    def _refuse_development_secrets_in_production(self) -> Settings:
        if self.environment == "production":
            if self.api_key_secret.get_secret_value() == DEVELOPMENT_SECRET:
                raise ValueError("CUTOUT_API_KEY_SECRET must be set in production")
            if self.s3_create_bucket:
                raise ValueError("CUTOUT_S3_CREATE_BUCKET is a development convenience")
        if self.outbound_test_origins:
            if self.environment != "test":
                raise ValueError("CUTOUT_OUTBOUND_TEST_ORIGINS is only for CUTOUT_ENVIRONMENT=test")
            from storage.address_policy import parse_test_origins

            parse_test_origins(self.outbound_test_origins)  # raises unless loopback ip:port
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
