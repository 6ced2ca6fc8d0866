"""Signatures are checked with the Standard Webhooks reference library, as receivers would."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from storage import webhook_secrets
from storage.webhook_signing import signed_headers


def test_each_active_secret_adds_a_signature_any_receiver_secret_verifies():
    old, new = webhook_secrets.generate(), webhook_secrets.generate()
    body = json.dumps({"type": "job.succeeded", "data": {"job_id": "x"}})
    headers = signed_headers([new, old], "msg_1", datetime.now(UTC), body)

    assert headers["webhook-id"] == "msg_1"
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert all(part.startswith("v1,") for part in headers["webhook-signature"].split(" "))
    for secret in (old, new):
        assert Webhook(secret).verify(body, headers) == json.loads(body)

    with pytest.raises(WebhookVerificationError):
        Webhook(webhook_secrets.generate()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new).verify(body.replace("succeeded", "failed"), headers)


def test_generated_secrets_have_the_whsec_prefix_and_256_bits():
    secret = webhook_secrets.generate()
    assert secret.startswith("whsec_")
    assert len(Webhook(secret)._whsecret) == 32
    assert secret != webhook_secrets.generate()
