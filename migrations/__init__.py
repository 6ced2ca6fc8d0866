"""Alembic migrations: the only way the schema is created, in development, tests and production."""
