"""Deconfliction in the store: imported protected sites and the alert of each pair of items."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from sqlalchemy import ColumnElement, and_, func, or_, select, update

from . import _schema as t
from ._alerts import AlertRecord, SqlAlertsTx
from ._base import SqlReadsBase, record_from_row
from ._events import StoredEvent, event_from_raw, stored_after, stored_event

__all__ = [
    "DeconflictionReads",
    "DeconflictionTx",
    "PairRecord",
    "SiteRecord",
    "SiteShape",
    "SqlDeconflictionReads",
    "SqlDeconflictionTx",
]

_SITE_COLUMNS = (
    "party",
    "agreement",
    "name",
    "category",
    "lon",
    "lat",
    "geometry",
    "valid_from_ms",
    "valid_until_ms",
    "source",
    "imported_ms",
)
# Rows per executemany: large enough to amortise the round trip, small enough for the driver.
_SITE_BATCH = 10_000
_KEY_CHUNK = 500  # keys per IN (...) list


@dataclass(frozen=True, slots=True)
class SiteRecord:
    """A protected site imported on this node; ``id`` is 0 until stored."""

    id: int
    party: str
    agreement: str
    name: str
    category: str
    lon: float
    lat: float
    geometry: Mapping[str, Any] | None
    valid_from_ms: int | None
    valid_until_ms: int | None


# id, party, lon, lat, GeoJSON of a polygon (None: the point), valid_from_ms, valid_until_ms
SiteShape = tuple[int, str, float, float, str | None, int | None, int | None]


@dataclass(frozen=True, slots=True)
class PairRecord:
    """The alert of two items (``key_a < key_b``); withdrawn once ``withdrawn_event`` is set."""

    key_a: str
    key_b: str
    alert_event: str
    channel: str
    severity: str
    detail: str
    created_ms: int
    withdrawn_event: str | None
    withdrawn_ms: int | None


class DeconflictionTx(Protocol):
    def insert_sites(self, sites: Iterable[SiteRecord], source: str, imported_ms: int) -> int: ...
    def cancellation_of(self, channel: str, author: str, event_id: str) -> str | None: ...
    def deconfliction_pair(self, key_a: str, key_b: str) -> PairRecord | None: ...
    def record_deconfliction_pair(self, pair: PairRecord) -> bool: ...
    def withdraw_deconfliction_pair(
        self, key_a: str, key_b: str, withdrawn_event: str, withdrawn_ms: int
    ) -> str | None: ...


class DeconflictionReads(Protocol):
    def notice_events(self, types: Sequence[str], after: int, limit: int) -> list[StoredEvent]: ...
    def list_sites(self, after_id: int, limit: int) -> list[SiteRecord]: ...
    def site_shapes(self, after_id: int, limit: int) -> list[SiteShape]: ...
    def last_site_id(self) -> int: ...
    def get_sites(self, ids: Iterable[int]) -> list[SiteRecord]: ...
    def site_counts(self) -> list[tuple[str, str, int]]: ...
    def deconfliction_pairs(
        self, *, active_only: bool = True, keys: Iterable[str] | None = None
    ) -> list[PairRecord]: ...
    def deconfliction_alert(self, event_id: str) -> AlertRecord | None: ...


class SqlDeconflictionTx(SqlAlertsTx):
    def insert_sites(self, sites: Iterable[SiteRecord], source: str, imported_ms: int) -> int:
        """Insert in batches of ``_SITE_BATCH``; returns how many.

        Straight to the driver's executemany with tuples: building SQLAlchemy parameters
        per row took as long as the rest of an import of a million sites.
        """
        if self._conn.dialect.name == "postgresql":
            # One import at a time, so ids are committed in increasing order: a running node
            # takes in new sites by id (``last_site_id``), and a concurrent import with lower
            # ids committing later would be missed. Readers are not blocked.
            self._conn.exec_driver_sql(
                f"LOCK TABLE {t.protected_sites.name} IN SHARE ROW EXCLUSIVE MODE"
            )
        mark = "?" if self._conn.dialect.paramstyle == "qmark" else "%s"
        statement = (
            f"INSERT INTO {t.protected_sites.name} ({', '.join(_SITE_COLUMNS)}) "  # noqa: S608
            f"VALUES ({', '.join([mark] * len(_SITE_COLUMNS))})"
        )
        count = 0
        batch: list[tuple[Any, ...]] = []
        for site in sites:
            batch.append(_site_row(site, source, imported_ms))
            if len(batch) >= _SITE_BATCH:
                self._conn.exec_driver_sql(statement, batch)
                count += len(batch)
                batch = []
        if batch:
            self._conn.exec_driver_sql(statement, batch)
            count += len(batch)
        return count

    def cancellation_of(self, channel: str, author: str, event_id: str) -> str | None:
        """The id of ``author``'s stored cancellation of ``event_id`` in ``channel``, if any.

        Cancellations are few (one per withdrawn notice), so their bodies are read here
        rather than indexed.
        """
        c = t.events.c
        rows = self._conn.execute(
            select(c.id, c.raw)
            .where(c.channel == channel, c.author == author, c.type == "cancellation")
            .order_by(c.pos)
        )
        for row in rows:
            if event_from_raw(row.raw).body.get("event") == event_id:
                return str(row.id)
        return None

    def deconfliction_pair(self, key_a: str, key_b: str) -> PairRecord | None:
        row = self._conn.execute(
            select(t.deconfliction_pairs).where(_the_pair(key_a, key_b))
        ).first()
        return None if row is None else record_from_row(PairRecord, row)

    def record_deconfliction_pair(self, pair: PairRecord) -> bool:
        """The first alert of a pair is recorded; False (nothing changed) for any later one."""
        where = _the_pair(pair.key_a, pair.key_b)
        return self._insert_once(where, t.deconfliction_pairs, asdict(pair))

    def withdraw_deconfliction_pair(
        self, key_a: str, key_b: str, withdrawn_event: str, withdrawn_ms: int
    ) -> str | None:
        """Withdraw an active pair and resolve its local alert; its alert event, or None."""
        pair = self.deconfliction_pair(key_a, key_b)
        if pair is None or pair.withdrawn_event is not None:
            return None
        self._conn.execute(
            update(t.deconfliction_pairs)
            .where(_the_pair(key_a, key_b))
            .values(withdrawn_event=withdrawn_event, withdrawn_ms=withdrawn_ms)
        )
        self._resolve_alert("deconfliction", pair.alert_event, withdrawn_ms)
        return pair.alert_event


class SqlDeconflictionReads(SqlReadsBase):
    def notice_events(self, types: Sequence[str], after: int, limit: int) -> list[StoredEvent]:
        """Events of the given types after position ``after``, in local order (index loading)."""
        query = stored_after(t.events.c.type.in_(list(types)), after, limit)
        return [stored_event(r) for r in self._all(query)]

    def list_sites(self, after_id: int, limit: int) -> list[SiteRecord]:
        rows = self._all(
            select(t.protected_sites)
            .where(t.protected_sites.c.id > after_id)
            .order_by(t.protected_sites.c.id)
            .limit(limit)
        )
        return [_site(r) for r in rows]

    def site_shapes(self, after_id: int, limit: int) -> list[SiteShape]:
        """What indexing needs of each site, as plain tuples: a million load in seconds."""
        c = t.protected_sites.c
        query = (
            select(c.id, c.party, c.lon, c.lat, c.geometry, c.valid_from_ms, c.valid_until_ms)
            .where(c.id > after_id)
            .order_by(c.id)
            .limit(limit)
        )
        with self._reader.connect() as conn:
            return [tuple(row) for row in conn.execute(query)]

    def last_site_id(self) -> int:
        """The highest site id (0: none); it grows with every import, and is cheap to poll."""
        with self._reader.connect() as conn:
            return int(conn.execute(select(func.max(t.protected_sites.c.id))).scalar() or 0)

    def get_sites(self, ids: Iterable[int]) -> list[SiteRecord]:
        wanted = sorted(set(ids))
        found: list[SiteRecord] = []
        for i in range(0, len(wanted), _KEY_CHUNK):
            chunk = wanted[i : i + _KEY_CHUNK]
            query = select(t.protected_sites).where(t.protected_sites.c.id.in_(chunk))
            found.extend(_site(r) for r in self._all(query))
        return sorted(found, key=lambda site: site.id)

    def site_counts(self) -> list[tuple[str, str, int]]:
        """(agreement, category, number of sites), sorted."""
        c = t.protected_sites.c
        rows = self._all(
            select(c.agreement, c.category, func.count())
            .group_by(c.agreement, c.category)
            .order_by(c.agreement, c.category)
        )
        return [(r[0], r[1], int(r[2])) for r in rows]

    def deconfliction_pairs(
        self, *, active_only: bool = True, keys: Iterable[str] | None = None
    ) -> list[PairRecord]:
        """Pairs in the order they were recorded; only those naming one of ``keys`` if given."""
        c = t.deconfliction_pairs.c
        query = select(t.deconfliction_pairs).order_by(c.created_ms, c.key_a, c.key_b)
        if active_only:
            query = query.where(c.withdrawn_event.is_(None))
        if keys is None:
            return [record_from_row(PairRecord, r) for r in self._all(query)]
        wanted = sorted(set(keys))
        found: dict[tuple[str, str], PairRecord] = {}
        for i in range(0, len(wanted), _KEY_CHUNK):
            chunk = wanted[i : i + _KEY_CHUNK]
            for row in self._all(query.where(or_(c.key_a.in_(chunk), c.key_b.in_(chunk)))):
                found[(row.key_a, row.key_b)] = record_from_row(PairRecord, row)
        return sorted(found.values(), key=lambda p: (p.created_ms, p.key_a, p.key_b))

    def deconfliction_alert(self, event_id: str) -> AlertRecord | None:
        """The local alert a stored ``deconfliction_alert`` raised (only the first of a pair)."""
        c = t.alerts.c
        query = select(t.alerts).where(c.kind == "deconfliction", c.event_id == event_id)
        row = self._first(query)
        return None if row is None else record_from_row(AlertRecord, row)


def _site_row(site: SiteRecord, source: str, imported_ms: int) -> tuple[Any, ...]:
    """The values of ``_SITE_COLUMNS``, in order."""
    return (
        site.party,
        site.agreement,
        site.name,
        site.category,
        site.lon,
        site.lat,
        None if site.geometry is None else json.dumps(dict(site.geometry)),
        site.valid_from_ms,
        site.valid_until_ms,
        source,
        imported_ms,
    )


def _site(row: Any) -> SiteRecord:
    return SiteRecord(
        row.id,
        row.party,
        row.agreement,
        row.name,
        row.category,
        row.lon,
        row.lat,
        None if row.geometry is None else json.loads(row.geometry),
        row.valid_from_ms,
        row.valid_until_ms,
    )


def _the_pair(key_a: str, key_b: str) -> ColumnElement[bool]:
    c = t.deconfliction_pairs.c
    return and_(c.key_a == key_a, c.key_b == key_b)
