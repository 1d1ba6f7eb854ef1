"""The schema's migrations (Alembic), run only when the database lacks one.

Alembic and what it loads (Mako, Pygments: ~7 MiB) come in only to migrate: a node whose
database is at the newest migration finds so with one plain read of ``alembic_version`` and
the ``revision`` lines of the migration files.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.resources import files
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from parley.errors import StoreUnavailable

from ._engine import cannot_open, make_engine

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "SchemaRevision",
    "alembic_config",
    "migrate",
    "schema_current",
    "schema_revision",
    "upgrade",
]

T = TypeVar("T")

_VERSION_TABLE = "alembic_version"  # Alembic's default, which env.py keeps
_REVISION_RE = re.compile(r"""^revision\s*(?::[^=]*)?=\s*["']([^"']+)["']""", re.MULTILINE)
_DOWN_RE = re.compile(r"^down_revision\s*(?::[^=]*)?=(.*)$", re.MULTILINE)


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
    from alembic.config import Config

    config = Config(str(files("parley.store").joinpath("alembic.ini")))
    config.set_main_option("script_location", str(files("parley.store").joinpath("migrations")))
    return config


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration; safe to run on every start. A database a
    newer version of parley migrated is refused: this one cannot know what it changed."""
    current = _current(engine)
    if current == _head():
        return
    if current is not None and current not in _revisions():
        raise StoreUnavailable(
            f"the database is at migration {current}, newer than this version of parley "
            f"knows (its newest is {_head()}): run the newer version"
        )
    from alembic import command

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
    return SchemaRevision(_current(engine), _head() or "")


def _current(engine: Engine) -> str | None:
    """The database's migration as Alembic records it (None: it has run none)."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(_VERSION_TABLE):
            return None
        rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
        found = list(rows)
    if len(found) > 1:  # several branches: Alembic's own error says which
        from alembic.runtime.migration import MigrationContext

        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    return found[0] if found else None


@functools.cache
def _head() -> str | None:
    """The newest migration: read once, the files do not change under a running node."""
    return _head_of_files() or _alembic_head()


def _head_of_files() -> str | None:
    """The one revision no other migration names as its ``down_revision``, read from the
    files' text; None when that is not a single one (Alembic then decides, or refuses)."""
    found = _revisions_of_files()
    if found is None:
        return None
    revisions, below = found
    heads = revisions - below
    return heads.pop() if len(heads) == 1 else None


def _revisions() -> set[str]:
    """Every migration this version of parley has."""
    found = _revisions_of_files()
    if found is not None:
        return found[0]
    from alembic.script import ScriptDirectory

    return {s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


@functools.cache
def _revisions_of_files() -> tuple[set[str], set[str]] | None:
    """The revisions of the migration files and those they name as ``down_revision``, read
    from their text; None if a file does not say."""
    revisions: set[str] = set()
    below: set[str] = set()
    for path in files("parley.store").joinpath("migrations/versions").iterdir():
        if not path.name.endswith(".py"):
            continue
        source = path.read_text(encoding="utf-8")
        revision, down = _REVISION_RE.search(source), _DOWN_RE.search(source)
        if revision is None or down is None:
            return None
        revisions.add(revision.group(1))
        below.update(re.findall(r"""["']([^"']+)["']""", down.group(1)))
    return revisions, below


def _alembic_head() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _on_engine(url: str, action: Callable[[Engine], T]) -> T:
    with _engine(url) as engine:
        try:
            return action(engine)
        except (SQLAlchemyError, StoreUnavailable) as exc:  # it does not answer, or refuses
            raise cannot_open(exc) from exc


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
