"""Operators, tokens and idempotency keys in the store, on SQLite and on PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from parley.errors import Conflict
from parley.store import OperatorRecord, SqlStore, SqlTx, TokenRecord
from parley.store import _schema as t
from tests.store.scenario import START_MS, event_id

pytestmark = pytest.mark.anyio


# -- operators and tokens --------------------------------------------------------------------
OPERATORS = [
    OperatorRecord("duty1", "operator", "$argon2id$one", False),
    OperatorRecord("duty2", "operator", "$argon2id$two", False),
]
BY: dict[str, Any] = {"by": "admin", "at_ms": START_MS + 60_000}
TOKENS = [
    TokenRecord("1" * 64, "duty1", START_MS + 3_600_000, False),
    TokenRecord("2" * 64, "duty1", START_MS + 3_600_000, False),
    TokenRecord("3" * 64, "duty2", START_MS + 3_600_000, False),
]


@pytest.fixture
async def operators(store: SqlStore) -> SqlStore:
    """The store with two operators and three live tokens (two of duty1, one of duty2)."""

    def setup(tx: SqlTx) -> None:
        for operator in OPERATORS:
            tx.insert_operator(operator, START_MS)
        for token in TOKENS:
            tx.insert_token(token, START_MS)

    await store.write(setup)
    return store


def _revoked(store: SqlStore) -> list[bool]:
    found = [store.get_token(token.token_hash) for token in TOKENS]
    return [token is not None and token.revoked for token in found]


async def test_revoking_a_token_by_hash_revokes_only_that_token(operators: SqlStore) -> None:
    count = await operators.write(lambda tx: tx.revoke_tokens(token_hash="1" * 64))

    assert count == 1
    assert _revoked(operators) == [True, False, False]


async def test_revoking_tokens_by_username_revokes_all_of_that_operators_tokens(
    operators: SqlStore,
) -> None:
    count = await operators.write(lambda tx: tx.revoke_tokens(username="duty1"))

    assert count == 2
    assert _revoked(operators) == [True, True, False]
    assert await operators.write(lambda tx: tx.revoke_tokens(username="nobody")) == 0


async def test_a_token_reads_back_as_issued(operators: SqlStore) -> None:
    assert operators.get_token("3" * 64) == TOKENS[2]
    assert operators.get_token("f" * 64) is None


async def test_an_operator_name_is_taken_once_and_can_be_disabled(operators: SqlStore) -> None:
    with pytest.raises(Conflict, match="already exists"):
        await operators.write(
            lambda tx: tx.insert_operator(OperatorRecord("duty1", "admin", "x", False), START_MS)
        )

    disabled = await operators.write(lambda tx: tx.set_operator_disabled("duty2", True, **BY))
    missing = await operators.write(lambda tx: tx.set_operator_disabled("nobody", True, **BY))

    assert (disabled, missing) == (True, False)
    assert operators.get_operator("duty1") == OPERATORS[0]
    assert operators.list_operators() == [
        OPERATORS[0],
        OperatorRecord("duty2", "operator", "$argon2id$two", True),
    ]


async def test_disabling_records_who_and_when_and_history_does_not_make_records_unequal(
    operators: SqlStore,
) -> None:
    await operators.write(lambda tx: tx.set_operator_disabled("duty2", True, **BY))

    changed = operators.get_operator("duty2")

    assert changed is not None
    assert (changed.changed_by, changed.changed_ms, changed.created_ms) == (
        "admin",
        START_MS + 60_000,
        START_MS,
    )
    assert changed == OperatorRecord("duty2", "operator", "$argon2id$two", True)


async def test_a_person_has_one_account_not_disabled_at_a_time(operators: SqlStore) -> None:
    second = OperatorRecord("duty1b", "supervisor", "x", False, person="duty1")
    with pytest.raises(Conflict, match="person duty1 already has an account"):
        await operators.write(lambda tx: tx.insert_operator(second, START_MS))

    await operators.write(lambda tx: tx.set_operator_disabled("duty1", True, **BY))
    await operators.write(lambda tx: tx.insert_operator(second, START_MS))

    found = operators.get_operator("duty1b")
    assert found is not None
    assert found.person == "duty1"


async def test_the_database_itself_refuses_a_second_account_of_a_person(
    operators: SqlStore,
) -> None:
    # Beside the store's own check: two processes writing at once (a console and a node).
    row = {
        "username": "duty9",
        "role": "operator",
        "password_hash": "x",
        "disabled": False,
        "created_ms": START_MS,
        "person": "duty1",
    }
    with pytest.raises(IntegrityError), operators.engine.begin() as conn:
        conn.execute(t.operators.insert().values(**row))


async def test_an_account_is_approved_once_recording_who_and_when(store: SqlStore) -> None:
    pending = OperatorRecord(
        "watch2", "supervisor", "x", False, person="SN-2", pending=True, created_by="admin"
    )
    await store.write(lambda tx: tx.insert_operator(pending, START_MS))

    first = await store.write(lambda tx: tx.approve_operator("watch2", "watch1", START_MS + 5))
    again = await store.write(lambda tx: tx.approve_operator("watch2", "admin2", START_MS + 9))
    missing = await store.write(lambda tx: tx.approve_operator("nobody", "watch1", START_MS))

    assert (first, again, missing) == (True, False, False)
    approved = store.get_operator("watch2")
    assert approved is not None
    assert (approved.pending, approved.created_by, approved.approved_by, approved.approved_ms) == (
        False,
        "admin",
        "watch1",
        START_MS + 5,
    )


async def test_a_disabled_pending_account_cannot_be_approved(store: SqlStore) -> None:
    pending = OperatorRecord("duty3", "operator", "x", False, pending=True, created_by="admin")
    await store.write(lambda tx: tx.insert_operator(pending, START_MS))
    await store.write(lambda tx: tx.set_operator_disabled("duty3", True, **BY))

    assert not await store.write(lambda tx: tx.approve_operator("duty3", "watch1", START_MS))


# -- idempotency -----------------------------------------------------------------------------
async def test_an_idempotency_key_maps_to_its_event_per_operator(store: SqlStore) -> None:
    before = await store.write(lambda tx: tx.idempotent_event("duty1", "req-1"))
    await store.write(lambda tx: tx.remember_idempotency("duty1", "req-1", event_id(1)))
    await store.write(lambda tx: tx.remember_idempotency("duty2", "req-1", event_id(2)))

    found = await store.write(
        lambda tx: [
            tx.idempotent_event("duty1", "req-1"),
            tx.idempotent_event("duty2", "req-1"),
            tx.idempotent_event("duty1", "req-2"),
        ]
    )

    assert before is None
    assert found == [event_id(1), event_id(2), None]


async def test_an_idempotency_key_cannot_be_rebound_to_another_event(store: SqlStore) -> None:
    await store.write(lambda tx: tx.remember_idempotency("duty1", "req-1", event_id(1)))

    with pytest.raises(IntegrityError):
        await store.write(lambda tx: tx.remember_idempotency("duty1", "req-1", event_id(2)))

    assert await store.write(lambda tx: tx.idempotent_event("duty1", "req-1")) == event_id(1)


async def test_a_session_is_a_token_with_its_operator_as_they_are_now(operators: SqlStore) -> None:
    await operators.write(lambda tx: tx.set_operator_language("duty1", "ru"))
    await operators.write(lambda tx: tx.set_operator_disabled("duty1", True, **BY))
    await operators.write(lambda tx: tx.revoke_tokens(token_hash="2" * 64))

    session = operators.get_session("2" * 64)

    assert session == (
        TokenRecord("2" * 64, "duty1", START_MS + 3_600_000, True),
        OperatorRecord("duty1", "operator", "$argon2id$one", True, "ru"),
    )
    assert operators.get_session("f" * 64) is None


# -- the sessions' version -----------------------------------------------------------------------
async def test_the_sessions_version_moves_with_tokens_and_operators_not_with_events(
    operators: SqlStore, store_url: str
) -> None:
    before = operators.sessions_version()
    if not store_url.startswith("sqlite"):
        assert before is None  # no version kept: every session is read again
        return
    await operators.write(lambda tx: tx.remember_idempotency("duty1", "k", event_id(1)))
    assert operators.sessions_version() == before
    await operators.write(lambda tx: tx.revoke_tokens(token_hash=TOKENS[0].token_hash))
    after_revoke = operators.sessions_version()
    assert after_revoke != before
    await operators.write(lambda tx: tx.set_operator_language("duty2", "ru"))
    assert operators.sessions_version() != after_revoke


async def test_a_commit_on_another_connection_moves_the_sessions_version(
    operators: SqlStore, store_url: str
) -> None:
    if not store_url.startswith("sqlite"):
        pytest.skip("a SQLite data version")
    before = operators.sessions_version()
    other = SqlStore.open(store_url)  # as the CLI opens the node's file beside it
    try:
        other.write_sync(lambda tx: tx.remember_idempotency("duty1", "k", event_id(1)))
    finally:
        other.close()
    assert operators.sessions_version() != before
