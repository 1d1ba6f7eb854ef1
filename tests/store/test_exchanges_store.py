"""Exchange keys and operators' grants in the store, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from parley.store import OperatorRecord, SqlStore, SqlTx
from tests.store.scenario import START_MS

pytestmark = pytest.mark.anyio

AGREEMENT = "ab" * 32
PRIVATE = bytes(range(32))


async def test_a_key_is_kept_once_and_shredded_once(store: SqlStore) -> None:
    def keep(tx: SqlTx) -> bool:
        return tx.insert_exchange_key(AGREEMENT, PRIVATE, "cHVibGlj", START_MS)

    assert await store.write(keep)
    assert not await store.write(keep)
    kept = store.exchange_key(AGREEMENT)
    assert kept is not None
    assert kept.private_key == PRIVATE
    assert kept.shredded_ms is None

    def shred(tx: SqlTx) -> bool:
        return tx.shred_exchange_key(AGREEMENT, "officer1", START_MS + 1)

    assert await store.write(shred)
    assert not await store.write(shred)
    shredded = store.exchange_key(AGREEMENT)
    assert shredded is not None
    assert shredded.private_key is None
    assert (shredded.shredded_by, shredded.shredded_ms) == ("officer1", START_MS + 1)
    assert shredded.public_key == "cHVibGlj"
    assert store.exchange_key("cd" * 32) is None


async def test_grants_are_given_once_listed_and_revoked(store: SqlStore) -> None:
    await store.write(
        lambda tx: tx.insert_operator(OperatorRecord("duty1", "operator", "x", False), START_MS)
    )
    assert await store.write(lambda tx: tx.grant("duty1", "exchange", "admin", START_MS))
    assert not await store.write(lambda tx: tx.grant("duty1", "exchange", "admin", START_MS))
    assert store.grants_of("duty1") == frozenset({"exchange"})
    assert [(g.username, g.permission, g.granted_by) for g in store.list_grants()] == [
        ("duty1", "exchange", "admin")
    ]
    assert await store.write(lambda tx: tx.revoke("duty1", "exchange"))
    assert not await store.write(lambda tx: tx.revoke("duty1", "exchange"))
    assert store.grants_of("duty1") == frozenset()


async def test_a_grant_names_an_existing_operator(store: SqlStore) -> None:
    with pytest.raises(IntegrityError):
        await store.write(lambda tx: tx.grant("nobody", "exchange", "admin", START_MS))
