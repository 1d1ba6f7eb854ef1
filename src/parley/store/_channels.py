"""Channels in the store: their members and each member's status, the channel's own status."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from sqlalchemy import bindparam, func, insert, select, tuple_, update

from . import _schema as t
from ._base import Prepared, SqlReadsBase, SqlTxBase

__all__ = [
    "ChannelRecord",
    "ChannelsReads",
    "ChannelsTx",
    "SqlChannelsReads",
    "SqlChannelsTx",
]


@dataclass(frozen=True)
class ChannelRecord:
    id: str
    name: str
    created_by: str
    status: str
    members: dict[str, str]
    invited: frozenset[str] = frozenset()  # members whose node has not accepted yet
    two_person: bool = False  # notifications need a supervisor's release
    deadlines: dict[str, int] = field(default_factory=dict)  # form -> agreed ack deadline, s

    def is_active_member(self, party: str) -> bool:
        return party in self.members and party not in self.invited


class ChannelsTx(Protocol):
    def insert_channel(self, record: ChannelRecord, created_ms: int) -> None: ...
    def set_member_status(self, channel: str, party: str, status: str) -> None: ...
    def set_channel_status(self, channel: str, status: str) -> None: ...
    def channel_now(self, channel: str) -> ChannelRecord | None: ...


class ChannelsReads(Protocol):
    def get_channel(self, channel: str) -> ChannelRecord | None: ...
    def list_channels(
        self, party: str, *, after: str | None = None, limit: int | None = None
    ) -> list[ChannelRecord]: ...
    def count_channels_opened_by(self, party: str) -> int: ...


_c, _m = t.channels.c, t.members.c
# A channel and its members in one statement: the writer reads it for each event.
_CHANNEL_NOW = Prepared(
    select(
        _c.name, _c.created_by, _c.status, _c.two_person, _c.deadlines, _m.party, _m.role, _m.status
    )
    .join_from(t.channels, t.members, _m.channel == _c.id)
    .where(_c.id == bindparam("channel"))
)


class _Row(NamedTuple):
    id: str
    name: str
    created_by: str
    status: str
    two_person: bool
    deadlines: str


class _Member(NamedTuple):
    channel: str
    party: str
    role: str
    status: str


class SqlChannelsTx(SqlTxBase):
    def insert_channel(self, record: ChannelRecord, created_ms: int) -> None:
        self._conn.execute(
            insert(t.channels).values(
                id=record.id,
                name=record.name,
                created_by=record.created_by,
                created_ms=created_ms,
                status=record.status,
                two_person=record.two_person,
                deadlines=json.dumps(record.deadlines),
            )
        )
        self._conn.execute(
            insert(t.members),
            [
                {
                    "channel": record.id,
                    "party": p,
                    "role": r,
                    "status": "invited" if p in record.invited else "active",
                }
                for p, r in record.members.items()
            ],
        )

    def set_member_status(self, channel: str, party: str, status: str) -> None:
        self._conn.execute(
            update(t.members)
            .where(t.members.c.channel == channel, t.members.c.party == party)
            .values(status=status)
        )

    def set_channel_status(self, channel: str, status: str) -> None:
        self._conn.execute(
            update(t.channels).where(t.channels.c.id == channel).values(status=status)
        )

    def channel_now(self, channel: str) -> ChannelRecord | None:
        """The channel as this transaction sees it: as stored by any process, or earlier in it."""
        rows = self._rows(_CHANNEL_NOW, {"channel": channel})
        if not rows:
            return None
        members = [_Member(channel, party, role, status) for *_, party, role, status in rows]
        return _channel_records([_Row(channel, *rows[0][:5])], members)[0]


class SqlChannelsReads(SqlReadsBase):
    def get_channel(self, channel: str) -> ChannelRecord | None:
        row = self._first(select(t.channels).where(t.channels.c.id == channel))
        if row is None:
            return None
        return self._channels([row])[0]

    def list_channels(
        self, party: str, *, after: str | None = None, limit: int | None = None
    ) -> list[ChannelRecord]:
        """The party's channels in the order they were opened; ``after``: a channel id, the
        page starts past it (an unknown one starts nowhere: an empty page)."""
        c = t.channels.c
        mine = select(t.members.c.channel).where(t.members.c.party == party)
        query = select(t.channels).where(c.id.in_(mine)).order_by(c.created_ms, c.id).limit(limit)
        if after is not None:
            cursor = select(c.created_ms).where(c.id == after).scalar_subquery()
            query = query.where(tuple_(c.created_ms, c.id) > tuple_(cursor, after))
        return self._channels(self._all(query))

    def count_channels_opened_by(self, party: str) -> int:
        return int(
            self._first(
                select(func.count()).select_from(t.channels).where(t.channels.c.created_by == party)
            )[0]
        )

    def _channels(self, rows: list[Any]) -> list[ChannelRecord]:
        ids = [r.id for r in rows]
        return _channel_records(
            rows, self._all(select(t.members).where(t.members.c.channel.in_(ids)))
        )


def _channel_records(rows: list[Any], member_rows: Iterable[Any]) -> list[ChannelRecord]:
    """Channel records of their rows and the rows of their members."""
    members: dict[str, dict[str, str]] = {r.id: {} for r in rows}
    invited: dict[str, set[str]] = {r.id: set() for r in rows}
    for m in member_rows:
        members[m.channel][m.party] = m.role
        if m.status == "invited":
            invited[m.channel].add(m.party)
    return [
        ChannelRecord(
            r.id,
            r.name,
            r.created_by,
            r.status,
            members[r.id],
            frozenset(invited[r.id]),
            bool(r.two_person),
            json.loads(r.deadlines),
        )
        for r in rows
    ]
