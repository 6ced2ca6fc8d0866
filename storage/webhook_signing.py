"""Standard Webhooks headers, signed with the reference library (``standardwebhooks``).

``webhook-signature`` holds one ``v1,<base64 HMAC-SHA256>`` per active secret, space separated:
receivers accept a message when any one matches, which is what makes rotation seamless.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook


def signed_headers(
    secrets: Sequence[str], msg_id: str, timestamp: datetime, body: str
) -> dict[str, str]:
    if not secrets:
        raise ValueError("at least one secret signs a webhook")
    at = timestamp.astimezone(UTC)
    signatures = " ".join(Webhook(secret).sign(msg_id, at, body) for secret in secrets)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signatures,
        "content-type": "application/json",
    }
