"""Per-tenant ``whsec_`` secrets that sign webhooks, rotated without downtime.

A rotation adds a new secret and gives the previous ones an expiry (the grace period, 24 h by
default) instead of deleting them. Until then every delivery carries one signature per active
secret in ``webhook-signature``, so a receiver still verifying with the old secret keeps
accepting events while it switches to the new one.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from datetime import timedelta

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.orm import Session

from storage.models import Tenant, WebhookSecret

PREFIX = "whsec_"
SECRET_BYTES = 32  # 256 bits, well within the spec's 24..64-byte range


def generate() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _active_query(tenant_id: uuid.UUID):
    return (
        select(WebhookSecret)
        .where(
            WebhookSecret.tenant_id == tenant_id,
            or_(WebhookSecret.expires_at.is_(None), WebhookSecret.expires_at > func.now()),
        )
        .order_by(WebhookSecret.created_at.desc(), WebhookSecret.id.desc())
    )


def _lock_tenant(session: Session, tenant_id: uuid.UUID) -> None:
    """Serialise secret changes per tenant, so two first uses cannot create two secrets."""
    session.execute(select(Tenant.id).where(Tenant.id == tenant_id).with_for_update())


def active(session: Session, tenant_id: uuid.UUID) -> list[WebhookSecret]:
    """The tenant's signing secrets, newest first; creates the first one on first use."""
    found = list(session.scalars(_active_query(tenant_id)))
    if found:
        return found
    _lock_tenant(session, tenant_id)
    found = list(session.scalars(_active_query(tenant_id)))
    if not found:
        session.execute(insert(WebhookSecret).values(tenant_id=tenant_id, secret=generate()))
        found = list(session.scalars(_active_query(tenant_id)))
    return found


def rotate(session: Session, tenant_id: uuid.UUID, grace: timedelta) -> list[WebhookSecret]:
    """Add a new secret; the active ones expire after ``grace``. Returns the active secrets."""
    _lock_tenant(session, tenant_id)
    session.execute(
        update(WebhookSecret)
        .where(
            WebhookSecret.tenant_id == tenant_id,
            or_(
                WebhookSecret.expires_at.is_(None),
                WebhookSecret.expires_at > func.now() + grace,
            ),
        )
        .values(expires_at=func.now() + grace)
    )
    session.execute(insert(WebhookSecret).values(tenant_id=tenant_id, secret=generate()))
    return list(session.scalars(_active_query(tenant_id).execution_options(populate_existing=True)))
