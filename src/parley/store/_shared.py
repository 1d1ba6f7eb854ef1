"""What the processes of one node share through PostgreSQL beyond its tables: who leads the
background duties (a session advisory lock) and what each process stored (LISTEN/NOTIFY).

A SQLite node is one process: none of this applies to it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, bindparam, func, select, text

from ._base import Prepared
from ._engine import LEADER_LOCK
from ._writer import first_line

__all__ = ["BUS_CHANNEL", "LeaderLock", "LeaderRecord", "Listener", "this_process"]

_log = logging.getLogger(__name__)
BUS_CHANNEL = "parley_bus"
NOTIFY = Prepared(select(func.pg_notify(BUS_CHANNEL, bindparam("payload"))))
_RECONNECT_S = 0.5
_WAIT_S = 1.0
# The leader's connection names it, so any process can tell who leads (pg_stat_activity).
_LEADER_PREFIX = "parley leader "
_LEADER = text(
    "SELECT a.application_name, a.backend_start FROM pg_locks l "
    "JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = :c AND l.objid = :o "
    "AND l.objsubid = 2 AND l.database = (SELECT oid FROM pg_database "
    "WHERE datname = current_database())"
)


def this_process() -> str:
    """The process, as the others of the node name it: host and pid (read again after a fork)."""
    global _named
    pid = os.getpid()
    if _named[0] != pid:
        _named = (pid, f"{socket.gethostname()}:{pid}")
    return _named[1]


_named = (0, "")


@dataclass(frozen=True)
class LeaderRecord:
    host: str
    pid: int
    since_ms: int


def current_leader(reader: Engine) -> LeaderRecord | None:
    """The process holding the leader's lock of this database, or None at this moment."""
    with reader.connect() as conn:
        row = conn.execute(_LEADER, {"c": LEADER_LOCK[0], "o": LEADER_LOCK[1]}).first()
    if row is None or not str(row.application_name).startswith(_LEADER_PREFIX):
        return None
    host, _, pid = str(row.application_name).removeprefix(_LEADER_PREFIX).rpartition(":")
    return LeaderRecord(host, int(pid), int(row.backend_start.timestamp() * 1000))


def _session(engine: Engine) -> Any:
    """A psycopg connection of its own, out of the pool, committing each statement."""
    proxied = engine.raw_connection()
    driver: Any = proxied.driver_connection
    proxied.detach()
    driver.autocommit = True
    return driver


class LeaderLock:
    """The leader's session lock. PostgreSQL frees it when the session ends, so a leader
    killed with -9 is followed at the next try of another process."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._conn: Any = None

    def try_acquire(self) -> bool:
        """True if this process now leads (or led already); False if another does or the
        database does not answer."""
        try:
            if self._conn is None:
                self._conn = _session(self._engine)
                name = (_LEADER_PREFIX + this_process())[-63:]  # NAMEDATALEN
                self._conn.execute("SELECT set_config('application_name', %s, false)", (name,))
            row = self._conn.execute("SELECT pg_try_advisory_lock(%s, %s)", LEADER_LOCK).fetchone()
        except Exception as exc:
            _log.warning("cannot ask for the leader's lock: %s", first_line(exc))
            self.release()
            return False
        return bool(row[0])

    def held(self) -> bool:
        """The lock is still this process's: its session answers."""
        if self._conn is None:
            return False
        try:
            self._conn.execute("SELECT 1")
        except Exception as exc:
            _log.warning("lost the leader's session: %s", first_line(exc))
            self.release()
            return False
        return True

    def release(self) -> None:
        """End the session, and with it the lock."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # a dead session has nothing left to free
                conn.close()


class Listener:
    """A thread LISTENing on the bus channel: each notification's payload goes to ``heard``
    (called on that thread); ``lost`` after a connection lost and made again, since what was
    notified meanwhile is gone."""

    def __init__(
        self, engine: Engine, heard: Callable[[str], object], lost: Callable[[], object]
    ) -> None:
        self._engine = engine
        self._heard = heard
        self._lost = lost
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._thread = threading.Thread(target=self._run, name="parley-listener", daemon=True)
        self._thread.start()

    @property
    def listening(self) -> bool:
        """Whether a notification sent now would be heard."""
        return self._listening.is_set()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        failed = False
        while not self._stop.is_set():
            try:
                conn = _session(self._engine)
            except Exception as exc:
                _log.warning("the bus listener cannot connect: %s", first_line(exc))
                failed = True
                time.sleep(_RECONNECT_S)
                continue
            try:
                conn.execute(f"LISTEN {BUS_CHANNEL}")
                self._listening.set()
                if failed:
                    self._lost()
                failed = False
                while not self._stop.is_set():
                    for notification in conn.notifies(timeout=_WAIT_S):
                        self._heard(notification.payload)
            except Exception as exc:
                _log.warning("the bus listener lost its connection: %s", first_line(exc))
                failed = True
                time.sleep(_RECONNECT_S)
            finally:
                self._listening.clear()
                conn.close()
