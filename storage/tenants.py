"""Tenants and their plans (rate limit, burst, concurrent jobs)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from storage import ledger
from storage.models import ApiKey, CreditAccount, Tenant


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


@dataclass(frozen=True, slots=True)
class TenantSummary:
    id: uuid.UUID
    name: str
    plan: Plan
    balance: int
    active_keys: int


def list_tenants(session: Session) -> list[TenantSummary]:
    active_keys = (
        select(func.count(ApiKey.id))
        .where(ApiKey.tenant_id == Tenant.id, ApiKey.revoked_at.is_(None))
        .scalar_subquery()
    )
    rows = session.execute(
        select(
            Tenant.id,
            Tenant.name,
            Tenant.rate_limit_per_minute,
            Tenant.rate_limit_burst,
            Tenant.max_concurrent_jobs,
            CreditAccount.balance,
            active_keys,
        )
        .join(CreditAccount, CreditAccount.tenant_id == Tenant.id)
        .order_by(Tenant.created_at)
    )
    return [
        TenantSummary(tenant_id, name, Plan(per_minute, burst, concurrency), balance, keys)
        for tenant_id, name, per_minute, burst, concurrency, balance, keys in rows
    ]


def set_plan(
    session: Session,
    tenant_id: uuid.UUID,
    *,
    rate_limit_per_minute: int | None = None,
    rate_limit_burst: int | None = None,
    max_concurrent_jobs: int | None = None,
) -> Plan:
    """Change some of a tenant's limits; the API reads them on the next request."""
    changes = {
        name: value
        for name, value in (
            ("rate_limit_per_minute", rate_limit_per_minute),
            ("rate_limit_burst", rate_limit_burst),
            ("max_concurrent_jobs", max_concurrent_jobs),
        )
        if value is not None
    }
    if not changes:
        raise ValueError("set at least one limit")
    row = session.execute(
        update(Tenant)
        .where(Tenant.id == tenant_id)
        .values(**changes)
        .returning(
            Tenant.rate_limit_per_minute, Tenant.rate_limit_burst, Tenant.max_concurrent_jobs
        )
    ).one()
    return Plan(*row)
