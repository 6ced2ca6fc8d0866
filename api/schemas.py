"""Response and documentation schemas: what OpenAPI shows for ``/v1/remove-background``."""

from __future__ import annotations

from pydantic import BaseModel, Field

from api.remove_request import ShadowParameter
from storage.error_codes import ErrorCode


class ResultUrl(BaseModel):
    result_url: str = Field(
        description="A URL to access the resultant image, valid for 1 hour. The file is a PNG.",
        examples=["https://s3.example.com/cutout/results/3f1c.../a166.png?X-Amz-Expires=3600&..."],
    )


class ErrorBody(BaseModel):
    error: str = Field(description="A description of the error.")
    error_code: ErrorCode = Field(description="A code to handle the error programmatically.")


class JsonBody(BaseModel):
    """``application/json``: the image is fetched from ``image_url``."""

    image_url: str = Field(description="URL of the image to be processed.")
    format: str = Field("png", description="The format of the result. Only png is supported.")
    shadow: bool | ShadowParameter | None = Field(
        None,
        description=(
            "Enable and configure AI-generated shadow (+3 credits). true estimates the light"
            " from the photo; an object with light_source sets it by hand."
        ),
    )
    model: str | None = Field(
        None,
        description="Extension: segmentation model by name (default: the server's).",
    )


class MultipartBody(BaseModel):
    """``multipart/form-data``: the image is uploaded, or fetched from ``image_url``."""

    image: bytes | None = Field(
        None,
        json_schema_extra={"format": "binary"},
        description="The image file; wins over image_url when both are sent.",
    )
    image_url: str | None = Field(None, description="URL of the image to be processed.")
    format: str = Field("png", description="Only png is supported.")
    shadow: str | None = Field(
        None, description="true, false, or the ShadowParameter object as JSON text."
    )
    model: str | None = Field(None, description="Extension: segmentation model by name.")


def error_example(code: ErrorCode, message: str) -> dict[str, object]:
    return {"summary": code.value, "value": {"error": message, "error_code": code.value}}


# --- Asynchronous jobs, batches and webhooks (extensions beyond the seed contract).


class JobAccepted(BaseModel):
    job_id: str
    status: str = Field(description="`queued` at first.")
    status_url: str = Field(description="Where GET /v1/jobs/{id} answers for this job.")


class WebhookAttemptBody(BaseModel):
    attempt: int
    started_at: str
    duration_ms: int | None = Field(description="None while in flight, or if its sender died.")
    status_code: int | None
    error: str | None
    interrupted: bool


class WebhookBody(BaseModel):
    webhook_id: str | None = Field(description="The `webhook-id` header of every attempt.")
    url: str
    status: str = Field(description="waiting, pending, delivered, failed or disabled.")
    next_attempt_at: str | None = None
    attempts: list[WebhookAttemptBody]


class JobStatusBody(BaseModel):
    job_id: str
    status: str = Field(description="queued, running, succeeded or failed.")
    batch_id: str | None
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    credits_charged: int
    credits_refunded: int = Field(description="A failed job's debit, returned.")
    error_code: ErrorCode | None
    error: str | None
    status_url: str
    expired: bool = Field(description="The input and result were deleted (retention).")
    result_url: str | None = Field(None, description="On success: a fresh URL valid 1 h.")
    webhook: WebhookBody | None


class BatchAccepted(BaseModel):
    batch_id: str
    status_url: str
    job_ids: list[str] = Field(description="One job per item, in the items' order.")


class BatchBody(BaseModel):
    batch_id: str
    created_at: str
    total: int
    counts: dict[str, int] = Field(description="Jobs per status.")
    done: bool = Field(description="Every job succeeded or failed (and was refunded).")
    credits_charged: int
    credits_refunded: int
    jobs: list[JobStatusBody]


class WebhookSecretBody(BaseModel):
    secret: str = Field(description="`whsec_` + base64; verify with any Standard Webhooks library.")
    created_at: str
    expires_at: str | None = Field(description="Set once a rotation replaced it.")


class WebhookSecrets(BaseModel):
    secrets: list[WebhookSecretBody] = Field(description="Active secrets, newest first.")
