"""Talks in the store: each talks event indexed by the round or minutes it belongs to."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from sqlalchemy import Select, insert, select

from . import _schema as t
from ._base import SqlReadsBase, SqlTxBase

__all__ = ["SqlTalksReads", "SqlTalksTx", "TalksReads", "TalksTx"]


def _linked(target: str, types: Iterable[str]) -> Select[tuple[str, bytes]]:
    """The ids and raw events of some types that belong to ``target``, in store order."""
    links, events = t.talks_links.c, t.events.c
    return (
        select(events.id, events.raw)
        .join(t.talks_links, links.event_id == events.id)
        .where(links.target == target, links.type.in_(list(types)))
        .order_by(events.pos)
    )


class TalksTx(Protocol):
    def link_talks_event(self, event_id: str, target: str, kind: str) -> None: ...
    def talks_linked(self, target: str, types: Iterable[str]) -> list[tuple[str, bytes]]: ...


class TalksReads(Protocol):
    def talks_linked(self, target: str, types: Iterable[str]) -> list[tuple[str, bytes]]: ...


class SqlTalksTx(SqlTxBase):
    def link_talks_event(self, event_id: str, target: str, kind: str) -> None:
        row = {"event_id": event_id, "target": target, "type": kind}
        self._conn.execute(insert(t.talks_links).values(**row))

    def talks_linked(self, target: str, types: Iterable[str]) -> list[tuple[str, bytes]]:
        return [(row.id, bytes(row.raw)) for row in self._conn.execute(_linked(target, types))]


class SqlTalksReads(SqlReadsBase):
    def talks_linked(self, target: str, types: Iterable[str]) -> list[tuple[str, bytes]]:
        return [(row.id, bytes(row.raw)) for row in self._all(_linked(target, types))]
