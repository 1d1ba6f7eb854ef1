"""The key history of parties, on SQLite and on PostgreSQL: pinned, changed, compromised."""

from __future__ import annotations

import pytest

from parley.protocol import encode_public_key, fingerprint
from parley.store import PartyKeyRecord, SqlStore
from tests.store.scenario import AE, RU, SIGNERS, START_MS, party_record

pytestmark = pytest.mark.anyio
NEW = SIGNERS[AE].public_key  # any other key will do


def changed(valid_from_ms: int) -> PartyKeyRecord:
    return PartyKeyRecord(
        RU, encode_public_key(NEW), fingerprint(NEW), valid_from_ms, None, None, "key_change", "e1"
    )


async def test_pinning_a_party_starts_its_key_history(store: SqlStore) -> None:
    await store.write(lambda tx: tx.insert_party(party_record(RU), START_MS))

    (first,) = store.party_keys(RU)

    assert (first.key, first.learnt) == (party_record(RU).public_key, "pinned")
    assert (first.valid_from_ms, first.valid_until_ms, first.compromised_ms) == (None, None, None)
    assert first.fingerprint == fingerprint(SIGNERS[RU].public_key)


async def test_a_new_key_ends_the_current_one_and_becomes_the_pinned_key(store: SqlStore) -> None:
    await store.write(lambda tx: tx.insert_party(party_record(RU), START_MS))

    await store.write(lambda tx: tx.add_party_key(changed(START_MS + 5)))

    old, new = store.party_keys(RU)
    assert (old.valid_until_ms, new.valid_from_ms, new.valid_until_ms) == (
        START_MS + 5,
        START_MS + 5,
        None,
    )
    assert new.event_id == "e1"
    party = store.get_party(RU)
    assert party is not None
    assert party.public_key == encode_public_key(NEW)


async def test_a_compromise_keeps_the_earliest_time_declared(store: SqlStore) -> None:
    await store.write(lambda tx: tx.insert_party(party_record(RU), START_MS))
    printed = fingerprint(SIGNERS[RU].public_key)

    def declare(since_ms: int) -> bool:
        return store.write_sync(lambda tx: tx.set_key_compromised(RU, printed, since_ms))

    assert declare(START_MS + 10)
    assert not declare(START_MS + 20)
    assert declare(START_MS + 5)
    assert store.party_keys(RU)[0].compromised_ms == START_MS + 5
    await store.write(lambda tx: tx.set_key_flagged(RU, printed, START_MS + 30))
    assert store.party_keys(RU)[0].flagged_ms == START_MS + 30
