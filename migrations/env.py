"""Alembic environment: runs migrations over the synchronous (psycopg) engine.

The URL comes from ``CUTOUT_DATABASE_URL`` unless the caller put a connection in
``config.attributes["connection"]`` (as :func:`storage.migrate.upgrade` does).
"""

from alembic import context
from sqlalchemy import Connection

from storage.db import make_engine
from storage.models import Base
from storage.settings import get_settings

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = make_engine(get_settings())
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()
