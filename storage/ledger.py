"""The credits ledger: every movement of credits is an append-only entry.

A tenant's balance lives in ``credit_accounts`` and always equals the sum of its entries; both are
written in the same transaction. The database refuses what must never happen (a negative balance,
a second debit or refund for one job, a refund without a debit, rewriting history), so a bug in
Python cannot lose or mint money. These functions never commit: the caller's transaction does.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from storage.models import CreditAccount, EntryKind, LedgerEntry


class InsufficientCredits(Exception):
    """The balance is below the cost; nothing was written."""


def open_account(session: Session, tenant_id: uuid.UUID) -> None:
    session.execute(insert(CreditAccount).values(tenant_id=tenant_id, balance=0))


def balance(session: Session, tenant_id: uuid.UUID) -> int:
    value = session.scalar(
        select(CreditAccount.balance).where(CreditAccount.tenant_id == tenant_id)
    )
    if value is None:
        raise LookupError(f"tenant {tenant_id} has no credit account")
    return value


def _move(session: Session, tenant_id: uuid.UUID, amount: int) -> int:
    """Change the balance by ``amount`` unless that would take it below zero."""
    new_balance = session.scalar(
        update(CreditAccount)
        .where(CreditAccount.tenant_id == tenant_id, CreditAccount.balance + amount >= 0)
        .values(balance=CreditAccount.balance + amount)
        .returning(CreditAccount.balance)
    )
    if new_balance is None:
        raise InsufficientCredits(f"tenant {tenant_id} cannot pay {-amount} credits")
    return new_balance


def grant(session: Session, tenant_id: uuid.UUID, amount: int, reason: str) -> int:
    """Add credits (a purchase, a trial); returns the new balance."""
    if amount <= 0:
        raise ValueError("a grant adds a positive number of credits")
    new_balance = _move(session, tenant_id, amount)
    session.execute(
        insert(LedgerEntry).values(
            tenant_id=tenant_id, kind=EntryKind.GRANT, amount=amount, reason=reason
        )
    )
    return new_balance


def adjust(session: Session, tenant_id: uuid.UUID, amount: int, reason: str) -> int:
    """An operator's correction in either direction; never below zero."""
    if amount == 0:
        raise ValueError("an adjustment changes the balance")
    new_balance = _move(session, tenant_id, amount)
    session.execute(
        insert(LedgerEntry).values(
            tenant_id=tenant_id, kind=EntryKind.ADJUSTMENT, amount=amount, reason=reason
        )
    )
    return new_balance


def debit_job(session: Session, tenant_id: uuid.UUID, job_id: uuid.UUID, cost: int) -> int:
    """Charge a job at acceptance; raises :class:`InsufficientCredits` and writes nothing."""
    new_balance = _move(session, tenant_id, -cost)
    session.execute(
        insert(LedgerEntry).values(
            tenant_id=tenant_id, job_id=job_id, kind=EntryKind.DEBIT, amount=-cost
        )
    )
    return new_balance


def refund_job(session: Session, job_id: uuid.UUID) -> int:
    """Return a job's debit, at most once; returns the credits refunded (0 if already done)."""
    debit = select(
        LedgerEntry.tenant_id,
        LedgerEntry.job_id,
        literal(EntryKind.REFUND.value),
        -LedgerEntry.amount,
    ).where(LedgerEntry.job_id == job_id, LedgerEntry.kind == EntryKind.DEBIT)
    refund = session.execute(
        pg_insert(LedgerEntry)
        .from_select(["tenant_id", "job_id", "kind", "amount"], debit)
        .on_conflict_do_nothing(constraint="one_entry_of_each_kind_per_job")
        .returning(LedgerEntry.tenant_id, LedgerEntry.amount)
    ).one_or_none()
    if refund is None:
        return 0
    tenant_id, amount = refund
    _move(session, tenant_id, amount)
    return amount


def entries_total(session: Session, tenant_id: uuid.UUID) -> int:
    total = session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
            LedgerEntry.tenant_id == tenant_id
        )
    )
    return int(total or 0)
