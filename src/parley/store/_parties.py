"""Parties in the store: their pinned keys, the URLs their nodes are reached at, link health."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Protocol

from sqlalchemy import insert, select

from parley.protocol import decode_public_key, fingerprint

from . import _schema as t
from ._base import record_from_row
from ._party_keys import (
    PartyKeysReads,
    PartyKeysTx,
    SqlPartyKeysReads,
    SqlPartyKeysTx,
)

__all__ = [
    "LinkRecord",
    "PartiesReads",
    "PartiesTx",
    "PartyRecord",
    "SqlPartiesReads",
    "SqlPartiesTx",
]


@dataclass(frozen=True)
class PartyRecord:
    party: str
    name: str
    public_key: str
    is_self: bool


@dataclass(frozen=True)
class LinkRecord:
    """What this node knows of its link to a party: two facts, kept apart.

    The direct path (``direct`` to ``detail``) is judged only by requests this node sent to
    the party's own URLs; ``heard_ms`` and ``heard_via`` by the party's events, through
    whichever member's node delivered them.
    """

    party: str
    direct: str  # unknown, up, degraded, down
    rtt_ms: int | None  # the last link test, out and acknowledged over the direct path
    last_ok_ms: int | None  # the party's node last answered a direct request
    last_test_ms: int | None
    missed_tests: int  # link tests in a row the direct path did not carry
    detail: str  # why the direct path is not up
    heard_ms: int | None  # an event of the party last arrived
    heard_via: str | None  # the party whose node delivered it: itself or a relay


class PartiesTx(PartyKeysTx, Protocol):
    def insert_party(self, record: PartyRecord, added_ms: int) -> None: ...
    def set_peer_urls(self, party: str, urls: list[str]) -> None: ...
    def save_link(self, record: LinkRecord) -> None: ...
    def delete_party(self, party: str) -> None: ...


class PartiesReads(PartyKeysReads, Protocol):
    def get_party(self, party: str) -> PartyRecord | None: ...
    def self_party(self) -> PartyRecord | None: ...
    def list_parties(self) -> list[PartyRecord]: ...
    def peer_urls(self, party: str) -> list[str]: ...
    def list_links(self) -> list[LinkRecord]: ...
    def get_link(self, party: str) -> LinkRecord | None: ...


class SqlPartiesTx(SqlPartyKeysTx):
    def insert_party(self, record: PartyRecord, added_ms: int) -> None:
        """Pin a party's key: the first of its key history."""
        self._insert_new(
            t.parties.c.party,
            record.party,
            {**asdict(record), "added_ms": added_ms},
            f"party {record.party} is already known; its key stays pinned",
        )
        first = {
            "party": record.party,
            "key": record.public_key,
            "fingerprint": fingerprint(decode_public_key(record.public_key)),
            "learnt": "pinned",
        }
        self._conn.execute(t.party_keys.insert().values(**first))

    def set_peer_urls(self, party: str, urls: list[str]) -> None:
        self._conn.execute(t.peer_urls.delete().where(t.peer_urls.c.party == party))
        if urls:
            self._conn.execute(
                insert(t.peer_urls),
                [{"party": party, "position": i, "url": u} for i, u in enumerate(urls)],
            )

    def save_link(self, record: LinkRecord) -> None:
        """Nothing for a party unpinned meanwhile: a sync with it may end after its removal."""
        pinned = select(t.parties.c.party).where(t.parties.c.party == record.party)
        if self._conn.execute(pinned).first() is None:
            return
        values = asdict(record)
        self._upsert(t.links.c.party, values.pop("party"), values)

    def delete_party(self, party: str) -> None:
        """Unpin a party with what only serves to reach it; a channel naming it keeps it
        (foreign key), and the caller checks the rest of the record first."""
        for table in (t.peer_urls, t.links, t.witnessed, t.party_keys, t.parties):
            self._conn.execute(table.delete().where(table.c.party == party))


class SqlPartiesReads(SqlPartyKeysReads):
    def get_party(self, party: str) -> PartyRecord | None:
        row = self._first(select(t.parties).where(t.parties.c.party == party))
        return None if row is None else record_from_row(PartyRecord, row)

    def self_party(self) -> PartyRecord | None:
        row = self._first(select(t.parties).where(t.parties.c.is_self.is_(True)))
        return None if row is None else record_from_row(PartyRecord, row)

    def list_parties(self) -> list[PartyRecord]:
        rows = self._all(select(t.parties).order_by(t.parties.c.party))
        return [record_from_row(PartyRecord, r) for r in rows]

    def peer_urls(self, party: str) -> list[str]:
        rows = self._all(
            select(t.peer_urls.c.url)
            .where(t.peer_urls.c.party == party)
            .order_by(t.peer_urls.c.position)
        )
        return [r.url for r in rows]

    def list_links(self) -> list[LinkRecord]:
        rows = self._all(select(t.links).order_by(t.links.c.party))
        return [record_from_row(LinkRecord, r) for r in rows]

    def get_link(self, party: str) -> LinkRecord | None:
        row = self._first(select(t.links).where(t.links.c.party == party))
        return None if row is None else record_from_row(LinkRecord, row)
