"""A consistent copy of a running node's SQLite database, and what a backup records of it."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from sqlalchemy.engine import make_url

from parley.errors import Conflict, StoreUnavailable

__all__ = ["copy_revision", "copy_sqlite", "own_heads", "sqlite_path"]


def sqlite_path(url: str) -> Path:
    """The file of a SQLite database URL; Conflict for any other database, whose own tools
    (pg_dump, a base backup) take its backups."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        raise Conflict(
            f"'parley backup' copies a SQLite database only; this node uses "
            f"{parsed.get_backend_name()}: back it up with pg_dump or a base backup "
            "(docs/operations.md)"
        )
    return Path(str(parsed.database))


def copy_sqlite(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` with SQLite's online backup API: one consistent snapshot,
    taken beside the node's writer (WAL readers do not block it), whatever is committed
    meanwhile. Copying the file itself while the node runs could tear a transaction."""
    if not source.is_file():
        raise Conflict(f"{source} does not exist: no database to back up")
    try:
        with (
            closing(sqlite3.connect(source, timeout=30)) as src,
            closing(sqlite3.connect(target)) as dst,
        ):
            # One step (-1): pages are never copied from two states of the database.
            src.backup(dst, pages=-1)
            dst.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
    except sqlite3.Error as exc:
        raise StoreUnavailable(f"could not copy {source}: {exc}") from exc


def copy_revision(database: Path) -> str:
    """The Alembic revision of a database copy, read through a read-only connection: an
    engine would set its pragmas (WAL) on the copy before it is archived."""
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        row = db.execute("SELECT version_num FROM alembic_version").fetchone()
    return str(row[0]) if row else ""


def own_heads(database: Path, party: str) -> dict[str, int]:
    """Per channel, the highest seq ``party`` signed, as a database copy holds it."""
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        rows = db.execute(
            "SELECT channel, MAX(seq) FROM events WHERE author = ? GROUP BY channel ORDER BY 1",
            (party,),
        ).fetchall()
    return {str(channel): int(seq) for channel, seq in rows}
