"""Verifying the Standard Webhooks signatures Cutout puts on its webhook calls.

A thin wrapper over the ``standardwebhooks`` reference library: it checks the HMAC-SHA256
signature over ``webhook-id.webhook-timestamp.body`` with your ``whsec_`` secret, refuses
timestamps more than five minutes away (replays), and accepts any of several signatures, so a
secret can be rotated without downtime.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

__all__ = ["WebhookVerificationError", "verify_webhook"]


def verify_webhook(
    secret: str | list[str], body: bytes | str, headers: Mapping[str, str]
) -> dict[str, Any]:
    """The event, parsed, if one of ``secret`` signed ``body``; else ``WebhookVerificationError``.

    Pass the raw request body (not re-serialised JSON) and the request's headers. During a
    rotation pass both secrets: the event is accepted when either signed it.
    """
    secrets = [secret] if isinstance(secret, str) else list(secret)
    payload = body.decode() if isinstance(body, bytes) else body
    plain = {name.lower(): value for name, value in headers.items()}
    last: WebhookVerificationError | None = None
    for candidate in secrets:
        try:
            return Webhook(candidate).verify(payload, plain)
        except WebhookVerificationError as error:
            last = error
    raise last or WebhookVerificationError("No secret given")
