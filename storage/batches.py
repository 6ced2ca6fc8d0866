"""Batches: many jobs submitted in one request and charged all or nothing.

The batch row, its jobs and their debits are written in one transaction: when the balance cannot
pay for every item, :class:`storage.ledger.InsufficientCredits` rolls all of it back.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from storage import jobs
from storage.models import Batch, Job


def create_and_debit(
    session: Session,
    batch_id: uuid.UUID,
    tenant_id: uuid.UUID,
    items: Sequence[jobs.NewJob],
    request_id: str | None,
) -> int:
    """Record the batch and each item's job and debit; returns the new balance."""
    session.execute(
        insert(Batch).values(
            id=batch_id, tenant_id=tenant_id, item_count=len(items), request_id=request_id
        )
    )
    balance = 0
    for item in items:
        balance = jobs.create_and_debit(session, item)
    return balance


def get_for_tenant(session: Session, batch_id: uuid.UUID, tenant_id: uuid.UUID) -> Batch | None:
    return session.scalar(select(Batch).where(Batch.id == batch_id, Batch.tenant_id == tenant_id))


def jobs_of(session: Session, batch_id: uuid.UUID) -> list[Job]:
    return list(
        session.scalars(
            select(Job)
            .where(Job.batch_id == batch_id)
            .order_by(Job.batch_index)
            .execution_options(populate_existing=True)
        )
    )
