"""Operators in the store: accounts, the bearer tokens they sign in with, idempotency keys."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Protocol

from sqlalchemy import bindparam, insert, select, update

from parley.errors import Conflict

from . import _schema as t
from ._base import Prepared, SqlReadsBase, SqlTxBase, prepared_insert, record_from_row
from ._sessions import mark_sessions_changed

__all__ = [
    "OperatorRecord",
    "OperatorsReads",
    "OperatorsTx",
    "SqlOperatorsReads",
    "SqlOperatorsTx",
    "TokenRecord",
]


@dataclass(frozen=True)
class OperatorRecord:
    """An account as it is now; who made, approved and last changed it is its history, which
    two records of the same account need not share to be equal."""

    username: str
    role: str
    password_hash: str
    disabled: bool
    lang: str = "en"
    person: str = ""  # none given: the username
    pending: bool = False  # waits for a second person's approval; may not log in
    created_ms: int = field(default=0, compare=False)
    created_by: str | None = field(default=None, compare=False)
    approved_by: str | None = field(default=None, compare=False)
    approved_ms: int | None = field(default=None, compare=False)
    changed_by: str | None = field(default=None, compare=False)
    changed_ms: int | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.person:
            object.__setattr__(self, "person", self.username)


@dataclass(frozen=True)
class TokenRecord:
    token_hash: str
    username: str
    expires_ms: int
    revoked: bool


# A bearer token and its operator, in one query: it runs on every request, so it is built once.
_SESSION = (
    select(t.tokens, *(c for c in t.operators.c if c.name != "username"))
    .join(t.operators, t.operators.c.username == t.tokens.c.username)
    .where(t.tokens.c.token_hash == bindparam("token_hash"))
)


_IDEMPOTENT_EVENT = Prepared(
    select(t.idempotency_keys.c.event_id).where(
        t.idempotency_keys.c.username == bindparam("username"),
        t.idempotency_keys.c.key == bindparam("key"),
    )
)
_REMEMBER_IDEMPOTENCY = prepared_insert(t.idempotency_keys, "username", "key", "event_id")


class OperatorsTx(Protocol):
    def insert_operator(self, record: OperatorRecord, created_ms: int) -> None: ...
    def approve_operator(self, username: str, by: str, at_ms: int) -> bool: ...
    def set_operator_disabled(
        self, username: str, disabled: bool, *, by: str, at_ms: int
    ) -> bool: ...
    def set_operator_language(self, username: str, lang: str) -> None: ...
    def insert_token(self, record: TokenRecord, issued_ms: int) -> None: ...
    def revoke_tokens(
        self, *, token_hash: str | None = None, username: str | None = None
    ) -> int: ...
    def idempotent_event(self, username: str, key: str) -> str | None: ...
    def remember_idempotency(self, username: str, key: str, event_id: str) -> None: ...


class OperatorsReads(Protocol):
    def get_operator(self, username: str) -> OperatorRecord | None: ...
    def list_operators(self) -> list[OperatorRecord]: ...
    def get_token(self, token_hash: str) -> TokenRecord | None: ...
    def get_session(self, token_hash: str) -> tuple[TokenRecord, OperatorRecord] | None: ...


class SqlOperatorsTx(SqlTxBase):
    """Every write here changes a session a node may keep (see ``_sessions``)."""

    def insert_operator(self, record: OperatorRecord, created_ms: int) -> None:
        """A new account; refused while another account not disabled names the same person."""
        c = t.operators.c
        for where, taken in (
            (c.username == record.username, f"operator {record.username} already exists"),
            (
                (c.person == record.person) & c.disabled.is_(False),
                f"person {record.person} already has an account",
            ),
        ):
            if self._conn.execute(select(c.username).where(where)).first() is not None:
                raise Conflict(taken)
        mark_sessions_changed(self._conn)
        self._conn.execute(insert(t.operators).values({**asdict(record), "created_ms": created_ms}))

    def approve_operator(self, username: str, by: str, at_ms: int) -> bool:
        """Let a pending account log in, once: False if it is not pending (any more)."""
        c = t.operators.c
        mark_sessions_changed(self._conn)
        result = self._conn.execute(
            update(t.operators)
            .where(c.username == username, c.pending.is_(True), c.disabled.is_(False))
            .values(pending=False, approved_by=by, approved_ms=at_ms)
        )
        return result.rowcount > 0

    def set_operator_disabled(self, username: str, disabled: bool, *, by: str, at_ms: int) -> bool:
        mark_sessions_changed(self._conn)
        result = self._conn.execute(
            update(t.operators)
            .where(t.operators.c.username == username)
            .values(disabled=disabled, changed_by=by, changed_ms=at_ms)
        )
        return result.rowcount > 0

    def set_operator_language(self, username: str, lang: str) -> None:
        mark_sessions_changed(self._conn)
        self._conn.execute(
            update(t.operators).where(t.operators.c.username == username).values(lang=lang)
        )

    def insert_token(self, record: TokenRecord, issued_ms: int) -> None:
        mark_sessions_changed(self._conn)
        self._conn.execute(insert(t.tokens).values(**asdict(record), issued_ms=issued_ms))

    def revoke_tokens(self, *, token_hash: str | None = None, username: str | None = None) -> int:
        condition = (
            (t.tokens.c.token_hash == token_hash)
            if token_hash
            else (t.tokens.c.username == username)
        )
        mark_sessions_changed(self._conn)
        return self._conn.execute(update(t.tokens).where(condition).values(revoked=True)).rowcount

    # -- idempotency: a retried request with the same key gets the event it created ----------------
    def idempotent_event(self, username: str, key: str) -> str | None:
        found: str | None = self._scalar(_IDEMPOTENT_EVENT, {"username": username, "key": key})
        return found

    def remember_idempotency(self, username: str, key: str, event_id: str) -> None:
        params = {"username": username, "key": key, "event_id": event_id}
        self._run(_REMEMBER_IDEMPOTENCY, params)


class SqlOperatorsReads(SqlReadsBase):
    def get_operator(self, username: str) -> OperatorRecord | None:
        row = self._first(select(t.operators).where(t.operators.c.username == username))
        return None if row is None else record_from_row(OperatorRecord, row)

    def list_operators(self) -> list[OperatorRecord]:
        rows = self._all(select(t.operators).order_by(t.operators.c.username))
        return [record_from_row(OperatorRecord, r) for r in rows]

    def get_token(self, token_hash: str) -> TokenRecord | None:
        row = self._first(select(t.tokens).where(t.tokens.c.token_hash == token_hash))
        return None if row is None else record_from_row(TokenRecord, row)

    def get_session(self, token_hash: str) -> tuple[TokenRecord, OperatorRecord] | None:
        """A bearer token and its operator, in one query."""
        with self._reader.connect() as conn:
            row = conn.execute(_SESSION, {"token_hash": token_hash}).first()
        if row is None:
            return None
        return record_from_row(TokenRecord, row), record_from_row(OperatorRecord, row)
