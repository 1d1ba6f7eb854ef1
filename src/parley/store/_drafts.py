"""Drafts in the store: notifications that wait for a second person to release them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import insert, select, update

from . import _schema as t
from ._base import SqlReadsBase, SqlTxBase

__all__ = ["DraftRecord", "DraftsReads", "DraftsTx", "SqlDraftsReads", "SqlDraftsTx"]


@dataclass(frozen=True)
class DraftRecord:
    id: int
    channel: str
    form: str
    data: dict[str, Any]
    precedence: str
    drafted_by: str
    created_ms: int
    released_by: str | None
    event_id: str | None


class DraftsTx(Protocol):
    def insert_draft(
        self,
        channel: str,
        form: str,
        data: Mapping[str, Any],
        precedence: str,
        drafted_by: str,
        created_ms: int,
    ) -> int: ...
    def claim_draft(self, draft_id: int, released_by: str) -> DraftRecord | None: ...
    def set_draft_event(self, draft_id: int, event_id: str) -> None: ...


class DraftsReads(Protocol):
    def get_draft(self, draft_id: int) -> DraftRecord | None: ...
    def list_drafts(self, channel: str) -> list[DraftRecord]: ...


class SqlDraftsTx(SqlTxBase):
    def insert_draft(
        self,
        channel: str,
        form: str,
        data: Mapping[str, Any],
        precedence: str,
        drafted_by: str,
        created_ms: int,
    ) -> int:
        return self._insert_serial(
            insert(t.drafts).values(
                channel=channel,
                form=form,
                data=json.dumps(dict(data), ensure_ascii=False),
                precedence=precedence,
                drafted_by=drafted_by,
                created_ms=created_ms,
            )
        )

    def claim_draft(self, draft_id: int, released_by: str) -> DraftRecord | None:
        """Mark a draft released, once: a second release of the same draft gets None."""
        changed = self._conn.execute(
            update(t.drafts)
            .where(t.drafts.c.id == draft_id, t.drafts.c.released_by.is_(None))
            .values(released_by=released_by)
        ).rowcount
        if not changed:
            return None
        row = self._conn.execute(select(t.drafts).where(t.drafts.c.id == draft_id)).first()
        return None if row is None else _draft(row)

    def set_draft_event(self, draft_id: int, event_id: str) -> None:
        self._conn.execute(
            update(t.drafts).where(t.drafts.c.id == draft_id).values(event_id=event_id)
        )


class SqlDraftsReads(SqlReadsBase):
    def get_draft(self, draft_id: int) -> DraftRecord | None:
        row = self._first(select(t.drafts).where(t.drafts.c.id == draft_id))
        return None if row is None else _draft(row)

    def list_drafts(self, channel: str) -> list[DraftRecord]:
        rows = self._all(
            select(t.drafts)
            .where(t.drafts.c.channel == channel, t.drafts.c.released_by.is_(None))
            .order_by(t.drafts.c.id)
        )
        return [_draft(r) for r in rows]


def _draft(row: Any) -> DraftRecord:
    return DraftRecord(
        row.id,
        row.channel,
        row.form,
        json.loads(row.data),
        row.precedence,
        row.drafted_by,
        row.created_ms,
        row.released_by,
        row.event_id,
    )
