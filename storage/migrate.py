"""Run the Alembic migrations from code (CLI, ``make up`` and the test suite)."""

from __future__ import annotations

from importlib.resources import files

from alembic import command
from alembic.config import Config

from storage.db import make_engine
from storage.settings import Settings


def upgrade(settings: Settings, revision: str = "head") -> None:
    config = Config()
    config.set_main_option("script_location", str(files("migrations")))
    engine = make_engine(settings)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()
