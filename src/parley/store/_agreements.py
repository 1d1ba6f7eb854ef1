"""Agreements in the store: which stored events name each agreement, for its fold."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy import Select, func, insert, select, update

from . import _schema as t
from ._alerts import SqlAlertsTx
from ._base import SqlReadsBase
from ._deconflict import SiteShape

__all__ = ["AgreementsReads", "AgreementsTx", "SqlAgreementsReads", "SqlAgreementsTx"]


class AgreementsTx(Protocol):
    def add_agreement_event(self, agreement: str, pos: int, kind: str) -> None: ...
    def agreement_events(
        self, agreement: str, types: Collection[str] | None = None
    ) -> list[bytes]: ...
    def insert_alert_once(
        self,
        kind: str,
        severity: str,
        channel: str,
        event_id: str,
        detail: Mapping[str, Any],
        created_ms: int,
    ) -> int | None: ...
    def set_agreement_site_terms(
        self, agreement: str, valid_from_ms: int | None, valid_until_ms: int | None
    ) -> int: ...
    def resolve_alerts_of(
        self, kinds: Sequence[str], event_ids: Sequence[str], resolved_ms: int
    ) -> list[int]: ...


class AgreementsReads(Protocol):
    def agreement_events(
        self, agreement: str, types: Collection[str] | None = None
    ) -> list[bytes]: ...
    def agreement_ids(self, channel: str | None = None) -> list[str]: ...
    def agreement_site_shapes(self, agreement: str) -> list[SiteShape]: ...


def _events_of(agreement: str, types: Collection[str] | None) -> Select[Any]:
    """The raw events naming ``agreement`` (of ``types`` only, if given), in store order: the
    agreement's own few events are read without the thousands of allegations naming it."""
    a, e = t.agreement_events.c, t.events.c
    query = (
        select(e.raw)
        .join_from(t.agreement_events, t.events, e.pos == a.pos)
        .where(a.agreement == agreement)
        .order_by(a.pos)
    )
    return query if types is None else query.where(a.type.in_(sorted(types)))


class SqlAgreementsTx(SqlAlertsTx):
    def add_agreement_event(self, agreement: str, pos: int, kind: str) -> None:
        values = {"agreement": agreement, "pos": pos, "type": kind}
        self._conn.execute(insert(t.agreement_events).values(values))

    def agreement_events(self, agreement: str, types: Collection[str] | None = None) -> list[bytes]:
        return [row[0] for row in self._conn.execute(_events_of(agreement, types))]

    def insert_alert_once(
        self,
        kind: str,
        severity: str,
        channel: str,
        event_id: str,
        detail: Mapping[str, Any],
        created_ms: int,
    ) -> int | None:
        """An alert of a kind about an event (a version of an agreement) unless one was
        raised before, resolved or not; its id, or None."""
        a = t.alerts.c
        raised = select(func.count()).where(a.kind == kind, a.event_id == event_id)
        if self._conn.execute(raised).scalar():
            return None
        return self.insert_alert(kind, severity, channel, event_id, detail, created_ms)

    def set_agreement_site_terms(
        self, agreement: str, valid_from_ms: int | None, valid_until_ms: int | None
    ) -> int:
        """The validity of every site imported for ``agreement``; how many there are."""
        changed = self._conn.execute(
            update(t.protected_sites)
            .where(t.protected_sites.c.agreement == agreement)
            .values(valid_from_ms=valid_from_ms, valid_until_ms=valid_until_ms)
        )
        return int(changed.rowcount)

    def resolve_alerts_of(
        self, kinds: Sequence[str], event_ids: Sequence[str], resolved_ms: int
    ) -> list[int]:
        """Resolve the open alerts of these kinds about these events; their ids."""
        a = t.alerts.c
        where = (a.kind.in_(kinds), a.event_id.in_(event_ids), a.resolved_ms.is_(None))
        ids = [row[0] for row in self._conn.execute(select(a.id).where(*where))]
        if ids:
            self._conn.execute(
                update(t.alerts).where(a.id.in_(ids)).values(resolved_ms=resolved_ms)
            )
        return ids


class SqlAgreementsReads(SqlReadsBase):
    def agreement_events(self, agreement: str, types: Collection[str] | None = None) -> list[bytes]:
        return [row[0] for row in self._all(_events_of(agreement, types))]

    def agreement_ids(self, channel: str | None = None) -> list[str]:
        """The agreements proposed on ``channel`` (on any, if None), oldest first."""
        a, e = t.agreement_events.c, t.events.c
        query = (
            select(e.id)
            .join_from(t.agreement_events, t.events, e.pos == a.pos)
            .where(e.type == "agreement")
            .order_by(a.pos)
        )
        if channel is not None:
            query = query.where(e.channel == channel)
        return [row[0] for row in self._all(query)]

    def agreement_site_shapes(self, agreement: str) -> list[SiteShape]:
        """What indexing needs of each site imported for ``agreement``, as ``site_shapes``."""
        c = t.protected_sites.c
        query = (
            select(c.id, c.party, c.lon, c.lat, c.geometry, c.valid_from_ms, c.valid_until_ms)
            .where(c.agreement == agreement)
            .order_by(c.id)
        )
        return [tuple(row) for row in self._all(query)]
