"""Alerts in the store: what a node raises for its operators (an overdue ack, an overlap)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import insert, select, update

from parley.protocol import Event

from . import _schema as t
from ._base import SqlReadsBase, SqlTxBase, record_from_row

__all__ = ["AlertRecord", "AlertsReads", "AlertsTx", "SqlAlertsReads", "SqlAlertsTx"]


@dataclass(frozen=True)
class AlertRecord:
    id: int
    kind: str
    severity: str
    channel: str | None
    event_id: str | None
    detail: str
    created_ms: int
    resolved_ms: int | None


class AlertsTx(Protocol):
    def insert_alert(
        self,
        kind: str,
        severity: str,
        channel: str | None,
        event_id: str | None,
        detail: Mapping[str, Any],
        created_ms: int,
    ) -> int: ...
    def raise_equivocation_alert(
        self, event: Event, detail: Mapping[str, Any], created_ms: int
    ) -> None: ...
    def resolve_link_alerts(self, party: str, resolved_ms: int) -> list[int]: ...


class AlertsReads(Protocol):
    def list_alerts(self, *, open_only: bool = False, after_id: int = 0) -> list[AlertRecord]: ...
    def get_alert(self, alert_id: int) -> AlertRecord | None: ...


class SqlAlertsTx(SqlTxBase):
    def insert_alert(
        self,
        kind: str,
        severity: str,
        channel: str | None,
        event_id: str | None,
        detail: Mapping[str, Any],
        created_ms: int,
    ) -> int:
        return self._insert_serial(
            insert(t.alerts).values(
                kind=kind,
                severity=severity,
                channel=channel,
                event_id=event_id,
                detail=json.dumps(dict(detail), ensure_ascii=False),
                created_ms=created_ms,
            )
        )

    def raise_equivocation_alert(
        self, event: Event, detail: Mapping[str, Any], created_ms: int
    ) -> None:
        """At most one open alert per author and channel: later forks are counted in it."""
        a = t.alerts.c
        open_alerts = self._conn.execute(
            select(a.id, a.detail).where(
                a.kind == "equivocation", a.channel == event.channel, a.resolved_ms.is_(None)
            )
        ).all()
        for row in open_alerts:
            known = json.loads(row.detail)
            if known.get("author") == event.author:
                known["forks"] = known.get("forks", 1) + 1
                self._conn.execute(
                    update(t.alerts).where(a.id == row.id).values(detail=json.dumps(known))
                )
                return
        self.insert_alert(
            "equivocation", "critical", event.channel, event.id, {**detail, "forks": 1}, created_ms
        )

    def resolve_link_alerts(self, party: str, resolved_ms: int) -> list[int]:
        """Resolve the open ``link_test_missed`` alerts about ``party``; their ids."""
        rows = self._conn.execute(
            select(t.alerts.c.id, t.alerts.c.detail).where(
                t.alerts.c.kind == "link_test_missed", t.alerts.c.resolved_ms.is_(None)
            )
        )
        # Few are ever open at once: the peer is read from the detail here, not indexed.
        ids = [row.id for row in rows if json.loads(row.detail).get("peer") == party]
        if ids:
            self._conn.execute(
                update(t.alerts).where(t.alerts.c.id.in_(ids)).values(resolved_ms=resolved_ms)
            )
        return ids

    def _resolve_alert(self, kind: str, event_id: str, resolved_ms: int) -> None:
        """Resolve the open alert of that kind about that event; one resolved stays as it was."""
        self._conn.execute(
            update(t.alerts)
            .where(
                t.alerts.c.kind == kind,
                t.alerts.c.event_id == event_id,
                t.alerts.c.resolved_ms.is_(None),
            )
            .values(resolved_ms=resolved_ms)
        )


class SqlAlertsReads(SqlReadsBase):
    def list_alerts(self, *, open_only: bool = False, after_id: int = 0) -> list[AlertRecord]:
        query = select(t.alerts).where(t.alerts.c.id > after_id).order_by(t.alerts.c.id)
        if open_only:
            query = query.where(t.alerts.c.resolved_ms.is_(None))
        return [record_from_row(AlertRecord, r) for r in self._all(query)]

    def get_alert(self, alert_id: int) -> AlertRecord | None:
        row = self._first(select(t.alerts).where(t.alerts.c.id == alert_id))
        return None if row is None else record_from_row(AlertRecord, row)
