"""SqlTx writes and SqlStore reads, on SQLite and on PostgreSQL, with real signed events."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from parley.clock import format_ts, to_ms
from parley.errors import Conflict
from parley.protocol import ChainHead, Ed25519Signer, encode_public_key, sign_event
from parley.store import (
    AckRecord,
    ChainView,
    ChannelRecord,
    OperatorRecord,
    PartyRecord,
    PendingAck,
    ReceiptRecord,
    SqlStore,
    SqlTx,
    StoredEvent,
    TokenRecord,
)
from parley.store import _schema as t

pytestmark = pytest.mark.anyio

US, RU, AE = "us-eucom", "ru-genstaff", "ae-mediator"
HOTLINE, SIDELINE = "ch_hotline0001", "ch_sideline001"
START = datetime(2026, 2, 5, 14, 0, tzinfo=UTC)
START_MS = to_ms(START)
SIGNERS = {party: Ed25519Signer.generate() for party in (US, RU, AE)}


def _ts(seconds: float) -> str:
    return format_ts(START + timedelta(seconds=seconds))


def _party(party: str, *, is_self: bool = False) -> PartyRecord:
    return PartyRecord(party, party.upper(), encode_public_key(SIGNERS[party].public_key), is_self)


async def _append(
    store: SqlStore,
    channel: str,
    author: str,
    *,
    seen: Mapping[str, int] | None = None,
    at: float = 0,
    text: str = "line check",
) -> StoredEvent:
    """Sign the next event of ``author``'s chain and store it, the way a node does."""

    def apply(tx: SqlTx) -> StoredEvent:
        head = tx.chain_view(channel, author).head
        event = sign_event(
            SIGNERS[author],
            channel=channel,
            author=author,
            seq=1 if head is None else head.seq + 1,
            prev=None if head is None else head.event_id,
            seen=dict(seen or {}),
            ts=_ts(at),
            type="message",
            body={"precedence": "routine", "text": text, "lang": "en", "by": "duty1"},
        )
        stored_ms = START_MS + int(at * 1000) + 5
        return StoredEvent(tx.insert_event(event, head, stored_ms), event, stored_ms)

    return await store.write(apply)


async def _open_channels(store: SqlStore) -> None:
    def setup(tx: SqlTx) -> None:
        tx.insert_party(_party(US, is_self=True), START_MS)
        tx.insert_party(_party(RU), START_MS)
        tx.insert_party(_party(AE), START_MS)
        tx.insert_channel(
            ChannelRecord(HOTLINE, "hotline", US, "open", {US: "party", RU: "party"}), START_MS
        )
        tx.insert_channel(
            ChannelRecord(SIDELINE, "sideline", US, "open", {US: "party", AE: "mediator"}),
            START_MS + 1,
        )

    await store.write(setup)


@pytest.fixture
async def channels(store: SqlStore) -> SqlStore:
    """The store with three parties, a US-RU hotline and a US-AE sideline."""
    await _open_channels(store)
    return store


# -- parties and channels ---------------------------------------------------------------------
async def test_a_party_is_pinned_once_and_inserting_it_again_raises_conflict(
    store: SqlStore,
) -> None:
    await store.write(lambda tx: tx.insert_party(_party(RU), START_MS))
    impostor = PartyRecord(RU, "impostor", encode_public_key(SIGNERS[AE].public_key), False)

    with pytest.raises(Conflict, match="already known"):
        await store.write(lambda tx: tx.insert_party(impostor, START_MS + 1))

    assert store.get_party(RU) == _party(RU)
    assert store.list_parties() == [_party(RU)]


async def test_parties_are_listed_by_id_and_self_is_the_one_marked_as_self(
    channels: SqlStore,
) -> None:
    assert [p.party for p in channels.list_parties()] == [AE, RU, US]
    assert channels.self_party() == _party(US, is_self=True)
    assert channels.get_party("ua-nsdc") is None


async def test_a_channel_is_stored_with_its_members_and_listed_for_members_only(
    channels: SqlStore,
) -> None:
    hotline = channels.get_channel(HOTLINE)

    assert hotline == ChannelRecord(HOTLINE, "hotline", US, "open", {US: "party", RU: "party"})
    assert [c.id for c in channels.list_channels(US)] == [HOTLINE, SIDELINE]
    assert [c.id for c in channels.list_channels(RU)] == [HOTLINE]
    assert channels.list_channels("ua-nsdc") == []
    assert channels.get_channel("ch_doesnotexist0") is None


# -- chains ----------------------------------------------------------------------------------
async def test_chain_view_is_empty_before_the_first_event_and_then_follows_the_head(
    channels: SqlStore,
) -> None:
    before = await channels.write(lambda tx: tx.chain_view(HOTLINE, US))
    await _append(channels, HOTLINE, US, at=1)
    ru1 = await _append(channels, HOTLINE, RU, seen={US: 1}, at=2)
    us2 = await _append(channels, HOTLINE, US, seen={RU: 1}, at=3)

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
    first = await _append(channels, HOTLINE, US, at=1)
    second = await _append(channels, HOTLINE, US, at=2)

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
    stored = await _append(channels, HOTLINE, US, at=1)

    raw = await channels.write(lambda tx: (tx.stored_raw(stored.event.id), tx.stored_raw("0" * 64)))

    assert raw == (stored.event.signed_bytes(), None)


async def test_a_stored_event_reads_back_equal_and_still_verifies(channels: SqlStore) -> None:
    stored = await _append(channels, HOTLINE, US, at=1.25, text="Учения в Средиземном море")

    read = channels.get_event(stored.event.id)

    assert read == stored
    assert read.event.id == stored.event.id
    read.event.verify(SIGNERS[US].public_key)
    assert channels.get_event("0" * 64) is None


async def test_the_database_refuses_a_second_event_at_one_chain_position(
    channels: SqlStore,
) -> None:
    first = await _append(channels, HOTLINE, US, at=1)
    rival = sign_event(
        SIGNERS[US],
        channel=HOTLINE,
        author=US,
        seq=1,
        prev=None,
        seen={},
        ts=_ts(9),
        type="message",
        body={"text": "a different first event"},
    )

    with pytest.raises(IntegrityError):
        await channels.write(lambda tx: tx.insert_event(rival, None, START_MS))

    assert channels.chain(HOTLINE, US) == [first.event]
    assert channels.count_events(HOTLINE) == 1


async def test_events_are_listed_in_arrival_order_by_pos(channels: SqlStore) -> None:
    appended = [
        await _append(channels, HOTLINE, US, at=1),
        await _append(channels, SIDELINE, US, at=2),
        await _append(channels, HOTLINE, RU, seen={US: 1}, at=3),
        await _append(channels, HOTLINE, US, seen={RU: 1}, at=4),
        await _append(channels, SIDELINE, AE, seen={US: 1}, at=5),
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
        await _append(channels, HOTLINE, US, at=1),
        await _append(channels, SIDELINE, US, at=2),
        await _append(channels, HOTLINE, RU, seen={US: 1}, at=3),
        await _append(channels, SIDELINE, AE, seen={US: 1}, at=4),
        await _append(channels, HOTLINE, US, seen={RU: 1}, at=5),
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
    us1 = await _append(channels, HOTLINE, US, at=1)
    await _append(channels, HOTLINE, RU, seen={US: 1}, at=2)
    us2 = await _append(channels, HOTLINE, US, seen={RU: 1}, at=3)
    await _append(channels, SIDELINE, US, at=4)

    assert channels.chain(HOTLINE, US) == [us1.event, us2.event]
    assert channels.chain(HOTLINE, AE) == []
    assert (channels.count_events(HOTLINE), channels.count_events()) == (3, 4)


# -- receipts --------------------------------------------------------------------------------
async def test_receipts_are_recorded_only_when_seen_increases(channels: SqlStore) -> None:
    for at in (1, 2, 3):
        await _append(channels, HOTLINE, RU, at=at)
    await _append(channels, HOTLINE, US, seen={RU: 1}, at=10)  # learns RU#1
    await _append(channels, HOTLINE, US, seen={RU: 1}, at=11)  # nothing new
    await _append(channels, HOTLINE, US, seen={RU: 3}, at=12)  # learns up to RU#3
    await _append(channels, HOTLINE, US, seen={RU: 3}, at=13)  # nothing new

    receipts = channels.receipts_for(HOTLINE, {RU}, 0)

    assert receipts == [
        ReceiptRecord(US, RU, 1, START_MS + 10_000),
        ReceiptRecord(US, RU, 3, START_MS + 12_000),
    ]
    assert channels.receipts_for(HOTLINE, {RU}, 2) == receipts[1:]
    assert channels.receipts_for(HOTLINE, {US}, 0) == []


async def test_receipts_are_kept_per_member_and_author(channels: SqlStore) -> None:
    await _append(channels, SIDELINE, US, at=1)
    await _append(channels, SIDELINE, AE, seen={US: 1}, at=2)
    await _append(channels, SIDELINE, US, seen={AE: 1}, at=3)

    receipts = channels.receipts_for(SIDELINE, {US, AE}, 0)

    assert sorted(receipts, key=lambda r: r.member) == [
        ReceiptRecord(AE, US, 1, START_MS + 2_000),
        ReceiptRecord(US, AE, 1, START_MS + 3_000),
    ]
    assert channels.receipts_for(HOTLINE, {US, AE}, 0) == []


# -- equivocation ----------------------------------------------------------------------------
async def test_an_equivocation_keeps_both_signed_versions_as_proof(channels: SqlStore) -> None:
    stored = await _append(channels, HOTLINE, RU, at=1)
    rival = sign_event(
        SIGNERS[RU],
        channel=HOTLINE,
        author=RU,
        seq=1,
        prev=None,
        seen={},
        ts=_ts(2),
        type="message",
        body={"text": "not what was said"},
    )

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


# -- acknowledgements ------------------------------------------------------------------------
async def test_acks_are_recorded_per_party_and_read_back_by_event(channels: SqlStore) -> None:
    notice = (await _append(channels, SIDELINE, US, at=1)).event.id
    other = (await _append(channels, SIDELINE, US, at=2)).event.id
    by_ae = AckRecord(notice, AE, "officer2", _ts(60), "a" * 64)
    by_us = AckRecord(notice, US, "duty1", _ts(61), "b" * 64)

    empty = await channels.write(lambda tx: tx.acks_of(notice))
    await channels.write(lambda tx: tx.insert_ack(by_ae))
    await channels.write(lambda tx: tx.insert_ack(by_us))
    acks = await channels.write(lambda tx: (tx.acks_of(notice), tx.acks_of(other)))

    assert empty == {}
    assert acks == ({AE: "a" * 64, US: "b" * 64}, {})
    found = channels.acks_for([notice, other])
    assert sorted(found[notice], key=lambda a: a.party) == [by_ae, by_us]
    assert other not in found


async def test_a_party_acknowledges_an_event_once(channels: SqlStore) -> None:
    ack = AckRecord("e" * 64, AE, "officer2", _ts(60), "a" * 64)
    await channels.write(lambda tx: tx.insert_ack(ack))

    again = AckRecord("e" * 64, AE, "officer3", _ts(61), "c" * 64)

    with pytest.raises(IntegrityError):
        await channels.write(lambda tx: tx.insert_ack(again))

    assert await channels.write(lambda tx: tx.acks_of("e" * 64)) == {AE: "a" * 64}


# -- deadlines and alerts --------------------------------------------------------------------
def _event_id(n: int) -> str:
    return f"{n:064x}"


async def test_due_pending_acks_are_the_overdue_unescalated_ones_by_deadline(
    channels: SqlStore,
) -> None:
    def add(tx: SqlTx) -> None:
        tx.add_pending_ack(_event_id(1), HOTLINE, START_MS + 3_000)
        tx.add_pending_ack(_event_id(2), HOTLINE, START_MS + 1_000)
        tx.add_pending_ack(_event_id(3), SIDELINE, START_MS + 2_000)
        tx.add_pending_ack(_event_id(4), SIDELINE, START_MS + 9_000)

    await channels.write(add)

    assert channels.due_pending_acks(START_MS) == []
    assert channels.due_pending_acks(START_MS + 2_000) == [
        PendingAck(_event_id(2), HOTLINE, START_MS + 1_000),
        PendingAck(_event_id(3), SIDELINE, START_MS + 2_000),
    ]
    assert [p.event_id for p in channels.due_pending_acks(START_MS + 5_000)] == [
        _event_id(2),
        _event_id(3),
        _event_id(1),
    ]
    assert len(channels.due_pending_acks(START_MS + 10_000, limit=2)) == 2


async def test_escalating_a_pending_ack_opens_an_alert_and_it_is_no_longer_due(
    channels: SqlStore,
) -> None:
    pending = PendingAck(_event_id(1), HOTLINE, START_MS + 1_000)
    await channels.write(lambda tx: tx.add_pending_ack(pending.event_id, HOTLINE, START_MS + 1_000))
    detail: dict[str, Any] = {"precedence": "flash", "note": "нет ответа"}

    alert_id = await channels.write(
        lambda tx: tx.escalate(pending, "critical", detail, START_MS + 2_000)
    )

    assert channels.due_pending_acks(START_MS + 60_000) == []
    alert = channels.get_alert(alert_id)
    assert alert is not None
    assert (alert.kind, alert.severity, alert.channel, alert.event_id) == (
        "overdue",
        "critical",
        HOTLINE,
        pending.event_id,
    )
    assert json.loads(alert.detail) == detail
    assert (alert.created_ms, alert.resolved_ms) == (START_MS + 2_000, None)
    assert channels.list_alerts(open_only=True) == [alert]


async def test_clearing_a_pending_ack_resolves_its_open_alerts_only(channels: SqlStore) -> None:
    late, other = (PendingAck(_event_id(n), HOTLINE, START_MS + 1_000) for n in (1, 2))

    def escalate_both(tx: SqlTx) -> list[int]:
        ids = []
        for pending in (late, other):
            tx.add_pending_ack(pending.event_id, pending.channel, pending.deadline_ms)
            ids.append(tx.escalate(pending, "warning", {}, START_MS + 2_000))
        return ids

    late_alert, other_alert = await channels.write(escalate_both)

    await channels.write(lambda tx: tx.clear_pending_ack(late.event_id, START_MS + 5_000))
    # Resolving again later must not move the time it was resolved.
    await channels.write(lambda tx: tx.clear_pending_ack(late.event_id, START_MS + 9_000))

    resolved = channels.get_alert(late_alert)
    assert resolved is not None
    assert resolved.resolved_ms == START_MS + 5_000
    assert [a.id for a in channels.list_alerts(open_only=True)] == [other_alert]
    assert [a.id for a in channels.list_alerts()] == [late_alert, other_alert]
    assert [a.id for a in channels.list_alerts(after_id=late_alert)] == [other_alert]


async def test_a_reply_clock_runs_beside_the_ack_clock_of_the_same_event(
    channels: SqlStore,
) -> None:
    def both(tx: SqlTx) -> None:
        tx.add_pending_ack(_event_id(1), HOTLINE, START_MS + 1_000)
        tx.add_pending_ack(_event_id(1), HOTLINE, START_MS + 9_000, kind="reply")

    await channels.write(both)
    await channels.write(lambda tx: tx.clear_pending_ack(_event_id(1), START_MS + 500))
    (due,) = channels.due_pending_acks(START_MS + 10_000)
    assert (due.event_id, due.kind, due.deadline_ms) == (_event_id(1), "reply", START_MS + 9_000)
    alert_id = await channels.write(lambda tx: tx.escalate(due, "high", {}, START_MS + 10_000))
    alert = channels.get_alert(alert_id)
    assert alert is not None
    assert alert.kind == "reply_overdue"


async def test_clearing_a_pending_ack_before_its_deadline_stops_it_being_due(
    channels: SqlStore,
) -> None:
    await channels.write(lambda tx: tx.add_pending_ack(_event_id(1), HOTLINE, START_MS + 1_000))

    await channels.write(lambda tx: tx.clear_pending_ack(_event_id(1), START_MS + 500))

    assert channels.due_pending_acks(START_MS + 60_000) == []
    assert channels.list_alerts() == []


async def test_an_event_has_at_most_one_alert_of_a_kind(channels: SqlStore) -> None:
    await channels.write(
        lambda tx: tx.insert_alert("ack_overdue", "warning", HOTLINE, _event_id(1), {}, START_MS)
    )

    with pytest.raises(IntegrityError):
        await channels.write(
            lambda tx: tx.insert_alert("ack_overdue", "critical", HOTLINE, _event_id(1), {}, 1)
        )

    assert [a.severity for a in channels.list_alerts()] == ["warning"]


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
    await store.write(lambda tx: tx.remember_idempotency("duty1", "req-1", _event_id(1)))
    await store.write(lambda tx: tx.remember_idempotency("duty2", "req-1", _event_id(2)))

    found = await store.write(
        lambda tx: [
            tx.idempotent_event("duty1", "req-1"),
            tx.idempotent_event("duty2", "req-1"),
            tx.idempotent_event("duty1", "req-2"),
        ]
    )

    assert before is None
    assert found == [_event_id(1), _event_id(2), None]


async def test_an_idempotency_key_cannot_be_rebound_to_another_event(store: SqlStore) -> None:
    await store.write(lambda tx: tx.remember_idempotency("duty1", "req-1", _event_id(1)))

    with pytest.raises(IntegrityError):
        await store.write(lambda tx: tx.remember_idempotency("duty1", "req-1", _event_id(2)))

    assert await store.write(lambda tx: tx.idempotent_event("duty1", "req-1")) == _event_id(1)
