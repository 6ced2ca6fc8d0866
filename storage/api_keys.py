"""API keys: generation, checksum, keyed hashing and lookup.

A key looks like ``cut_<32 base62 chars><6 base62 checksum chars>``. The prefix makes a leaked key
recognizable to secret scanners; the CRC32 checksum lets the API refuse a mistyped key without a
database round trip. Only ``HMAC-SHA256(server secret, key)`` is stored, so a database dump does
not reveal usable keys.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
import zlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import DateTime, func, literal, select, update
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Session

from storage.models import ApiKey, Tenant

PREFIX = "cut_"
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BODY_LENGTH = 32
_CHECKSUM_LENGTH = 6
KEY_LENGTH = len(PREFIX) + _BODY_LENGTH + _CHECKSUM_LENGTH


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        digits.append(_ALPHABET[digit])
    return "".join(reversed(digits))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), _CHECKSUM_LENGTH)


def generate_key() -> str:
    body = "".join(secrets.choice(_ALPHABET) for _ in range(_BODY_LENGTH))
    return f"{PREFIX}{body}{_checksum(body)}"


def is_well_formed(key: str) -> bool:
    """Prefix, length, alphabet and checksum are right: worth a database lookup."""
    if len(key) != KEY_LENGTH or not key.startswith(PREFIX):
        return False
    body, checksum = key[len(PREFIX) : -_CHECKSUM_LENGTH], key[-_CHECKSUM_LENGTH:]
    if any(char not in _ALPHABET for char in body):
        return False
    return hmac.compare_digest(checksum, _checksum(body))


def hash_key(key: str, secret: str) -> bytes:
    return hmac.new(secret.encode(), key.encode(), hashlib.sha256).digest()


def display_prefix(key: str) -> str:
    """Enough of a key for an operator to tell keys apart in listings; never enough to use it."""
    return key[: len(PREFIX) + 6]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is making a request: the tenant, its plan and the key they used.

    No balance: API processes cache callers for a few seconds (``api/key_cache.py``), and a
    balance changes with every job, so it is read where it is needed.
    """

    tenant_id: uuid.UUID
    api_key_id: uuid.UUID
    rate_limit_per_minute: int
    rate_limit_burst: int
    max_concurrent_jobs: int


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What an operator sees of a key: never the key itself."""

    id: uuid.UUID
    name: str
    display_prefix: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


def create_key(session: Session, tenant_id: uuid.UUID, secret: str, name: str = "default") -> str:
    """Store a new key for the tenant and return it: the only time the plaintext exists."""
    key = generate_key()
    session.add(
        ApiKey(
            tenant_id=tenant_id,
            name=name,
            display_prefix=display_prefix(key),
            key_hash=hash_key(key, secret),
        )
    )
    session.flush()
    return key


def find_caller(session: Session, key: str, secret: str) -> Caller | None:
    """The caller behind a presented key, or None when it is unknown or revoked."""
    if not is_well_formed(key):
        return None
    return find_caller_by_hash(session, hash_key(key, secret))


def find_caller_by_hash(session: Session, key_hash: bytes) -> Caller | None:
    """As :func:`find_caller`, for a key already checked and hashed (the API caches by hash)."""
    row = session.execute(
        select(
            ApiKey.id,
            Tenant.id,
            Tenant.rate_limit_per_minute,
            Tenant.rate_limit_burst,
            Tenant.max_concurrent_jobs,
        )
        .join(Tenant, Tenant.id == ApiKey.tenant_id)
        .where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
    ).one_or_none()
    if row is None:
        return None
    key_id, tenant_id, per_minute, burst, concurrency = row
    return Caller(tenant_id, key_id, per_minute, burst, concurrency)


def revoke_key(session: Session, key_id: uuid.UUID) -> bool:
    """Revoke a key. API processes that cached it forget it when told
    (:func:`storage.key_notices.announce`), or at the latest after their cache's TTL."""
    result = session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )
    return result.rowcount == 1


def list_keys(session: Session, tenant_id: uuid.UUID) -> list[KeyInfo]:
    rows = session.execute(
        select(
            ApiKey.id,
            ApiKey.name,
            ApiKey.display_prefix,
            ApiKey.created_at,
            ApiKey.revoked_at,
            ApiKey.last_used_at,
        )
        .where(ApiKey.tenant_id == tenant_id)
        .order_by(ApiKey.created_at)
    )
    return [KeyInfo(*row) for row in rows]


def find_key_id(session: Session, tenant_id: uuid.UUID, id_or_prefix: str) -> uuid.UUID | None:
    """Operators name a key by its id or by the display prefix that listings show."""
    try:
        return session.scalar(
            select(ApiKey.id).where(
                ApiKey.tenant_id == tenant_id, ApiKey.id == uuid.UUID(id_or_prefix)
            )
        )
    except ValueError:
        matches = session.scalars(
            select(ApiKey.id).where(
                ApiKey.tenant_id == tenant_id, ApiKey.display_prefix == id_or_prefix
            )
        ).all()
        return matches[0] if len(matches) == 1 else None


def record_last_used(session: Session, used: dict[uuid.UUID, datetime]) -> int:
    """Write many keys' last use in one statement (the API batches them off the hot path)."""
    if not used:
        return 0
    values = (
        select(
            func.unnest(literal(list(used), ARRAY(UUID(as_uuid=True)))).label("id"),
            func.unnest(literal(list(used.values()), ARRAY(DateTime(timezone=True)))).label("at"),
        )
    ).subquery("used")
    result = session.execute(
        update(ApiKey)
        .where(ApiKey.id == values.c.id)
        .where(func.coalesce(ApiKey.last_used_at, values.c.at) <= values.c.at)
        .values(last_used_at=values.c.at)
    )
    return result.rowcount
