"""When a session read before (a bearer token and its operator) may have changed since.

Every request looks its bearer token up; a node may keep what it read while nothing that
could change it was committed. Its own writer says when a write changed an operator, a
token or a grant (``mark_sessions_changed``). Another process on the same SQLite file (the
CLI disabling an operator beside a serving node) is seen through ``PRAGMA data_version``,
which changes on a connection whenever another connection committed: on a connection of
its own (the watcher), and on the writer's, which no commit of this node changes.

On PostgreSQL the other processes of the node say so themselves: a write that changes
sessions notifies ``SESSIONS_CHANGED`` on commit (``_shared``), and what was read is kept
only while this process listens (``listening``), since a notification sent while it did
not cannot be heard.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine, PoolProxiedConnection

__all__ = ["SESSIONS_CHANGED", "SessionsWatch", "mark_sessions_changed"]

_CHANGED = "parley_sessions_changed"
SESSIONS_CHANGED = "s"  # the payload of the bus notification of a change


def mark_sessions_changed(conn: Connection) -> None:
    """The write running on ``conn`` changes operators, tokens or grants."""
    if conn.dialect.name == "postgresql" and not conn.info.get(_CHANGED):
        from ._shared import NOTIFY

        conn.execute(NOTIFY.statement, {"payload": SESSIONS_CHANGED})
    conn.info[_CHANGED] = True


class SessionsWatch:
    """A version of the sessions: equal versions, equal sessions.

    Commits of the node's writer change the watcher's data version too, so after each one
    the writer notes the watcher's new version as its own (``committed``); a commit of
    another process between that commit and the note changes the writer connection's own
    data version, read after the watcher's, which then counts as a change.
    """

    def __init__(self, engine: Engine) -> None:
        self._lock = threading.Lock()
        self._generation = 0
        self._pooled = _watcher(engine)
        self._watcher = None if self._pooled is None else self._pooled.driver_connection
        self._seen = None if self._watcher is None else _data_version(self._watcher)
        self._writer_seen: int | None = None
        self.listening: Callable[[], bool] | None = None  # PostgreSQL: while told of changes

    def changed_elsewhere(self) -> None:
        """Another process changed sessions, or may have while this one was not told."""
        with self._lock:
            self._generation += 1

    def version(self) -> int | None:
        """The sessions' version now; None when changes cannot be seen (an in-memory SQLite,
        or PostgreSQL while not listening): then every session must be read again."""
        if self._watcher is None:
            if self.listening is not None and self.listening():
                return self._generation
            return None
        with self._lock:
            seen = _data_version(self._watcher)
            if seen != self._seen:
                self._seen = seen
                self._generation += 1
            return self._generation

    def committed(self, conn: Connection) -> None:
        """After the writer's transaction on ``conn`` ended (committed or not), before its
        callers learn the outcome: a logout is then refused from its answer on."""
        # A connection lost with its transaction (a primary gone) would reconnect to read
        # its info, and fail again: its write is unknown, so counted as a change.
        changed = True if conn.invalidated else conn.info.pop(_CHANGED, False)
        if self._watcher is None:
            if changed:
                self.changed_elsewhere()  # by this process: the same to what it read
            return
        with self._lock:
            try:
                seen = _data_version(self._watcher)
                writer_seen: int | None = _data_version(conn.connection.driver_connection)
            except sqlite3.Error:  # a failing database: nothing read before is trusted
                seen, writer_seen = None, None
            if changed or writer_seen is None or writer_seen != self._writer_seen:
                self._generation += 1
            self._seen, self._writer_seen = seen, writer_seen

    def close(self) -> None:
        if self._pooled is not None:
            self._pooled.close()


def _watcher(engine: Engine) -> PoolProxiedConnection | None:
    """A pooled connection of its own, kept open to read the data version; None without one."""
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return None
    return engine.raw_connection()


def _data_version(connection: Any) -> int:
    # In autocommit (the engine's connections issue BEGIN themselves): a read of its own.
    version: int = connection.execute("PRAGMA data_version").fetchone()[0]
    return version
