from __future__ import annotations

import functools
from importlib.resources import files

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

__all__ = ["alembic_config", "schema_current", "upgrade"]


def alembic_config() -> Config:
    config = Config(str(files("parley.store").joinpath("alembic.ini")))
    config.set_main_option("script_location", str(files("parley.store").joinpath("migrations")))
    return config


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration; safe to run on every start."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def schema_current(engine: Engine) -> bool:
    """Whether the database is at the newest migration this code knows."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision() == _head()


@functools.cache
def _head() -> str | None:
    """The newest migration: read once, the files do not change under a running node."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
