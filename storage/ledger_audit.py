"""Reading the ledger back: per-day usage, and the proof that balances match their entries.

``credit_accounts.balance`` is a cached sum kept for the conditional debit; the entries are the
truth. :func:`reconcile` recomputes every tenant's sum in one query and lists the accounts that
disagree, which can only happen if someone wrote to the table behind the ledger's back.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Date, case, cast, func, select
from sqlalchemy.orm import Session

from storage.models import CreditAccount, EntryKind, LedgerEntry, Tenant


@dataclass(frozen=True, slots=True)
class Mismatch:
    tenant_id: uuid.UUID
    name: str
    balance: int
    entries_total: int


@dataclass(frozen=True, slots=True)
class DayUsage:
    day: date
    jobs: int
    debited: int
    refunded: int


def reconcile(session: Session) -> tuple[int, list[Mismatch]]:
    """How many accounts were checked, and those whose balance is not the sum of entries."""
    totals = (
        select(LedgerEntry.tenant_id, func.sum(LedgerEntry.amount).label("total"))
        .group_by(LedgerEntry.tenant_id)
        .subquery()
    )
    total = func.coalesce(totals.c.total, 0)
    rows = session.execute(
        select(Tenant.id, Tenant.name, CreditAccount.balance, total)
        .join(CreditAccount, CreditAccount.tenant_id == Tenant.id)
        .outerjoin(totals, totals.c.tenant_id == Tenant.id)
        .order_by(Tenant.name)
    ).all()
    mismatches = [
        Mismatch(tenant_id, name, balance, int(entries))
        for tenant_id, name, balance, entries in rows
        if balance != entries
    ]
    return len(rows), mismatches


def usage_per_day(session: Session, tenant_id: uuid.UUID, days: int = 30) -> list[DayUsage]:
    """Jobs charged, credits debited and credits refunded, per UTC day, newest first."""
    day = cast(func.timezone("UTC", LedgerEntry.created_at), Date).label("day")

    def sum_of(kind: EntryKind):
        return func.coalesce(
            func.sum(case((LedgerEntry.kind == kind, func.abs(LedgerEntry.amount)), else_=0)), 0
        )

    rows = session.execute(
        select(
            day,
            func.count().filter(LedgerEntry.kind == EntryKind.DEBIT),
            sum_of(EntryKind.DEBIT),
            sum_of(EntryKind.REFUND),
        )
        .where(
            LedgerEntry.tenant_id == tenant_id,
            LedgerEntry.kind.in_([EntryKind.DEBIT, EntryKind.REFUND]),
            LedgerEntry.created_at >= func.now() - func.make_interval(0, 0, 0, days),
        )
        .group_by(day)
        .order_by(day.desc())
    )
    return [
        DayUsage(d, int(jobs), int(debited), int(refunded)) for d, jobs, debited, refunded in rows
    ]
