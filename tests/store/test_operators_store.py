"""Operators, tokens and idempotency keys in the store, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from parley.errors import Conflict
from parley.store import OperatorRecord, SqlStore, SqlTx, TokenRecord
from tests.store.scenario import START_MS, event_id

pytestmark = pytest.mark.anyio


# -- operators and tokens --------------------------------------------------------------------
OPERATORS = [
    OperatorRecord("duty1", "operator", "$argon2id$one", False),
    OperatorRecord("duty2", "operator", "$argon2id$two", False),
]
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

    disabled = await operators.write(lambda tx: tx.set_operator_disabled("duty2", True))
    missing = await operators.write(lambda tx: tx.set_operator_disabled("nobody", True))

    assert (disabled, missing) == (True, False)
    assert operators.get_operator("duty1") == OPERATORS[0]
    assert operators.list_operators() == [
        OPERATORS[0],
        OperatorRecord("duty2", "operator", "$argon2id$two", True),
    ]


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
    await operators.write(lambda tx: tx.set_operator_disabled("duty1", True))
    await operators.write(lambda tx: tx.revoke_tokens(token_hash="2" * 64))

    session = operators.get_session("2" * 64)

    assert session == (
        TokenRecord("2" * 64, "duty1", START_MS + 3_600_000, True),
        OperatorRecord("duty1", "operator", "$argon2id$one", True, "ru"),
    )
    assert operators.get_session("f" * 64) is None
