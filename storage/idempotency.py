"""``Idempotency-Key``: one key, one job, whatever the number of retries.

A tenant's key is remembered with a fingerprint of the request body it first came with and,
once the job is accepted, the job it created; the job row then answers every retry. The row is
written in its own short transaction *before* any work, so of many concurrent requests with one
key exactly one proceeds; the job is attached in the same transaction as the debit, so a key can
never point at an uncharged job or a charged job be left without its key.

Following Stripe's semantics, a request refused before its job was accepted (bad input, no
credits) releases the key, so a corrected retry can use it; a lock left by a process that died
before accepting lapses after ``lock``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from storage.models import IdempotencyKey

MAX_KEY_LENGTH = 255


class Claim(StrEnum):
    STARTED = "started"  # this request owns the key: do the work
    IN_FLIGHT = "in_flight"  # another request with this key is still being accepted or run
    MISMATCH = "mismatch"  # the key was used with a different body
    REPLAY = "replay"  # the key already made a job: answer from it


@dataclass(frozen=True, slots=True)
class Begun:
    claim: Claim
    job_id: uuid.UUID | None = None


def begin(
    session: Session,
    tenant_id: uuid.UUID,
    key: str,
    request_hash: bytes,
    *,
    ttl: timedelta,
    lock: timedelta,
) -> Begun:
    """Claim ``key`` for this request, or say why not. Commit right after, before any work."""
    now = func.now()
    stale = (IdempotencyKey.created_at < now - ttl) | (
        IdempotencyKey.job_id.is_(None) & (IdempotencyKey.locked_until < now)
    )
    fresh = insert(IdempotencyKey).values(
        tenant_id=tenant_id, key=key, request_hash=request_hash, locked_until=now + lock
    )
    claimed = session.scalar(
        fresh.on_conflict_do_update(
            index_elements=[IdempotencyKey.tenant_id, IdempotencyKey.key],
            set_={
                "request_hash": fresh.excluded.request_hash,
                "job_id": None,
                "created_at": now,
                "locked_until": fresh.excluded.locked_until,
            },
            where=stale,
        ).returning(IdempotencyKey.key)
    )
    if claimed is not None:
        return Begun(Claim.STARTED)
    stored_hash, job_id = session.execute(
        select(IdempotencyKey.request_hash, IdempotencyKey.job_id).where(
            IdempotencyKey.tenant_id == tenant_id, IdempotencyKey.key == key
        )
    ).one()
    if stored_hash != request_hash:
        return Begun(Claim.MISMATCH, job_id)
    if job_id is None:
        return Begun(Claim.IN_FLIGHT)
    return Begun(Claim.REPLAY, job_id)


def attach(session: Session, tenant_id: uuid.UUID, key: str, job_id: uuid.UUID) -> None:
    """Record the job the key created; call in the transaction that charged it."""
    result = session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.tenant_id == tenant_id, IdempotencyKey.key == key)
        .values(job_id=job_id, locked_until=None)
    )
    if result.rowcount != 1:
        raise LookupError(f"idempotency key {key!r} is not held by this request")


def release(session: Session, tenant_id: uuid.UUID, key: str) -> None:
    """Forget a key whose request was refused before a job existed."""
    session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.tenant_id == tenant_id,
            IdempotencyKey.key == key,
            IdempotencyKey.job_id.is_(None),
        )
    )


def purge_expired(session: Session, ttl: timedelta) -> int:
    result = session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.created_at < func.now() - ttl)
    )
    return result.rowcount
