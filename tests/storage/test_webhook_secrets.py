"""Webhook secrets: created on first use, rotated with a grace period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage import webhook_secrets
from storage.db import transaction


def test_first_use_creates_exactly_one_secret(sessions, make_tenant):
    tenant = make_tenant()
    with transaction(sessions) as session:
        [first] = webhook_secrets.active(session, tenant.id)
    with transaction(sessions) as session:
        assert [row.secret for row in webhook_secrets.active(session, tenant.id)] == [first.secret]
    assert first.secret.startswith("whsec_")
    assert first.expires_at is None


def test_rotation_keeps_the_old_secret_signing_during_the_grace_period(sessions, make_tenant):
    tenant = make_tenant()
    with transaction(sessions) as session:
        [old] = webhook_secrets.active(session, tenant.id)
    with transaction(sessions) as session:
        rows = webhook_secrets.rotate(session, tenant.id, timedelta(hours=24))
    assert len(rows) == 2
    new, previous = rows
    assert previous.secret == old.secret
    assert new.secret != old.secret
    assert new.expires_at is None
    expected = datetime.now(UTC) + timedelta(hours=24)
    assert abs((previous.expires_at - expected).total_seconds()) < 60

    # A rotation without grace retires every older secret at once.
    with transaction(sessions) as session:
        rows = webhook_secrets.rotate(session, tenant.id, timedelta(0))
    assert len(rows) == 1
    assert rows[0].secret not in (old.secret, new.secret)
