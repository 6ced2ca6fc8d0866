"""Notices that make every API process forget what it cached about a key or a tenant.

API processes keep authenticated keys in memory for a few seconds (``api/key_cache.py``) so
that a request costs no database round trip to authenticate. Whoever revokes a key or changes
a tenant's plan publishes a notice here, after the change has committed; every API process is
subscribed and evicts at once. A notice that cannot be published (Redis down) or is missed (a
subscriber reconnecting) only delays the change to the cache's TTL,
``CUTOUT_API_KEY_CACHE_SECONDS``: that is the documented bound.
"""

from __future__ import annotations

import logging
import uuid

import redis
from redis.exceptions import RedisError

from storage.settings import Settings

log = logging.getLogger(__name__)

KEY = "key"
TENANT = "tenant"


def channel(settings: Settings) -> str:
    return f"{settings.redis_namespace}:api-key-notices"


def encode(kind: str, ident: uuid.UUID) -> str:
    return f"{kind}:{ident}"


def decode(message: bytes | str) -> tuple[str, uuid.UUID] | None:
    """``(kind, id)``, or None for a message this version does not understand."""
    text = message.decode() if isinstance(message, bytes) else message
    kind, _, ident = text.partition(":")
    try:
        return (kind, uuid.UUID(ident)) if kind in (KEY, TENANT) else None
    except ValueError:
        return None


def announce(settings: Settings, kind: str, ident: uuid.UUID) -> bool:
    """Publish one notice; False (and a warning) when Redis cannot take it: the TTL then bounds."""
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.publish(channel(settings), encode(kind, ident))
    except (RedisError, OSError) as error:
        log.warning(
            "could not announce %s %s to the API processes (%r); their key caches forget it"
            " within %s s",
            kind,
            ident,
            error,
            settings.api_key_cache_seconds,
        )
        return False
    finally:
        client.close()
    return True
