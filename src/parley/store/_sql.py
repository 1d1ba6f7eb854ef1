"""The SQL store: SQLAlchemy Core over SQLite or PostgreSQL, one writer with group commit.

Each concern of the store is a pair of mixins in a module of its own (events, parties,
channels, acks, drafts, alerts, operators, deconfliction, the log, the audit table),
composed here.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from parley.errors import StoreUnavailable

from ._acks import SqlAcksReads, SqlAcksTx
from ._agreements import SqlAgreementsReads, SqlAgreementsTx
from ._alerts import SqlAlertsReads, SqlAlertsTx
from ._allegations import SqlAllegationsReads, SqlAllegationsTx
from ._audit import SqlAuditReads, SqlAuditTx
from ._channels import SqlChannelsReads, SqlChannelsTx
from ._deconflict import SqlDeconflictionReads, SqlDeconflictionTx
from ._drafts import SqlDraftsReads, SqlDraftsTx
from ._engine import READ_ONLY, cannot_open, make_engine
from ._events import SqlEventsReads, SqlEventsTx
from ._exchanges import SqlExchangesReads, SqlExchangesTx
from ._log import SqlLogReads, SqlLogTx
from ._migrate import schema_current, upgrade
from ._nonces import SqlNoncesReads, SqlNoncesTx
from ._operators import SqlOperatorsReads, SqlOperatorsTx
from ._parties import SqlPartiesReads, SqlPartiesTx
from ._sessions import SESSIONS_CHANGED, SessionsWatch
from ._shared import NOTIFY, LeaderLock, LeaderRecord, Listener, current_leader
from ._talks import SqlTalksReads, SqlTalksTx
from ._writer import GroupCommitWriter, WriterStats

__all__ = ["SqlStore", "SqlTx"]

T = TypeVar("T")


class SqlTx(
    SqlEventsTx,
    SqlAgreementsTx,
    SqlPartiesTx,
    SqlChannelsTx,
    SqlAcksTx,
    SqlDraftsTx,
    SqlOperatorsTx,
    SqlDeconflictionTx,
    SqlAlertsTx,
    SqlLogTx,
    SqlAuditTx,
    SqlExchangesTx,
    SqlTalksTx,
    SqlAllegationsTx,
    SqlNoncesTx,
):
    """Write operations, valid only inside a function run by the store's writer."""

    def __init__(self, conn: Connection, origin: str) -> None:
        self._conn = conn
        self._origin = origin


class SqlStore(
    SqlEventsReads,
    SqlPartiesReads,
    SqlChannelsReads,
    SqlAcksReads,
    SqlDraftsReads,
    SqlOperatorsReads,
    SqlDeconflictionReads,
    SqlAlertsReads,
    SqlLogReads,
    SqlAuditReads,
    SqlAgreementsReads,
    SqlExchangesReads,
    SqlTalksReads,
    SqlAllegationsReads,
    SqlNoncesReads,
):
    """Reads run on pooled connections; every write goes through the one writer."""

    def __init__(self, engine: Engine, *, max_batch: int = 256) -> None:
        self.engine = engine
        # What this store's notifications are signed with, so its own come back to no one.
        self.origin = secrets.token_hex(6)
        self._reader = engine.execution_options(**{READ_ONLY: True})
        self._sessions = SessionsWatch(engine)
        self._writer = GroupCommitWriter(
            engine, max_batch=max_batch, ended=self._sessions.committed
        )

    @classmethod
    def open(cls, url: str, *, max_batch: int = 256) -> SqlStore:
        try:
            engine = make_engine(url)
            upgrade(engine)
        # A malformed URL, a database that does not answer or that a newer version migrated.
        except (SQLAlchemyError, StoreUnavailable) as exc:
            raise cannot_open(exc) from exc
        return cls(engine, max_batch=max_batch)

    @property
    def writer_stats(self) -> WriterStats:
        return self._writer.stats

    def sessions_version(self) -> int | None:
        """Equal versions, equal sessions (tokens, operators, grants); None: no version is
        kept, every session must be read again."""
        return self._sessions.version()

    def schema_current(self) -> bool:
        return schema_current(self.engine)

    # -- several processes on one PostgreSQL database (``_shared``) -------------------------------
    @property
    def shared(self) -> bool:
        """Whether other processes may serve this database beside this one: PostgreSQL."""
        return self.engine.dialect.name == "postgresql"

    def leader_lock(self) -> LeaderLock:
        return LeaderLock(self.engine)

    def leader(self) -> LeaderRecord | None:
        return current_leader(self._reader)

    def listen(self, heard: Callable[[str], object], lost: Callable[[], object]) -> Listener:
        """Hear what the other processes notify: changes of sessions here, the rest by
        ``heard``; ``lost`` when some may have gone unheard."""
        sessions = self._sessions

        def heard_here(payload: str) -> None:
            if payload == SESSIONS_CHANGED:
                sessions.changed_elsewhere()
            else:
                heard(payload)

        def lost_here() -> None:
            sessions.changed_elsewhere()
            lost()

        listener = Listener(self.engine, heard_here, lost_here)
        sessions.listening = lambda: listener.listening
        return listener

    def notify(self, payload: str) -> None:
        """Tell the other processes (after the commit of what ``payload`` names)."""
        with self._reader.connect() as conn:
            conn.execute(NOTIFY.statement, {"payload": payload})
            conn.commit()

    async def write(self, fn: Callable[[SqlTx], T]) -> T:
        return await self._writer.run(lambda conn: fn(SqlTx(conn, self.origin)))

    def write_sync(self, fn: Callable[[SqlTx], T]) -> T:
        return self._writer.run_sync(lambda conn: fn(SqlTx(conn, self.origin)))

    def close(self) -> None:
        self._writer.close()
        self._sessions.close()
        self.engine.dispose()
