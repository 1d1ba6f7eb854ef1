"""Allegations in the store, on SQLite and on PostgreSQL: state, votes, escalation, counts."""

from __future__ import annotations

import pytest

from parley.store import DAY_MS, AllegationRecord, SqlStore

pytestmark = pytest.mark.anyio

AGREEMENT, OTHER = "a1" * 32, "a2" * 32
US, RU = "us-eucom", "ru-genstaff"
T0 = 1_770_300_000_000  # 2026-02-05T14:00:00Z
H = 3_600_000


def alleged(
    n: int, *, day: int = 0, accused: str = RU, agreement: str = AGREEMENT
) -> AllegationRecord:
    occurred = T0 + day * DAY_MS + n
    return AllegationRecord(
        f"{n:064x}",
        "ch_hotline0001",
        agreement,
        US,
        accused,
        occurred,
        occurred + H,
        occurred + 73 * H,
        "alleged",
    )


async def test_an_answer_moves_it_on_and_a_finding_closes_it(store: SqlStore) -> None:
    first = alleged(1)
    await store.write(lambda tx: tx.insert_allegation(first))

    await store.write(lambda tx: tx.record_answer(first.id, "dispute", "e1" * 32, T0 + H))
    await store.write(lambda tx: tx.record_answer(first.id, "accept", "e2" * 32, T0 + 2 * H))
    answered = store.get_allegation(first.id)
    assert answered is not None
    assert (answered.state, answered.answer, answered.answer_event) == (
        "answered",
        "accept",
        "e2" * 32,
    )
    await store.write(lambda tx: tx.record_vote(first.id, {US: "found"}))
    await store.write(lambda tx: tx.record_finding(first.id, "found", "f1" * 32, T0 + 3 * H))
    found = store.get_allegation(first.id)
    assert found is not None
    assert (found.state, found.finding, found.found_ms, found.votes) == (
        "found",
        "found",
        T0 + 3 * H,
        {US: "found"},
    )


async def test_an_unanswered_allegation_escalates_once(store: SqlStore) -> None:
    due, later, answered = alleged(1), alleged(2, day=5), alleged(3)
    await store.write(lambda tx: tx.insert_allegations([due, later, answered]))
    await store.write(lambda tx: tx.record_answer(answered.id, "accept", "e1" * 32, T0))

    now = T0 + 80 * H
    assert [a.id for a in store.overdue_allegations(now, limit=10)] == [due.id]
    assert await store.write(lambda tx: tx.mark_escalated(due.id, now))
    assert not await store.write(lambda tx: tx.mark_escalated(due.id, now))
    assert store.overdue_allegations(now, limit=10) == []
    assert not await store.write(lambda tx: tx.mark_escalated(answered.id, now))


async def test_counts_and_lists_are_of_one_agreement(store: SqlStore) -> None:
    rows = [alleged(1), alleged(2), alleged(3, accused=US), alleged(4, day=1)]
    rows.append(alleged(5, agreement=OTHER))
    await store.write(lambda tx: tx.insert_allegations(rows))
    await store.write(lambda tx: tx.mark_escalated(rows[0].id, T0 + 80 * H))

    day = T0 // DAY_MS
    counts = [
        (c.day - day, c.party, c.state, c.count, c.escalated)
        for c in store.allegation_counts(AGREEMENT)
    ]
    assert counts == [(0, RU, "alleged", 2, 1), (0, US, "alleged", 1, 0), (1, RU, "alleged", 1, 0)]
    listed = store.list_allegations(AGREEMENT, limit=2)
    assert [a.id for a in listed] == [rows[0].id, rows[1].id]
    rest = store.list_allegations(AGREEMENT, after=rows[1].id, limit=10)
    assert [a.id for a in rest] == [rows[2].id, rows[3].id]
    assert store.list_allegations(AGREEMENT, state="found", limit=10) == []
    assert store.count_open_allegations(AGREEMENT) == 4
    assert [a.id for a in store.open_allegations(AGREEMENT, limit=1)] == [rows[0].id]


async def test_the_channels_where_an_evidence_file_is_named(store: SqlStore) -> None:
    photo, scan = "c3" * 32, "d4" * 32
    await store.write(lambda tx: tx.add_allegation_evidence("e1" * 32, "ch_b", [photo, photo]))
    await store.write(lambda tx: tx.add_allegation_evidence("e2" * 32, "ch_a", [photo, scan]))

    assert store.evidence_channels(photo) == ["ch_a", "ch_b"]
    assert store.evidence_channels(scan) == ["ch_a"]
    assert store.evidence_channels("f5" * 32) == []
