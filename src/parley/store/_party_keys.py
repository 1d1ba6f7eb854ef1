"""The history of each party's node keys: rotations, re-pins and compromises (docs/keys.md)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Protocol

from sqlalchemy import Connection, select, update

from . import _schema as t
from ._base import SqlReadsBase, SqlTxBase, record_from_row

__all__ = [
    "AuthoredEvent",
    "PartyKeyRecord",
    "PartyKeysReads",
    "PartyKeysTx",
    "SqlPartyKeysReads",
    "SqlPartyKeysTx",
]


@dataclass(frozen=True)
class PartyKeyRecord:
    """One key of a party; ``learnt`` is pinned, key_change (``event_id``) or rekey."""

    party: str
    key: str  # base64, as parties.public_key
    fingerprint: str
    valid_from_ms: int | None
    valid_until_ms: int | None
    compromised_ms: int | None
    learnt: str
    event_id: str | None
    flagged_ms: int | None = None


@dataclass(frozen=True)
class AuthoredEvent:
    id: str
    channel: str
    type: str
    ts: str


class PartyKeysTx(Protocol):
    def party_keys_tx(self, party: str) -> list[PartyKeyRecord]: ...
    def add_party_key(self, record: PartyKeyRecord) -> None: ...
    def set_key_compromised(self, party: str, fingerprint: str, since_ms: int) -> bool: ...
    def set_key_flagged(self, party: str, fingerprint: str, flagged_ms: int) -> None: ...
    def authored_events(self, author: str) -> list[AuthoredEvent]: ...


class PartyKeysReads(Protocol):
    def party_keys(self, party: str) -> list[PartyKeyRecord]: ...


def _history(party: str) -> Any:
    k = t.party_keys.c
    # The first key has no start: nulls first on both engines.
    return (
        select(t.party_keys)
        .where(k.party == party)
        .order_by(k.valid_from_ms.is_not(None), k.valid_from_ms)
    )


def _records(conn: Connection, party: str) -> list[PartyKeyRecord]:
    return [record_from_row(PartyKeyRecord, r) for r in conn.execute(_history(party))]


class SqlPartyKeysTx(SqlTxBase):
    def party_keys_tx(self, party: str) -> list[PartyKeyRecord]:
        """The key history as this transaction sees it."""
        return _records(self._conn, party)

    def add_party_key(self, record: PartyKeyRecord) -> None:
        """``record`` becomes the party's current key; the current one ends where it starts."""
        k = t.party_keys.c
        self._conn.execute(
            update(t.party_keys)
            .where(k.party == record.party, k.valid_until_ms.is_(None))
            .values(valid_until_ms=record.valid_from_ms)
        )
        self._conn.execute(t.party_keys.insert().values(**asdict(record)))
        self._conn.execute(
            update(t.parties).where(t.parties.c.party == record.party).values(public_key=record.key)
        )

    def set_key_compromised(self, party: str, fingerprint: str, since_ms: int) -> bool:
        """Record the compromise, keeping the earliest time declared; False if nothing changed."""
        k = t.party_keys.c
        changed = self._conn.execute(
            update(t.party_keys)
            .where(
                k.party == party,
                k.fingerprint == fingerprint,
                (k.compromised_ms.is_(None)) | (k.compromised_ms > since_ms),
            )
            .values(compromised_ms=since_ms)
        ).rowcount
        return bool(changed)

    def set_key_flagged(self, party: str, fingerprint: str, flagged_ms: int) -> None:
        k = t.party_keys.c
        self._conn.execute(
            update(t.party_keys)
            .where(k.party == party, k.fingerprint == fingerprint)
            .values(flagged_ms=flagged_ms)
        )

    def authored_events(self, author: str) -> list[AuthoredEvent]:
        """Every stored event of ``author``, in local order (a revocation looks for its own)."""
        e = t.events.c
        rows = self._conn.execute(
            select(e.id, e.channel, e.type, e.ts).where(e.author == author).order_by(e.pos)
        )
        return [AuthoredEvent(r.id, r.channel, r.type, r.ts) for r in rows]


class SqlPartyKeysReads(SqlReadsBase):
    def party_keys(self, party: str) -> list[PartyKeyRecord]:
        with self._reader.connect() as conn:
            return _records(conn, party)
