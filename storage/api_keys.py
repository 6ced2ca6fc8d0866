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

from sqlalchemy import func, select, update
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
    """Who is making a request: the tenant, its plan, and the key they used."""

    tenant_id: uuid.UUID
    api_key_id: uuid.UUID
    rate_limit_per_minute: int
    rate_limit_burst: int
    max_concurrent_jobs: int


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
    row = session.execute(
        select(
            ApiKey.id,
            Tenant.id,
            Tenant.rate_limit_per_minute,
            Tenant.rate_limit_burst,
            Tenant.max_concurrent_jobs,
        )
        .join(Tenant, Tenant.id == ApiKey.tenant_id)
        .where(ApiKey.key_hash == hash_key(key, secret), ApiKey.revoked_at.is_(None))
    ).one_or_none()
    if row is None:
        return None
    key_id, tenant_id, per_minute, burst, concurrency = row
    return Caller(tenant_id, key_id, per_minute, burst, concurrency)


def revoke_key(session: Session, key_id: uuid.UUID) -> bool:
    """Revoke a key; the API checks revocation on every request, so it applies at once."""
    result = session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )
    return result.rowcount == 1
