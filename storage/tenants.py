"""Tenants and their plans (rate limit, burst, concurrent jobs)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage import ledger
from storage.models import Tenant


@dataclass(frozen=True, slots=True)
class Plan:
    rate_limit_per_minute: int
    rate_limit_burst: int
    max_concurrent_jobs: int


def create_tenant(session: Session, name: str, plan: Plan) -> uuid.UUID:
    tenant = Tenant(
        name=name,
        rate_limit_per_minute=plan.rate_limit_per_minute,
        rate_limit_burst=plan.rate_limit_burst,
        max_concurrent_jobs=plan.max_concurrent_jobs,
    )
    session.add(tenant)
    session.flush()
    ledger.open_account(session, tenant.id)
    return tenant.id


def find_tenant(session: Session, name_or_id: str) -> Tenant | None:
    """Operators name tenants either way on the command line."""
    try:
        tenant_id = uuid.UUID(name_or_id)
    except ValueError:
        return session.scalar(select(Tenant).where(Tenant.name == name_or_id))
    return session.get(Tenant, tenant_id)
