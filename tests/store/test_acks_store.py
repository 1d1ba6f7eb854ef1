"""Acks and the ack and reply clocks in the store, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from parley.store import AckRecord, PendingAck, ReplyRecord, SqlStore, SqlTx
from tests.store.scenario import AE, HOTLINE, RU, SIDELINE, START_MS, US, append, event_id, ts

pytestmark = pytest.mark.anyio


# -- acknowledgements ------------------------------------------------------------------------
async def test_acks_are_recorded_per_party_and_read_back_by_event(channels: SqlStore) -> None:
    notice = (await append(channels, SIDELINE, US, at=1)).event.id
    other = (await append(channels, SIDELINE, US, at=2)).event.id
    by_ae = AckRecord(notice, AE, "officer2", ts(60), "a" * 64)
    by_us = AckRecord(notice, US, "duty1", ts(61), "b" * 64)

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
    ack = AckRecord("e" * 64, AE, "officer2", ts(60), "a" * 64)
    await channels.write(lambda tx: tx.insert_ack(ack))

    again = AckRecord("e" * 64, AE, "officer3", ts(61), "c" * 64)

    with pytest.raises(IntegrityError):
        await channels.write(lambda tx: tx.insert_ack(again))

    assert await channels.write(lambda tx: tx.acks_of("e" * 64)) == {AE: "a" * 64}


# -- replies ---------------------------------------------------------------------------------
async def test_the_first_reply_stored_answers_a_request(channels: SqlStore) -> None:
    first = ReplyRecord(event_id(1), RU, "duty1", ts(60), event_id(2))
    later = ReplyRecord(event_id(1), AE, "officer2", ts(90), event_id(3))
    other = ReplyRecord(event_id(4), US, "duty2", ts(95), event_id(5))

    def record(tx: SqlTx) -> None:
        for reply in (first, later, other):
            tx.record_reply(reply)

    await channels.write(record)

    assert channels.replies_for([event_id(1), event_id(4), event_id(9)]) == {
        event_id(1): first,
        event_id(4): other,
    }
    assert channels.replies_for([]) == {}


# -- ack and reply clocks ----------------------------------------------------------------------
async def test_due_pending_acks_are_the_overdue_unescalated_ones_by_deadline(
    channels: SqlStore,
) -> None:
    def add(tx: SqlTx) -> None:
        tx.add_pending_ack(event_id(1), HOTLINE, START_MS + 3_000)
        tx.add_pending_ack(event_id(2), HOTLINE, START_MS + 1_000)
        tx.add_pending_ack(event_id(3), SIDELINE, START_MS + 2_000)
        tx.add_pending_ack(event_id(4), SIDELINE, START_MS + 9_000)

    await channels.write(add)

    assert channels.due_pending_acks(START_MS) == []
    assert channels.due_pending_acks(START_MS + 2_000) == [
        PendingAck(event_id(2), HOTLINE, START_MS + 1_000),
        PendingAck(event_id(3), SIDELINE, START_MS + 2_000),
    ]
    assert [p.event_id for p in channels.due_pending_acks(START_MS + 5_000)] == [
        event_id(2),
        event_id(3),
        event_id(1),
    ]
    assert len(channels.due_pending_acks(START_MS + 10_000, limit=2)) == 2


async def test_escalating_a_pending_ack_opens_an_alert_and_it_is_no_longer_due(
    channels: SqlStore,
) -> None:
    pending = PendingAck(event_id(1), HOTLINE, START_MS + 1_000)
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
    late, other = (PendingAck(event_id(n), HOTLINE, START_MS + 1_000) for n in (1, 2))

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
        tx.add_pending_ack(event_id(1), HOTLINE, START_MS + 1_000)
        tx.add_pending_ack(event_id(1), HOTLINE, START_MS + 9_000, kind="reply")

    await channels.write(both)
    await channels.write(lambda tx: tx.clear_pending_ack(event_id(1), START_MS + 500))
    (due,) = channels.due_pending_acks(START_MS + 10_000)
    assert (due.event_id, due.kind, due.deadline_ms) == (event_id(1), "reply", START_MS + 9_000)
    alert_id = await channels.write(lambda tx: tx.escalate(due, "high", {}, START_MS + 10_000))
    alert = channels.get_alert(alert_id)
    assert alert is not None
    assert alert.kind == "reply_overdue"


async def test_clearing_a_pending_ack_before_its_deadline_stops_it_being_due(
    channels: SqlStore,
) -> None:
    await channels.write(lambda tx: tx.add_pending_ack(event_id(1), HOTLINE, START_MS + 1_000))

    await channels.write(lambda tx: tx.clear_pending_ack(event_id(1), START_MS + 500))

    assert channels.due_pending_acks(START_MS + 60_000) == []
    assert channels.list_alerts() == []
