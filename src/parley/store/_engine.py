from __future__ import annotations

import os
from contextlib import suppress
from typing import Any

from sqlalchemy import Engine, ExceptionContext, create_engine, event

from parley.errors import StoreUnavailable

from ._writer import first_line

__all__ = ["LEADER_LOCK", "READ_ONLY", "WRITE_LOCK", "cannot_open", "make_engine"]

# Execution option of connections that only read (see ``SqlStore``): on SQLite they begin
# DEFERRED rather than IMMEDIATE.
READ_ONLY = "parley_read_only"
# PostgreSQL advisory locks, (class, object) pairs that no other program is likely to take:
# WRITE_LOCK is held by a write transaction until it ends, LEADER_LOCK by the leader's session.
_LOCK_CLASS = 0x50524C59  # "PRLY"
WRITE_LOCK = (_LOCK_CLASS, 1)
LEADER_LOCK = (_LOCK_CLASS, 2)
_TAKE_WRITE_LOCK = "SELECT pg_advisory_xact_lock({}, {})".format(*WRITE_LOCK)


def make_engine(url: str) -> Engine:
    """An engine for SQLite (WAL, fsync on every commit) or PostgreSQL, by URL.

    A statement's parameters (message texts, password hashes) never appear in its errors or logs.
    """
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    try:
        engine = create_engine(url, pool_pre_ping=True, pool_size=8, hide_parameters=True)
    except ModuleNotFoundError as exc:  # the driver is an extra: a SQLite node goes without it
        raise StoreUnavailable(
            f"the database driver {exc.name} is not installed: "
            "pip install 'parley[postgres]' for a PostgreSQL store"
        ) from exc

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writes of every process of the node take turns, as SQLite's BEGIN IMMEDIATE makes
        # them: a chain's next seq is read and taken in one turn, never twice, and events
        # become visible in the order of their positions, so a live stream resumed after a
        # position misses none that commit later with a smaller one.
        if not conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql(_TAKE_WRITE_LOCK)

    @event.listens_for(engine, "handle_error")
    def _on_error(context: ExceptionContext) -> BaseException | None:
        # A database gone (a primary lost, a standby being promoted) is the store being
        # unavailable, which every caller answers (503): not a failure of the request.
        original = context.original_exception
        if context.is_disconnect or isinstance(
            original, engine.dialect.loaded_dbapi.OperationalError
        ):
            return StoreUnavailable(f"the database does not answer: {first_line(original)}")
        return None

    return engine


def cannot_open(exc: BaseException) -> StoreUnavailable:
    """A store that could not be opened, saying why: in the database's own words when it
    refused or did not answer."""
    if isinstance(exc, StoreUnavailable):
        if exc.__cause__ is None:
            return StoreUnavailable(f"cannot open the store: {exc.detail}")
        exc = exc.__cause__
    return StoreUnavailable(f"cannot open the store: {first_line(exc)}")


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(
        url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True
    )
    database = engine.url.database
    if database and database != ":memory:":
        _create_private(database)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy issue BEGIN itself so that SAVEPOINT works (pysqlite quirk).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit returns only after the WAL is fsync'd, so a 201 survives kill -9.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get(READ_ONLY):
            # A read must not take the write lock: under WAL it then runs beside the
            # writer's open transaction instead of waiting for its commit.
            conn.exec_driver_sql("BEGIN DEFERRED")
            return
        # IMMEDIATE takes the write lock up front, so a CLI writing beside the server waits
        # instead of failing half-way through with "database is locked".
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _create_private(path: str) -> None:
    """Create the database file with mode 0600 before SQLite does: SQLite gives its WAL and
    shared-memory files the mode of the database file, whatever the umask."""
    # A folder that does not exist is reported by SQLite itself, as before.
    with suppress(OSError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
