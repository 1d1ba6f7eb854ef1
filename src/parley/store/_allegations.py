"""Allegations in the store: one row per allegation, kept by the journal as its answer and
finding are stored, so that its state, its deadline and the counts of a report are read
without folding events.

A day is a whole number of days since 1970-01-01 UTC (``occurred_day``), so the counts group
by an indexed integer on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import func, insert, select, update

from . import _schema as t
from ._base import SqlReadsBase, SqlTxBase

__all__ = [
    "DAY_MS",
    "AllegationRecord",
    "AllegationsReads",
    "AllegationsTx",
    "DayCount",
    "SqlAllegationsReads",
    "SqlAllegationsTx",
]

DAY_MS = 86_400_000
OPEN = "alleged"  # the state whose answer deadline runs


@dataclass(frozen=True)
class AllegationRecord:
    """An allegation as its stored events leave it. ``votes``: the findings each party sent
    on an agreement without a mediator, until they agree."""

    id: str
    channel: str
    agreement: str
    author: str
    accused: str
    occurred_ms: int
    alleged_ms: int
    deadline_ms: int
    state: str
    escalated_ms: int | None = None
    answer: str | None = None
    answer_event: str | None = None
    answered_ms: int | None = None
    finding: str | None = None
    finding_event: str | None = None
    found_ms: int | None = None
    votes: Mapping[str, str] | None = None

    @property
    def occurred_day(self) -> int:
        return self.occurred_ms // DAY_MS


@dataclass(frozen=True)
class DayCount:
    """How many allegations against ``party`` that occurred on ``day`` are in ``state``, and
    how many of them escalated (were not answered by their deadline)."""

    day: int
    party: str
    state: str
    count: int
    escalated: int


class AllegationsTx(Protocol):
    def insert_allegation(self, record: AllegationRecord) -> None: ...
    def insert_allegations(self, records: list[AllegationRecord]) -> None: ...
    def add_allegation_evidence(self, allegation: str, channel: str, hashes: list[str]) -> None: ...
    def get_allegation_tx(self, allegation_id: str) -> AllegationRecord | None: ...
    def record_answer(
        self, allegation_id: str, answer: str, event_id: str, answered_ms: int
    ) -> None: ...
    def record_vote(self, allegation_id: str, votes: Mapping[str, str]) -> None: ...
    def record_finding(
        self, allegation_id: str, finding: str, event_id: str, found_ms: int
    ) -> None: ...
    def mark_escalated(self, allegation_id: str, escalated_ms: int) -> bool: ...


class AllegationsReads(Protocol):
    def get_allegation(self, allegation_id: str) -> AllegationRecord | None: ...
    def list_allegations(
        self, agreement: str, *, state: str | None = None, after: str | None = None, limit: int
    ) -> list[AllegationRecord]: ...
    def allegation_counts(self, agreement: str) -> list[DayCount]: ...
    def open_allegations(self, agreement: str, *, limit: int) -> list[AllegationRecord]: ...
    def count_open_allegations(self, agreement: str) -> int: ...
    def overdue_allegations(self, now_ms: int, *, limit: int) -> list[AllegationRecord]: ...
    def evidence_channels(self, sha256: str) -> list[str]: ...


def _row(record: AllegationRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "channel": record.channel,
        "agreement": record.agreement,
        "author": record.author,
        "accused": record.accused,
        "occurred_ms": record.occurred_ms,
        "occurred_day": record.occurred_day,
        "alleged_ms": record.alleged_ms,
        "deadline_ms": record.deadline_ms,
        "state": record.state,
        "escalated_ms": record.escalated_ms,
        "answer": record.answer,
        "answer_event": record.answer_event,
        "answered_ms": record.answered_ms,
        "finding": record.finding,
        "finding_event": record.finding_event,
        "found_ms": record.found_ms,
        "votes": None if record.votes is None else json.dumps(dict(record.votes)),
    }


def _record(row: Any) -> AllegationRecord:
    return AllegationRecord(
        row.id,
        row.channel,
        row.agreement,
        row.author,
        row.accused,
        row.occurred_ms,
        row.alleged_ms,
        row.deadline_ms,
        row.state,
        row.escalated_ms,
        row.answer,
        row.answer_event,
        row.answered_ms,
        row.finding,
        row.finding_event,
        row.found_ms,
        None if row.votes is None else json.loads(row.votes),
    )


class SqlAllegationsTx(SqlTxBase):
    def insert_allegation(self, record: AllegationRecord) -> None:
        self._conn.execute(insert(t.allegations).values(**_row(record)))

    def insert_allegations(self, records: list[AllegationRecord]) -> None:
        if records:
            self._conn.execute(insert(t.allegations), [_row(r) for r in records])

    def add_allegation_evidence(self, allegation: str, channel: str, hashes: list[str]) -> None:
        rows = [
            {"sha256": sha256, "allegation": allegation, "channel": channel}
            for sha256 in sorted(set(hashes))
        ]
        if rows:
            self._conn.execute(insert(t.allegation_evidence), rows)

    def get_allegation_tx(self, allegation_id: str) -> AllegationRecord | None:
        a = t.allegations
        row = self._conn.execute(select(a).where(a.c.id == allegation_id)).first()
        return None if row is None else _record(row)

    def record_answer(
        self, allegation_id: str, answer: str, event_id: str, answered_ms: int
    ) -> None:
        """The first answer moves an open allegation on; a later one (more information, a
        changed answer) is kept as the answer, its state stays."""
        a = t.allegations.c
        values = {"answer": answer, "answer_event": event_id, "answered_ms": answered_ms}
        self._conn.execute(update(t.allegations).where(a.id == allegation_id).values(**values))
        self._conn.execute(
            update(t.allegations)
            .where(a.id == allegation_id, a.state == OPEN)
            .values(state="answered")
        )

    def record_vote(self, allegation_id: str, votes: Mapping[str, str]) -> None:
        a = t.allegations.c
        self._conn.execute(
            update(t.allegations).where(a.id == allegation_id).values(votes=json.dumps(dict(votes)))
        )

    def record_finding(
        self, allegation_id: str, finding: str, event_id: str, found_ms: int
    ) -> None:
        a = t.allegations.c
        self._conn.execute(
            update(t.allegations)
            .where(a.id == allegation_id)
            .values(state=finding, finding=finding, finding_event=event_id, found_ms=found_ms)
        )

    def mark_escalated(self, allegation_id: str, escalated_ms: int) -> bool:
        """Once: False if it was marked already or is no longer open."""
        a = t.allegations.c
        changed = self._conn.execute(
            update(t.allegations)
            .where(a.id == allegation_id, a.state == OPEN, a.escalated_ms.is_(None))
            .values(escalated_ms=escalated_ms)
        ).rowcount
        return bool(changed)


class SqlAllegationsReads(SqlReadsBase):
    def get_allegation(self, allegation_id: str) -> AllegationRecord | None:
        a = t.allegations
        row = self._first(select(a).where(a.c.id == allegation_id))
        return None if row is None else _record(row)

    def list_allegations(
        self, agreement: str, *, state: str | None = None, after: str | None = None, limit: int
    ) -> list[AllegationRecord]:
        """In the order they occurred (then by id), from after the allegation ``after``."""
        a = t.allegations.c
        query = select(t.allegations).where(a.agreement == agreement)
        if state is not None:
            query = query.where(a.state == state)
        if after is not None:
            mark = select(a.occurred_ms).where(a.id == after).scalar_subquery()
            query = query.where((a.occurred_ms > mark) | ((a.occurred_ms == mark) & (a.id > after)))
        query = query.order_by(a.occurred_ms, a.id).limit(limit)
        return [_record(row) for row in self._all(query)]

    def allegation_counts(self, agreement: str) -> list[DayCount]:
        """Per day it occurred, accused party and state: read from the index alone."""
        a = t.allegations.c
        escalated = func.count(a.escalated_ms)
        query = (
            select(a.occurred_day, a.accused, a.state, func.count(), escalated)
            .where(a.agreement == agreement)
            .group_by(a.occurred_day, a.accused, a.state)
            .order_by(a.occurred_day, a.accused, a.state)
        )
        return [DayCount(day, party, state, n, e) for day, party, state, n, e in self._all(query)]

    def open_allegations(self, agreement: str, *, limit: int) -> list[AllegationRecord]:
        """The unanswered ones, the nearest deadline first."""
        a = t.allegations.c
        query = (
            select(t.allegations)
            .where(a.agreement == agreement, a.state == OPEN)
            .order_by(a.deadline_ms, a.id)
            .limit(limit)
        )
        return [_record(row) for row in self._all(query)]

    def count_open_allegations(self, agreement: str) -> int:
        a = t.allegations.c
        query = select(func.count()).where(a.agreement == agreement, a.state == OPEN)
        return int(self._first(query)[0])

    def overdue_allegations(self, now_ms: int, *, limit: int) -> list[AllegationRecord]:
        """Unanswered past their deadline and not escalated yet, on every agreement."""
        a = t.allegations.c
        query = (
            select(t.allegations)
            .where(a.state == OPEN, a.escalated_ms.is_(None), a.deadline_ms <= now_ms)
            .order_by(a.deadline_ms, a.id)
            .limit(limit)
        )
        return [_record(row) for row in self._all(query)]

    def evidence_channels(self, sha256: str) -> list[str]:
        """The channels of the allegations that name this evidence file."""
        e = t.allegation_evidence.c
        query = select(e.channel).where(e.sha256 == sha256).distinct().order_by(e.channel)
        return [row[0] for row in self._all(query)]
