"""Events, chains, receipts and equivocations in the store, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from parley.protocol import ChainHead, Event, sign_event
from parley.store import ChainView, ReceiptRecord, SqlStore, SqlTx
from parley.store import _schema as t
from tests.store.scenario import AE, HOTLINE, RU, SIDELINE, SIGNERS, START_MS, US, append, ts

pytestmark = pytest.mark.anyio


def _rival_first_event(channel: str, author: str, *, at: float, text: str) -> Event:
    """A validly signed seq 1 of ``author``'s chain, other than the one stored."""
    return sign_event(
        SIGNERS[author],
        channel=channel,
        author=author,
        seq=1,
        prev=None,
        seen={},
        ts=ts(at),
        type="message",
        body={"text": text},
    )


# -- chains ----------------------------------------------------------------------------------
async def test_chain_view_is_empty_before_the_first_event_and_then_follows_the_head(
    channels: SqlStore,
) -> None:
    before = await channels.write(lambda tx: tx.chain_view(HOTLINE, US))
    await append(channels, HOTLINE, US, at=1)
    ru1 = await append(channels, HOTLINE, RU, seen={US: 1}, at=2)
    us2 = await append(channels, HOTLINE, US, seen={RU: 1}, at=3)

    after = await channels.write(lambda tx: tx.chain_view(HOTLINE, US))
    of_ru = await channels.write(lambda tx: tx.chain_view(HOTLINE, RU))
    of_ae = await channels.write(lambda tx: tx.chain_view(HOTLINE, AE))

    assert before == ChainView(None, {})
    assert after == ChainView(ChainHead(2, us2.event.id, {RU: 1}), {US: 2, RU: 1})
    assert of_ru == ChainView(ChainHead(1, ru1.event.id, {US: 1}), {US: 2, RU: 1})
    assert of_ae == ChainView(None, {US: 2, RU: 1})


async def test_stored_id_at_finds_the_event_at_a_seq_and_nothing_past_the_head(
    channels: SqlStore,
) -> None:
    first = await append(channels, HOTLINE, US, at=1)
    second = await append(channels, HOTLINE, US, at=2)

    found = await channels.write(
        lambda tx: (
            [tx.stored_id_at(HOTLINE, US, seq) for seq in (1, 2, 3)]
            + [tx.stored_id_at(HOTLINE, RU, 1), tx.stored_id_at(SIDELINE, US, 1)]
        )
    )

    assert found == [first.event.id, second.event.id, None, None, None]


async def test_stored_raw_is_the_signed_canonical_bytes_of_the_event(
    channels: SqlStore,
) -> None:
    stored = await append(channels, HOTLINE, US, at=1)

    raw = await channels.write(lambda tx: (tx.stored_raw(stored.event.id), tx.stored_raw("0" * 64)))

    assert raw == (stored.event.signed_bytes(), None)


async def test_a_stored_event_reads_back_equal_and_still_verifies(channels: SqlStore) -> None:
    stored = await append(channels, HOTLINE, US, at=1.25, text="Учения в Средиземном море")

    read = channels.get_event(stored.event.id)

    assert read == stored
    assert read.event.id == stored.event.id
    read.event.verify(SIGNERS[US].public_key)
    assert channels.get_event("0" * 64) is None


async def test_the_database_refuses_a_second_event_at_one_chain_position(
    channels: SqlStore,
) -> None:
    first = await append(channels, HOTLINE, US, at=1)
    rival = _rival_first_event(HOTLINE, US, at=9, text="a different first event")

    with pytest.raises(IntegrityError):
        await channels.write(lambda tx: tx.insert_event(rival, None, START_MS))

    assert channels.chain(HOTLINE, US) == [first.event]
    assert channels.count_events(HOTLINE) == 1


async def test_events_are_listed_in_arrival_order_by_pos(channels: SqlStore) -> None:
    appended = [
        await append(channels, HOTLINE, US, at=1),
        await append(channels, SIDELINE, US, at=2),
        await append(channels, HOTLINE, RU, seen={US: 1}, at=3),
        await append(channels, HOTLINE, US, seen={RU: 1}, at=4),
        await append(channels, SIDELINE, AE, seen={US: 1}, at=5),
    ]
    on_hotline = [s for s in appended if s.event.channel == HOTLINE]

    listed = channels.list_events(HOTLINE)

    assert listed == on_hotline
    assert [s.pos for s in appended] == sorted(s.pos for s in appended)
    assert len({s.pos for s in appended}) == len(appended)
    assert channels.list_events(HOTLINE, after=on_hotline[0].pos) == on_hotline[1:]
    assert channels.list_events(HOTLINE, limit=2) == on_hotline[:2]
    assert channels.list_events(HOTLINE, after=on_hotline[-1].pos) == []


async def test_events_since_merges_channels_by_pos_after_a_position_up_to_a_limit(
    channels: SqlStore,
) -> None:
    appended = [
        await append(channels, HOTLINE, US, at=1),
        await append(channels, SIDELINE, US, at=2),
        await append(channels, HOTLINE, RU, seen={US: 1}, at=3),
        await append(channels, SIDELINE, AE, seen={US: 1}, at=4),
        await append(channels, HOTLINE, US, seen={RU: 1}, at=5),
    ]

    both = channels.events_since([HOTLINE, SIDELINE], 0, 100)
    later = channels.events_since([HOTLINE, SIDELINE], appended[1].pos, 2)
    sideline_only = channels.events_since([SIDELINE], 0, 100)

    assert both == appended
    assert later == appended[2:4]
    assert sideline_only == [appended[1], appended[3]]
    assert channels.events_since([], 0, 100) == []


async def test_chain_lists_one_authors_events_by_seq_and_count_events_counts_them(
    channels: SqlStore,
) -> None:
    us1 = await append(channels, HOTLINE, US, at=1)
    await append(channels, HOTLINE, RU, seen={US: 1}, at=2)
    us2 = await append(channels, HOTLINE, US, seen={RU: 1}, at=3)
    await append(channels, SIDELINE, US, at=4)

    assert channels.chain(HOTLINE, US) == [us1.event, us2.event]
    assert channels.chain(HOTLINE, AE) == []
    assert (channels.count_events(HOTLINE), channels.count_events()) == (3, 4)


# -- receipts --------------------------------------------------------------------------------
async def test_receipts_are_recorded_only_when_seen_increases(channels: SqlStore) -> None:
    for at in (1, 2, 3):
        await append(channels, HOTLINE, RU, at=at)
    await append(channels, HOTLINE, US, seen={RU: 1}, at=10)  # learns RU#1
    await append(channels, HOTLINE, US, seen={RU: 1}, at=11)  # nothing new
    await append(channels, HOTLINE, US, seen={RU: 3}, at=12)  # learns up to RU#3
    await append(channels, HOTLINE, US, seen={RU: 3}, at=13)  # nothing new

    receipts = channels.receipts_for(HOTLINE, {RU}, 0)

    assert receipts == [
        ReceiptRecord(US, RU, 1, START_MS + 10_000),
        ReceiptRecord(US, RU, 3, START_MS + 12_000),
    ]
    assert channels.receipts_for(HOTLINE, {RU}, 2) == receipts[1:]
    assert channels.receipts_for(HOTLINE, {US}, 0) == []


async def test_receipts_are_kept_per_member_and_author(channels: SqlStore) -> None:
    await append(channels, SIDELINE, US, at=1)
    await append(channels, SIDELINE, AE, seen={US: 1}, at=2)
    await append(channels, SIDELINE, US, seen={AE: 1}, at=3)

    receipts = channels.receipts_for(SIDELINE, {US, AE}, 0)

    assert sorted(receipts, key=lambda r: r.member) == [
        ReceiptRecord(AE, US, 1, START_MS + 2_000),
        ReceiptRecord(US, AE, 1, START_MS + 3_000),
    ]
    assert channels.receipts_for(HOTLINE, {US, AE}, 0) == []


# -- equivocation ----------------------------------------------------------------------------
async def test_an_equivocation_keeps_both_signed_versions_as_proof(channels: SqlStore) -> None:
    stored = await append(channels, HOTLINE, RU, at=1)
    rival = _rival_first_event(HOTLINE, RU, at=2, text="not what was said")

    def record(tx: SqlTx) -> None:
        raw = tx.stored_raw(stored.event.id)
        assert raw is not None
        tx.record_equivocation(rival, raw, START_MS + 99)

    await channels.write(record)

    with channels.engine.connect() as conn:
        row = conn.execute(select(t.equivocations)).one()
    assert (row.channel, row.author, row.seq, row.detected_ms) == (HOTLINE, RU, 1, START_MS + 99)
    assert (bytes(row.stored_raw), bytes(row.conflicting_raw)) == (
        stored.event.signed_bytes(),
        rival.signed_bytes(),
    )
    assert channels.chain(HOTLINE, RU) == [stored.event]
