"""The nonces of accepted federation requests: a replay is refused by whichever process of
the node it reaches, and after a restart."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import bindparam, delete, select

from . import _schema as t
from ._base import Prepared, SqlReadsBase, SqlTxBase, prepared_insert

__all__ = ["NoncesReads", "NoncesTx", "SqlNoncesReads", "SqlNoncesTx"]

_n = t.federation_nonces.c
_SEEN = Prepared(
    select(_n.seen_ms).where(_n.sender == bindparam("sender"), _n.nonce == bindparam("nonce"))
)
_REMEMBER = prepared_insert(t.federation_nonces, "sender", "nonce", "seen_ms")
_FORGET = Prepared(delete(t.federation_nonces).where(_n.seen_ms < bindparam("before")))


class NoncesTx(Protocol):
    def remember_nonce(self, sender: str, nonce: str, seen_ms: int, forget_before_ms: int) -> bool:
        """Keep a nonce; False if it was kept already (a replay). Nonces seen before
        ``forget_before_ms`` are forgotten: requests that old are refused by their time."""
        ...


class NoncesReads(Protocol):
    def nonce_seen(self, sender: str, nonce: str) -> bool: ...


class SqlNoncesTx(SqlTxBase):
    def remember_nonce(self, sender: str, nonce: str, seen_ms: int, forget_before_ms: int) -> bool:
        key = {"sender": sender, "nonce": nonce}
        if self._scalar(_SEEN, key) is not None:
            return False
        self._run(_FORGET, {"before": forget_before_ms})
        self._run(_REMEMBER, {**key, "seen_ms": seen_ms})
        return True


class SqlNoncesReads(SqlReadsBase):
    def nonce_seen(self, sender: str, nonce: str) -> bool:
        with self._reader.connect() as conn:
            found = conn.execute(_SEEN.statement, {"sender": sender, "nonce": nonce}).first()
        return found is not None
