"""Process settings, read from ``CUTOUT_*`` environment variables.

Every process (API, worker, CLI) builds its settings once through :func:`get_settings`, never at
import time, so tests and tools can change the environment before the first use. Defaults work on
a developer machine with Postgres, Redis and an S3 endpoint on localhost.
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
    """All tunables of a Cutout deployment; one table of them lives in docs/deploy.md."""

    model_config = SettingsConfigDict(env_prefix="CUTOUT_", extra="ignore")

    environment: Environment = "development"

    # --- Postgres: the source of truth for tenants, credits and jobs.
    database_url: str = "postgresql://postgres@127.0.0.1:5432/cutout"
    database_pool_size: int = Field(10, ge=1)

    # --- Redis: Celery broker, rate limits and job-outcome notifications.
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_namespace: str = Field(
        "cutout",
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="Prefix of Redis keys, channels and Celery queues; stacks may share a Redis.",
    )

    # --- S3-compatible object storage.
    s3_endpoint_url: str | None = "http://127.0.0.1:9000"
    s3_public_endpoint_url: str | None = Field(
        None, description="Endpoint that clients reach; presigned URLs are signed for it."
    )
    s3_region: str = "us-east-1"
    s3_bucket: str = "cutout"
    s3_access_key_id: str = "minioadmin"
    s3_secret_access_key: SecretStr = SecretStr("minioadmin")
    s3_create_bucket: bool = Field(True, description="Create the bucket on start (development).")
    result_url_ttl_seconds: int = Field(3600, ge=60, le=7 * 24 * 3600)

    # --- API keys: only an HMAC of each key is stored, keyed with this secret.
    api_key_secret: SecretStr = SecretStr(DEVELOPMENT_SECRET)

    # --- Limits of the contract.
    max_image_bytes: int = 25 * 1024 * 1024
    max_image_side: int = 6000
    min_image_side: int = 64

    # --- Tenant defaults for `cutout admin create-tenant`.
    default_rate_limit_per_minute: int = Field(60, ge=1)

    # --- Synchronous requests wait this long for their job before giving up (and refunding).
    job_wait_timeout_seconds: float = Field(120.0, gt=0)
    image_url_timeout_seconds: float = Field(20.0, gt=0)

    # --- Workers.
    task_time_limit_seconds: int = Field(90, ge=5)
    broker_visibility_timeout_seconds: int = Field(
        300, ge=10, description="Redis redelivers unacknowledged jobs after this long."
    )
    job_max_attempts: int = Field(3, ge=1)
    worker_concurrency: int = Field(1, ge=1)
    ort_intra_op_threads: int = Field(0, ge=0, description="0 lets onnxruntime decide.")
    ort_providers: list[str] = Field(
        ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
        description="Execution providers in order of preference; unavailable ones are skipped.",
    )
    model_name: str = "u2netp"
    models_dir: Path = Path.home() / ".cache" / "cutout" / "models"

    @model_validator(mode="after")
    def _refuse_development_secrets_in_production(self) -> Settings:
        if self.environment == "production":
            if self.api_key_secret.get_secret_value() == DEVELOPMENT_SECRET:
                raise ValueError("CUTOUT_API_KEY_SECRET must be set in production")
            if self.s3_create_bucket:
                raise ValueError("CUTOUT_S3_CREATE_BUCKET is a development convenience")
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
