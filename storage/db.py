"""Engines and sessions for Postgres.

One URL in the settings names the database; the driver is chosen per side: psycopg for the
synchronous worker and CLI, asyncpg for the API's event loop. Storage functions are written once,
against a synchronous :class:`~sqlalchemy.orm.Session`; the API runs them on its async session
with ``AsyncSession.run_sync`` so both sides share the same SQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL, make_url
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


def make_async_engine(settings: Settings) -> AsyncEngine:
    return create_async_engine(
        database_url(settings, "asyncpg"),
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_size,
        pool_pre_ping=True,
        connect_args={"timeout": settings.database_connect_timeout_seconds},
    )


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def make_async_sessionmaker(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit when the block succeeds, roll back when it raises."""
    with factory() as session, session.begin():
        yield session
