"""The transparency log in the store, on SQLite and on PostgreSQL."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import QueuePool

from parley.errors import Conflict
from parley.protocol import CompactRange, build_tiles, leaf_hash
from parley.store import CheckpointRecord, CosignatureRecord, LogEntry, SqlStore, WitnessedRecord
from tests.store.scenario import HOTLINE, RU, START_MS, US, append, open_channels

pytestmark = pytest.mark.anyio
Node = tuple[int, int, bytes]


def _ids(start: int, count: int) -> list[str]:
    return [hashlib.sha256(b"event %d" % i).hexdigest() for i in range(start, start + count)]


async def _grow(store: SqlStore, tree: CompactRange, ids: list[str]) -> list[Node]:
    """Append ``ids`` as the log does: leaf hashes and every node they complete."""
    size = tree.size
    nodes = [node for event_id in ids for node in tree.append(leaf_hash(event_id.encode()))]
    await store.write(lambda tx: tx.append_log(size, ids, nodes))
    return nodes


async def test_appended_leaves_and_nodes_are_read_back_by_key(store: SqlStore) -> None:
    tree = CompactRange.empty()
    ids = _ids(0, 7)
    nodes = await _grow(store, tree, ids[:3])
    nodes += await _grow(store, tree, ids[3:])

    assert store.log_size() == 7
    assert [store.log_index(i) for i in ids] == list(range(7))
    assert store.log_index("f" * 64) is None
    assert store.log_indices([ids[6], ids[0], "f" * 64]) == {ids[6]: 6, ids[0]: 0}
    expected = {(level, index): h for level, index, h in nodes}
    assert set(expected) == {(0, i) for i in range(7)} | {(1, 0), (1, 1), (1, 2), (2, 0)}
    assert store.log_nodes([*expected, (3, 0), (0, 7)]) == expected


async def test_many_node_keys_are_read_in_chunks(store: SqlStore) -> None:
    tree = CompactRange.empty()
    nodes = await _grow(store, tree, _ids(0, 1000))
    keys = [(level, index) for level, index, _ in nodes]

    found = store.log_nodes(keys)

    assert len(found) == len(nodes) == 1000 + 500 + 250 + 125 + 62 + 31 + 15 + 7 + 3 + 1
    assert found == {(level, index): h for level, index, h in nodes}


async def test_an_append_from_a_stale_size_writes_nothing(store: SqlStore) -> None:
    tree = CompactRange.empty()
    await _grow(store, tree, _ids(0, 2))
    stale = CompactRange.empty()

    with pytest.raises(Conflict, match="the log has 2 entries, not 0"):
        await _grow(store, stale, _ids(2, 1))

    assert store.log_size() == 2
    assert store.log_nodes([(0, 2)]) == {}


async def test_an_event_is_never_logged_twice(store: SqlStore) -> None:
    tree = CompactRange.empty()
    ids = _ids(0, 2)
    await _grow(store, tree, ids)

    with pytest.raises(IntegrityError):
        await _grow(store, tree.copy(), ids[:1])

    assert store.log_size() == 2


async def test_log_entries_follow_local_order_and_resume_after_the_last_logged_event(
    store: SqlStore,
) -> None:
    await open_channels(store)
    stored = [await append(store, HOTLINE, author, at=n) for n, author in enumerate([US, RU, US])]
    assert store.last_logged_pos() == 0

    entries = store.log_entries(0, 2)

    assert entries == [LogEntry(s.pos, s.event.id, s.event.signed_bytes()) for s in stored[:2]]
    await _grow(store, CompactRange.empty(), [e.event_id for e in entries])
    assert store.last_logged_pos() == stored[1].pos
    assert [e.event_id for e in store.log_entries(store.last_logged_pos(), 10)] == [
        stored[2].event.id
    ]


async def test_a_checkpoint_is_stored_once_per_size_and_the_largest_is_the_latest(
    store: SqlStore,
) -> None:
    assert store.latest_checkpoint() is None
    first = CheckpointRecord(3, b"\x01" * 32, "us-eucom\n3\nAQ==\n\n— us-eucom x\n", START_MS)
    second = CheckpointRecord(5, b"\x02" * 32, "us-eucom\n5\nAg==\n\n— us-eucom y\n", START_MS + 1)

    assert await store.write(lambda tx: tx.insert_checkpoint(second))
    assert await store.write(lambda tx: tx.insert_checkpoint(first))
    again = CheckpointRecord(5, b"\x03" * 32, "other", START_MS + 2)
    assert not await store.write(lambda tx: tx.insert_checkpoint(again))

    assert store.latest_checkpoint() == second
    assert store.checkpoint_at(3) == first
    assert store.checkpoint_at(4) is None


async def test_a_witness_cosigns_a_size_once_and_cosignatures_are_listed_by_witness(
    store: SqlStore,
) -> None:
    ru = CosignatureRecord(5, RU, "— ru-genstaff AAAA\n", 1770300000)
    ae = CosignatureRecord(5, "ae-mediator", "— ae-mediator BBBB\n", 1770300001)

    assert await store.write(lambda tx: tx.insert_cosignature(ru))
    assert await store.write(lambda tx: tx.insert_cosignature(ae))
    assert not await store.write(
        lambda tx: tx.insert_cosignature(CosignatureRecord(5, RU, "— ru-genstaff CCCC\n", 9))
    )

    assert store.cosignatures_of(5) == [ae, ru]
    assert store.cosignatures_of(6) == []


async def test_the_witnessed_checkpoint_of_a_peer_is_replaced_by_the_next(
    store: SqlStore,
) -> None:
    assert store.get_witnessed(RU) is None
    first = WitnessedRecord(RU, 3, b"\x01" * 32, "note 3", START_MS)
    later = WitnessedRecord(RU, 8, b"\x02" * 32, "note 8", START_MS + 60_000)

    await store.write(lambda tx: tx.set_witnessed(first))
    await store.write(lambda tx: tx.set_witnessed(later))

    assert store.get_witnessed(RU) == later


async def test_split_view_evidence_is_kept_with_the_proof_served(store: SqlStore) -> None:
    proof = [b"\x07" * 32, b"\x08" * 32]

    split = await store.write(
        lambda tx: tx.record_split_view(RU, "inconsistent", "note a", "note b", proof, START_MS)
    )
    await store.write(lambda tx: tx.record_split_view(US, "fork", "x", "y", [], START_MS + 1))

    (kept,) = store.list_split_views(RU)
    assert (kept.id, kept.party, kept.reason) == (split, RU, "inconsistent")
    assert (kept.note_a, kept.note_b, kept.proof, kept.detected_ms) == (
        "note a",
        "note b",
        proof,
        START_MS,
    )
    assert [s.party for s in store.list_split_views()] == [RU, US]


async def test_reads_in_a_log_reader_share_one_connection_and_answer_the_same(
    store: SqlStore,
) -> None:
    tree = CompactRange.empty()
    ids = _ids(0, 5)
    await _grow(store, tree, ids)
    outside = (store.log_size(), store.log_index(ids[3]), store.log_nodes([(0, 4), (2, 0)]))

    pool = store.engine.pool
    assert isinstance(pool, QueuePool)
    with store.log_reader():
        held = pool.checkedout()
        inside = (store.log_size(), store.log_index(ids[3]), store.log_nodes([(0, 4), (2, 0)]))
        with store.log_reader():
            assert store.latest_checkpoint() is None
        assert pool.checkedout() == held

    assert inside == outside
    assert pool.checkedout() == held - 1


async def test_the_tree_is_kept_as_tiles_grown_batch_by_batch(store: SqlStore) -> None:
    tree = CompactRange.empty()
    ids = _ids(0, 600)
    for start, end in [(0, 100), (100, 256), (256, 257), (257, 600)]:
        await _grow(store, tree, ids[start:end])

    tiles = build_tiles([leaf_hash(event_id.encode()) for event_id in ids])
    assert {key: store.log_tile(*key) for key in tiles} == tiles
    assert (len(tiles[(0, 2)]), len(tiles[(1, 0)])) == (88 * 32, 2 * 32)
    assert store.log_tile(0, 3) is None
    assert store.log_tile(2, 0) is None


async def test_a_tile_that_does_not_end_where_the_append_starts_is_a_conflict(
    store: SqlStore,
) -> None:
    tree = CompactRange.empty()
    await _grow(store, tree, _ids(0, 3))
    skipped = [(0, 4, b"\x05" * 32)]

    with pytest.raises(Conflict, match="tile 0/0 does not end at hash 4"):
        await store.write(lambda tx: tx.append_log(3, _ids(3, 1), skipped))

    assert store.log_size() == 3
    assert len(store.log_tile(0, 0) or b"") == 3 * 32
