"""Engines and sessions for Postgres.

One URL in the settings names the database; the driver is chosen per side: psycopg for the
synchronous worker and CLI, asyncpg for the API's event loop. Storage functions are written once,
against a synchronous :class:`~sqlalchemy.orm.Session`; the API runs them on its async session
with ``AsyncSession.run_sync`` so both sides share the same SQL.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, sessionmaker

from storage.settings import Settings


def database_url(settings: Settings, driver: str) -> URL:
    """The configured database URL with its driver replaced (``psycopg`` or ``asyncpg``)."""
    return make_url(settings.database_url).set(drivername=f"postgresql+{driver}")


def make_engine(settings: Settings) -> Engine:
    return create_engine(
        database_url(settings, "psycopg"),
        pool_size=settings.database_pool_size,
        pool_pre_ping=True,
        connect_args={"connect_timeout": max(1, round(settings.database_connect_timeout_seconds))},
    )


# A pooled connection idle longer than this is pinged before use (see make_async_engine).
IDLE_PING_SECONDS = 2.0


def make_async_engine(settings: Settings) -> AsyncEngine:
    """The API's engine: checks connections at checkout without a round trip per request.

    ``pool_pre_ping`` would cost a round trip on every checkout, i.e. on every request. Instead
    a connection is refused at checkout when asyncpg already knows it is closed (Postgres
    restarted and said so), and pinged only when it sat idle for ``IDLE_PING_SECONDS``, when a
    silent drop is likeliest; a refused connection is replaced by a fresh one. What slips past
    (a connection dropped silently while in busy use) fails its statement; SQLAlchemy then
    recycles the whole pool, and that one request gets a retryable 503.
    """
    engine = create_async_engine(
        database_url(settings, "asyncpg"),
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_size,
        connect_args={"timeout": settings.database_connect_timeout_seconds},
    )
    event.listen(engine.sync_engine, "checkin", _note_idle)
    event.listen(engine.sync_engine, "checkout", _refuse_dead)
    return engine


def _note_idle(dbapi_connection: Any, record: Any) -> None:
    record.info["idle_since"] = time.monotonic()


def _refuse_dead(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """Pool ``checkout`` hook: DisconnectionError makes the pool retry with a new connection."""
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("connection closed by the server")
    idle_since = record.info.pop("idle_since", None)
    if idle_since is not None and time.monotonic() - idle_since > IDLE_PING_SECONDS:
        try:
            dbapi_connection.ping()
        except Exception as error:
            raise DisconnectionError("idle connection did not answer a ping") from error


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def make_async_sessionmaker(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)


def make_single_statement_sessionmaker(engine: AsyncEngine) -> async_sessionmaker:
    """Sessions whose every statement commits on its own (``AUTOCOMMIT``), for writes that are
    one statement: no ``BEGIN`` and ``COMMIT`` round trips around it.

    Why it matters: charging a job updates the tenant's balance row, and Postgres holds that
    row's lock until the transaction commits. With an explicit transaction the lock lasted
    until the API process got round to sending ``COMMIT``, after the statement's reply crossed
    the socket and waited its turn in a busy event loop; every concurrent job of the tenant
    queued behind it. As one autocommitted statement the lock ends with Postgres's own commit.
    """
    return async_sessionmaker(
        engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False
    )


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit when the block succeeds, roll back when it raises."""
    with factory() as session, session.begin():
        yield session
