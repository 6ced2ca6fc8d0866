"""Cutout's Python SDK: ``Cutout`` (sync) and ``AsyncCutout`` (asyncio) on httpx.

It speaks only HTTP and imports nothing of the server, so it can be used on any machine::

    from cutout_client import Cutout, Shadow

    with Cutout(api_key="ck_...", base_url="http://127.0.0.1:8000") as client:
        client.remove_background("shoe.jpg", shadow=Shadow(opacity=0.6)).save("shoe.png")
"""

from cutout_client.async_client import AsyncCutout
from cutout_client.client import Cutout
from cutout_client.errors import *  # noqa: F403 (the exception classes are the public API)
from cutout_client.errors import ERROR_CLASSES, CutoutError, JobFailed
from cutout_client.models import (
    Batch,
    BatchAccepted,
    BatchItem,
    Job,
    JobAccepted,
    Light,
    RemovalResult,
    Shadow,
)
from cutout_client.retries import RetryPolicy
from cutout_client.webhooks import WebhookVerificationError, verify_webhook

__all__ = [
    "ERROR_CLASSES",
    "AsyncCutout",
    "Batch",
    "BatchAccepted",
    "BatchItem",
    "Cutout",
    "CutoutError",
    "Job",
    "JobAccepted",
    "JobFailed",
    "Light",
    "RemovalResult",
    "RetryPolicy",
    "Shadow",
    "WebhookVerificationError",
    "verify_webhook",
]
