"""Agreements in the store: which stored events name each agreement, for its fold."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import Select, insert, select

from . import _schema as t
from ._base import SqlReadsBase, SqlTxBase

__all__ = ["AgreementsReads", "AgreementsTx", "SqlAgreementsReads", "SqlAgreementsTx"]


class AgreementsTx(Protocol):
    def add_agreement_event(self, agreement: str, pos: int) -> None: ...
    def agreement_events(self, agreement: str) -> list[bytes]: ...


class AgreementsReads(Protocol):
    def agreement_events(self, agreement: str) -> list[bytes]: ...
    def agreement_ids(self, channel: str | None = None) -> list[str]: ...


def _events_of(agreement: str) -> Select[Any]:
    """The raw events naming ``agreement``, in store order."""
    a, e = t.agreement_events.c, t.events.c
    return (
        select(e.raw)
        .join_from(t.agreement_events, t.events, e.pos == a.pos)
        .where(a.agreement == agreement)
        .order_by(a.pos)
    )


class SqlAgreementsTx(SqlTxBase):
    def add_agreement_event(self, agreement: str, pos: int) -> None:
        self._conn.execute(insert(t.agreement_events).values(agreement=agreement, pos=pos))

    def agreement_events(self, agreement: str) -> list[bytes]:
        return [row[0] for row in self._conn.execute(_events_of(agreement))]


class SqlAgreementsReads(SqlReadsBase):
    def agreement_events(self, agreement: str) -> list[bytes]:
        return [row[0] for row in self._all(_events_of(agreement))]

    def agreement_ids(self, channel: str | None = None) -> list[str]:
        """The agreements proposed on ``channel`` (on any, if None), oldest first."""
        a, e = t.agreement_events.c, t.events.c
        query = (
            select(e.id)
            .join_from(t.agreement_events, t.events, e.pos == a.pos)
            .where(e.type == "agreement")
            .order_by(a.pos)
        )
        if channel is not None:
            query = query.where(e.channel == channel)
        return [row[0] for row in self._all(query)]
