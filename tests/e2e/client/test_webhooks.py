"""Webhook signatures: what the SDK accepts is what the Standard Webhooks reference signs."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time

import pytest
from standardwebhooks.webhooks import Webhook

from cutout_client import WebhookVerificationError, verify_webhook

SECRET = "whsec_" + base64.b64encode(b"a" * 32).decode()
NEW_SECRET = "whsec_" + base64.b64encode(b"b" * 32).decode()
EVENT = {"type": "job.succeeded", "data": {"job_id": "j1", "result_url": "https://x/y.png"}}


def _signed(secret: str, body: str, at: float | None = None) -> dict[str, str]:
    when = dt.datetime.fromtimestamp(at or time.time(), tz=dt.UTC)
    return {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": Webhook(secret).sign("msg_1", when, body),
    }


def test_a_signed_event_is_verified_and_parsed():
    body = json.dumps(EVENT)
    assert verify_webhook(SECRET, body.encode(), _signed(SECRET, body)) == EVENT


def test_headers_are_matched_whatever_their_case():
    body = json.dumps(EVENT)
    headers = {name.title(): value for name, value in _signed(SECRET, body).items()}
    assert verify_webhook(SECRET, body, headers) == EVENT


def test_a_tampered_body_a_wrong_secret_and_an_old_timestamp_are_refused():
    body = json.dumps(EVENT)
    headers = _signed(SECRET, body)
    with pytest.raises(WebhookVerificationError):
        verify_webhook(SECRET, body.replace("j1", "j2"), headers)
    with pytest.raises(WebhookVerificationError):
        verify_webhook(NEW_SECRET, body, headers)
    with pytest.raises(WebhookVerificationError):
        verify_webhook(SECRET, body, _signed(SECRET, body, at=time.time() - 3600))


def test_during_a_rotation_either_secret_is_accepted():
    body = json.dumps(EVENT)
    assert verify_webhook([NEW_SECRET, SECRET], body, _signed(SECRET, body)) == EVENT
    assert verify_webhook([NEW_SECRET, SECRET], body, _signed(NEW_SECRET, body)) == EVENT
