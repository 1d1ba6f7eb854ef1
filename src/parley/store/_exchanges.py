"""Exchanges in the store: this node's private key of each exchange, and who may read lists.

Neither table is ever replicated or exported: a peer learns only the public key, from the
``exchange_key`` event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import delete, select, update

from . import _schema as t
from ._base import SqlReadsBase, SqlTxBase, record_from_row
from ._sessions import mark_sessions_changed

__all__ = [
    "ExchangeKeyRecord",
    "ExchangesReads",
    "ExchangesTx",
    "GrantRecord",
    "SqlExchangesReads",
    "SqlExchangesTx",
]


@dataclass(frozen=True)
class ExchangeKeyRecord:
    agreement: str
    private_key: bytes | None  # None once shredded
    public_key: str
    created_ms: int
    shredded_ms: int | None
    shredded_by: str | None


@dataclass(frozen=True)
class GrantRecord:
    username: str
    permission: str
    granted_by: str
    granted_ms: int


class ExchangesTx(Protocol):
    def insert_exchange_key(
        self, agreement: str, private_key: bytes, public_key: str, created_ms: int
    ) -> bool: ...
    def shred_exchange_key(self, agreement: str, by: str, now_ms: int) -> bool: ...
    def grant(self, username: str, permission: str, by: str, now_ms: int) -> bool: ...
    def revoke(self, username: str, permission: str) -> bool: ...


class ExchangesReads(Protocol):
    def exchange_key(self, agreement: str) -> ExchangeKeyRecord | None: ...
    def grants_of(self, username: str) -> frozenset[str]: ...
    def list_grants(self) -> list[GrantRecord]: ...


class SqlExchangesTx(SqlTxBase):
    def insert_exchange_key(
        self, agreement: str, private_key: bytes, public_key: str, created_ms: int
    ) -> bool:
        """False (nothing written) if this node already has a key for ``agreement``."""
        return self._insert_once(
            t.exchange_keys.c.agreement == agreement,
            t.exchange_keys,
            {
                "agreement": agreement,
                "private_key": private_key,
                "public_key": public_key,
                "created_ms": created_ms,
            },
        )

    def shred_exchange_key(self, agreement: str, by: str, now_ms: int) -> bool:
        """Destroy the private key; False if there is none (never made, or shredded)."""
        k = t.exchange_keys.c
        done = self._conn.execute(
            update(t.exchange_keys)
            .where(k.agreement == agreement, k.private_key.is_not(None))
            .values(private_key=None, shredded_ms=now_ms, shredded_by=by)
        )
        return bool(done.rowcount)

    def grant(self, username: str, permission: str, by: str, now_ms: int) -> bool:
        g = t.operator_grants.c
        mark_sessions_changed(self._conn)
        return self._insert_once(
            (g.username == username) & (g.permission == permission),
            t.operator_grants,
            {
                "username": username,
                "permission": permission,
                "granted_by": by,
                "granted_ms": now_ms,
            },
        )

    def revoke(self, username: str, permission: str) -> bool:
        g = t.operator_grants.c
        mark_sessions_changed(self._conn)
        done = self._conn.execute(
            delete(t.operator_grants).where(g.username == username, g.permission == permission)
        )
        return bool(done.rowcount)


class SqlExchangesReads(SqlReadsBase):
    def exchange_key(self, agreement: str) -> ExchangeKeyRecord | None:
        row = self._first(select(t.exchange_keys).where(t.exchange_keys.c.agreement == agreement))
        return None if row is None else record_from_row(ExchangeKeyRecord, row)

    def grants_of(self, username: str) -> frozenset[str]:
        g = t.operator_grants.c
        return frozenset(
            r[0] for r in self._all(select(g.permission).where(g.username == username))
        )

    def list_grants(self) -> list[GrantRecord]:
        g = t.operator_grants.c
        rows = self._all(select(t.operator_grants).order_by(g.username, g.permission))
        return [record_from_row(GrantRecord, row) for row in rows]
