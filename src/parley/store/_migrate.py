from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.resources import files
from typing import TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from parley.errors import StoreUnavailable

from ._engine import make_engine

__all__ = [
    "SchemaRevision",
    "alembic_config",
    "migrate",
    "schema_current",
    "schema_revision",
    "upgrade",
]

T = TypeVar("T")


@dataclass(frozen=True)
class SchemaRevision:
    """Where a database's schema stands: its migration (None: an empty database) and the
    newest one this version of Parley brings."""

    current: str | None
    head: str

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


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


def schema_revision(url: str) -> SchemaRevision:
    """The database's migration, read without changing anything."""
    return _on_engine(url, _revision)


def migrate(url: str) -> SchemaRevision:
    """Apply the migrations the database lacks, for an administrator who runs them by hand."""

    def upgraded(engine: Engine) -> SchemaRevision:
        upgrade(engine)
        return _revision(engine)

    return _on_engine(url, upgraded)


def schema_current(engine: Engine) -> bool:
    """Whether the database is at the newest migration this code knows."""
    return _revision(engine).up_to_date


def _revision(engine: Engine) -> SchemaRevision:
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    return SchemaRevision(current, _head() or "")


@functools.cache
def _head() -> str | None:
    """The newest migration: read once, the files do not change under a running node."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _on_engine(url: str, action: Callable[[Engine], T]) -> T:
    with _engine(url) as engine:
        try:
            return action(engine)
        except SQLAlchemyError as exc:  # a database that does not answer, or refuses
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            raise StoreUnavailable(f"cannot open the store: {reason}") from exc


@contextmanager
def _engine(url: str) -> Iterator[Engine]:
    try:
        engine = make_engine(url)
    except SQLAlchemyError as exc:  # a malformed URL
        raise StoreUnavailable(f"cannot open the store: {exc}") from exc
    try:
        yield engine
    finally:
        engine.dispose()
