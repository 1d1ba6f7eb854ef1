"""Deconfliction: every area-bearing item this node knows in one index, and a signed
``deconfliction_alert`` when items of two parties meet (docs/deconfliction.md, "The service").

Where the work happens:

* In the storing transaction (``_record``, a ChannelService effect): a stored
  ``deconfliction_alert``, own or received, records its pair and raises a local alert; a
  ``deconfliction_withdrawn`` resolves both. Nothing else, so the writer stays fast.
* After the commit (``on_stored``, a bus listener): the local alert raised or resolved is
  published to the live streams; notifications and cancellations are queued; ``flush``
  (the background task ``run``, or a test) updates the index and checks the new items,
  with the geometry work in a worker thread.
* Sites imported while the node runs (``parley sites import`` writes to the store from
  another process): every ``flush`` compares the highest site id with the last one indexed
  (one cheap read), and ``run`` flushes at least every ``deconfliction_site_poll_s``; new
  sites join the index incrementally and are checked against the live notices.
* At start (the first ``flush``): the index is loaded from the store and every live item
  is checked again against the stored pairs, so an alert the process did not get to send
  before it stopped is sent now, and none twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from parley.clock import format_ts, parse_ts, to_ms
from parley.deconflict import (
    KINDS,
    SEVERITIES,
    Item,
    Match,
    Overlap,
    SiteRow,
    SpaceTimeIndex,
    notice_items,
    notices_items,
    severity,
    site_items,
)
from parley.errors import Conflict, FieldError, InvalidInput, ParleyError
from parley.forms import area_geometry, validate_form
from parley.protocol import Event
from parley.store import ChannelRecord, PairRecord, SiteRecord, StoredEvent, StoreTx

from ._auth import Permission, Principal, require
from ._bus import BusItem
from ._channels import ChannelService
from ._context import NodeContext
from ._deadlines import alert_json
from ._threads import collector_paused, to_thread

__all__ = ["DeconflictionService", "pair_json", "site_key"]

_log = logging.getLogger(__name__)
T = TypeVar("T")

_QUEUED = frozenset({"notification", "cancellation"})
_ANNOUNCED = frozenset({"deconfliction_alert", "deconfliction_withdrawn"})
_EVENT_PAGE = 5000
_SITE_PAGE = 50_000
_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}
_RETRY_S = 5.0


def site_key(node_party: str, site_id: int) -> str:
    """The key of an imported site: unique across nodes, as the other side records it."""
    return f"site:{node_party}:{site_id}"


def _summary_key(node_party: str) -> str:
    """The pseudo-item "this node's protected sites" of a summary alert."""
    return f"sites:{node_party}"


def _event_of(key: str) -> str:
    return key.partition("#")[0]


def _ts(ms: int | None) -> str | None:
    return None if ms is None else format_ts(datetime.fromtimestamp(ms / 1000, UTC))


@dataclass(frozen=True)
class _Notice:
    """A stored notification or cancellation, as the bus or the store gives it."""

    id: str
    type: str
    author: str
    channel: str
    body: Mapping[str, Any]

    @classmethod
    def of(cls, stored: StoredEvent) -> _Notice:
        event = stored.event
        return cls(event.id, event.type, event.author, event.channel, event.body)


class _AlreadyDone(Conflict):
    """The pair got its alert (or withdrawal) from another event first: this one is dropped."""


class DeconflictionService:
    def __init__(self, ctx: NodeContext, channels: ChannelService) -> None:
        self._ctx = ctx
        self._channels = channels
        self._site_prefix = site_key(ctx.party, 0)[:-1]
        self._lock = asyncio.Lock()  # one user of the index at a time: it is not thread-safe
        self._queue: list[_Notice] = []
        self._wake = asyncio.Event()
        self._reset()
        channels.add_effect(self._record)

    def _reset(self) -> None:
        self._loaded = False
        self._index = SpaceTimeIndex(
            rebuild_threshold=self._ctx.settings.deconfliction_rebuild_threshold
        )
        self._owner: dict[str, tuple[str, str]] = {}  # notification id -> (author, channel)
        self._keys: dict[str, tuple[str, ...]] = {}  # notification id -> its items' keys
        self._gone: dict[str, str] = {}  # cancelled or superseded notification id -> why
        self._sites_after = 0  # the highest imported site id in the index

    # -- in the storing transaction --------------------------------------------------------------
    def _record(self, tx: StoreTx, record: ChannelRecord, event: Event, now: datetime) -> None:
        body = event.body
        if event.type == "deconfliction_alert":
            detail = {**body, "raised_by": event.author}
            pair = PairRecord(
                body["a"]["key"],
                body["b"]["key"],
                event.id,
                event.channel,
                body["severity"],
                json.dumps(detail, ensure_ascii=False),
                to_ms(now),
                None,
                None,
            )
            if tx.record_deconfliction_pair(pair):
                tx.insert_alert(
                    "deconfliction", body["severity"], event.channel, event.id, detail, to_ms(now)
                )
        elif event.type == "deconfliction_withdrawn":
            tx.withdraw_deconfliction_pair(body["a"], body["b"], event.id, to_ms(now))

    # -- after the commit ------------------------------------------------------------------------
    def on_stored(self, item: BusItem) -> None:
        event = item.payload.get("event", {}) if item.kind == "event" else {}
        if event.get("type") in _ANNOUNCED:
            try:
                self._announce(str(item.payload["id"]), event)
            except Exception:  # the event is stored: its append must not fail over this
                _log.exception("the alert of %s could not be published", item.payload["id"])
        elif event.get("type") in _QUEUED:
            notice = _Notice(
                str(item.payload["id"]),
                event["type"],
                event["author"],
                event["channel"],
                event["body"],
            )
            self._queue.append(notice)
            self._wake.set()

    def _announce(self, event_id: str, event: Mapping[str, Any]) -> None:
        """Publish the local alert this stored event raised or resolved, as overdue alerts
        are: an operator's console sees it at once. Nothing if it changed no alert (a second
        alert for a pair, a withdrawal of an alert already withdrawn)."""
        if event["type"] == "deconfliction_alert":
            alert = self._ctx.store.deconfliction_alert(event_id)
        else:
            body = event["body"]
            pair = next(
                (
                    p
                    for p in self._ctx.store.deconfliction_pairs(
                        active_only=False, keys=[body["a"]]
                    )
                    if p.key_b == body["b"] and p.withdrawn_event == event_id
                ),
                None,
            )
            alert = None if pair is None else self._ctx.store.deconfliction_alert(pair.alert_event)
        if alert is not None:
            self._ctx.bus.publish(BusItem("alert", alert.id, alert.channel, alert_json(alert)))

    async def flush(self) -> int:
        """Load the index if not yet done, then take in what was stored since (notices, and
        sites imported meanwhile); the number of alert and withdrawal events this node sent."""
        async with self._lock:
            try:
                sent = 0
                if not self._loaded:
                    sent += await self._load()
                work, self._queue = self._queue, []
                sent += await self._take_in(work)
                return sent + await self._take_in_sites()
            except Exception:
                # Start over from the store: the reload sends whatever this pass did not.
                self._reset()
                raise

    async def run(self) -> None:
        """The background task: load at start, then take in new items as they are stored, and
        imported sites at least every ``deconfliction_site_poll_s``."""
        while True:
            try:
                await self.flush()
            except Exception:
                _log.exception("deconfliction pass failed; reloading from the store")
                await asyncio.sleep(_RETRY_S)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._wake.wait(), self._ctx.settings.deconfliction_site_poll_s
                )
            self._wake.clear()

    async def _take_in(self, work: Sequence[_Notice]) -> int:
        added: list[Item] = []
        gone: set[str] = set()  # a notice may be cancelled in the same batch that brought it
        made = _made(work)
        for notice in work:
            items, removed = self._accept(notice, made)
            gone.update(removed)
            added.extend(item for item in items if item.key not in self._index)
        added = [item for item in added if item.key not in gone]
        removed = sorted(key for key in gone if key in self._index)
        if not added and not removed:
            return 0
        await to_thread(self._update, added, removed)
        sent = await self._withdraw(self._ctx.store.deconfliction_pairs(keys=removed))
        return sent + await self._check(added)

    def _update(self, added: Sequence[Item], removed: Sequence[str]) -> None:
        for key in removed:
            self._index.remove(key)
        for item in added:
            self._index.add(item)

    def _accept(
        self, notice: _Notice, made: Mapping[str, list[Item]]
    ) -> tuple[list[Item], list[str]]:
        """The items a notice adds and the keys it removes (cancelled or superseded);
        ``made``: the items of notifications made beforehand (``_made``)."""
        body = notice.body
        if notice.type == "cancellation":
            return [], self._forget(body["event"], notice.author, f"cancelled: {body['reason']}")
        removed: list[str] = []
        if "supersedes" in body:
            removed = self._forget(body["supersedes"], notice.author, f"amended by {notice.id}")
        if notice.id in self._owner or notice.id in self._gone:
            return [], removed  # known already: stored while the index was loading
        try:
            items = (
                made[notice.id]
                if notice.id in made
                else notice_items(notice.id, notice.author, body["form"], body["data"])
            )
        except (ParleyError, ValueError, KeyError):
            _log.exception("notification %s has an area this node cannot index", notice.id)
            return [], removed
        if items:
            self._owner[notice.id] = (notice.author, notice.channel)
            self._keys[notice.id] = tuple(item.key for item in items)
        return items, removed

    def _forget(self, event_id: str, author: str, why: str) -> list[str]:
        """A notification's items leave the index; only its author can make them."""
        owner = self._owner.get(event_id)
        if owner is None or owner[0] != author:
            return []
        del self._owner[event_id]
        self._gone[event_id] = why
        return list(self._keys.pop(event_id))

    def _live(self) -> list[Item]:
        """The indexed items of notifications whose window is not over."""
        now_ms = to_ms(self._ctx.clock.now())
        return [
            item
            for keys in self._keys.values()
            for key in keys
            if (item := self._index.get(key)) is not None
            and (item.end_ms is None or item.end_ms > now_ms)
        ]

    # -- sites imported while running ------------------------------------------------------------
    async def _take_in_sites(self) -> int:
        if self._ctx.store.last_site_id() <= self._sites_after:
            return 0
        sites = await to_thread(self._index_new_sites)
        return await self._check_sites(sites)

    def _index_new_sites(self) -> list[Item]:
        """Into the delta, as any new item; a large import in one bulk load (one rebuild)."""
        sites = self._imported_sites()
        if len(sites) > self._ctx.settings.deconfliction_rebuild_threshold:
            self._index.bulk_load(sites)
        else:
            for site in sites:
                self._index.add(site)
        _log.info("deconfliction index: %d imported sites taken in", len(sites))
        return sites

    async def _check_sites(self, sites: Sequence[Item]) -> int:
        """Alerts for new sites, raised from the live notices they meet: each notice's cap
        on site alerts and its summary hold as if the sites had been there before it."""
        live = self._live()
        if not sites or not live:
            return 0
        new = {site.key for site in sites}
        if len(sites) >= len(live):  # start from the smaller side
            return await self._check(live, meeting=new)
        found = await to_thread(self._index.overlaps_for_many, sites)
        met = {
            o.a if o.b == site.key else o.b
            for site, hits in zip(sites, found, strict=True)
            for o in hits
        }
        return await self._check([item for item in live if item.key in met])

    def _imported_sites(self) -> list[Item]:
        """Sites stored since the last call, as items: by id, which imports commit in order."""
        items: list[Item] = []
        while shapes := self._ctx.store.site_shapes(self._sites_after, _SITE_PAGE):
            rows: list[SiteRow] = [
                (
                    site_key(self._ctx.party, sid),
                    party,
                    lon,
                    lat,
                    None if geometry is None else json.loads(geometry),
                    start,
                    end,
                )
                for sid, party, lon, lat, geometry, start, end in shapes
            ]
            items.extend(site_items(rows))
            self._sites_after = shapes[-1][0]
        return items

    # -- loading at start ------------------------------------------------------------------------
    async def _load(self) -> int:
        """Build the index from the store, then send what the stored pairs lack."""
        self._queue.clear()  # the store holds all of it, and more
        await to_thread(self._build)
        self._loaded = True
        stale = [
            pair
            for pair in self._ctx.store.deconfliction_pairs()
            if _event_of(pair.key_a) in self._gone or _event_of(pair.key_b) in self._gone
        ]
        sent = await self._withdraw(stale)
        return sent + await self._check(self._live())

    def _build(self) -> None:
        with collector_paused():
            self._build_index()
        _log.info("deconfliction index loaded: %d items", len(self._index))

    def _build_index(self) -> None:
        items: dict[str, Item] = {}
        after = 0
        while page := self._ctx.store.notice_events(tuple(_QUEUED), after, _EVENT_PAGE):
            notices = [_Notice.of(stored) for stored in page]
            made = _made(notices)
            for notice in notices:
                added, removed = self._accept(notice, made)
                items.update((item.key, item) for item in added)
                for key in removed:
                    items.pop(key, None)
            after = page[-1].pos
        items.update((item.key, item) for item in self._imported_sites())
        self._index.bulk_load(items.values())

    # -- alerts ----------------------------------------------------------------------------------
    async def _check(self, items: Sequence[Item], *, meeting: set[str] | None = None) -> int:
        """Alerts for what ``items`` meet; with ``meeting``, only for those meeting one of
        these keys (the rest were checked before)."""
        if not items:
            return 0
        found = await to_thread(self._index.overlaps_for_many, items)
        sent = 0
        for item, overlaps in zip(items, found, strict=True):
            if overlaps and (meeting is None or any({o.a, o.b} & meeting for o in overlaps)):
                sent += await self._alert(item, overlaps)
        return sent

    async def _alert(self, item: Item, overlaps: Sequence[Overlap]) -> int:
        """Alerts for what ``item`` meets that no stored alert names yet.

        Against this node's imported sites at most ``deconfliction_site_alert_cap`` pairs,
        the most severe and largest first, then one summary alert for all of them.
        """
        sites: list[tuple[Item, Overlap]] = []
        others: list[tuple[Item, Overlap]] = []
        for overlap in overlaps:
            other = self._index.get(overlap.b if overlap.a == item.key else overlap.a)
            if other is None or self._ctx.party not in (item.party, other.party):
                continue
            if item.kind == other.kind == "protected_site":
                continue  # sites do not move: two of them never conflict
            (sites if other.key.startswith(self._site_prefix) else others).append((other, overlap))
        if not sites and not others:
            return 0
        known = {
            (p.key_a, p.key_b)
            for p in self._ctx.store.deconfliction_pairs(active_only=False, keys=[item.key])
        }
        cap = self._ctx.settings.deconfliction_site_alert_cap
        sites.sort(key=lambda pair: (_RANK[pair[1].severity], -pair[1].area_km2, pair[0].key))
        records = self._sites([other for other, _ in sites])
        sent = 0
        for other, overlap in [*others, *sites[:cap]]:
            if (overlap.a, overlap.b) in known:
                continue
            body = self._alert_body(item, other, overlap, records)
            sent += await self._emit(item, other, body)
        if len(sites) > cap:
            summary = self._summary(item, sites, records)
            if (summary["a"]["key"], summary["b"]["key"]) not in known:
                sent += await self._emit(item, None, summary)
        return sent

    def _sites(self, items: Iterable[Item]) -> dict[str, SiteRecord]:
        ids = [int(item.key.rpartition(":")[2]) for item in items]
        return {site_key(self._ctx.party, s.id): s for s in self._ctx.store.get_sites(ids)}

    def _side(self, item: Item, sites: Mapping[str, SiteRecord]) -> dict[str, Any]:
        side: dict[str, Any] = {"key": item.key, "party": item.party, "kind": item.kind}
        site = sites.get(item.key)
        if site is None:
            side["event"] = _event_of(item.key)
        else:  # the other side has never seen this site: say what and where it is
            side["site"] = {
                "name": site.name,
                "category": site.category,
                "agreement": site.agreement,
                "coordinates": [site.lon, site.lat],
            }
        return side

    def _alert_body(
        self, item: Item, other: Item, overlap: Overlap, sites: Mapping[str, SiteRecord]
    ) -> dict[str, Any]:
        a, b = (item, other) if item.key == overlap.a else (other, item)
        return {
            "a": self._side(a, sites),
            "b": self._side(b, sites),
            "area_km2": round(overlap.area_km2, 3),
            "distance_km": round(overlap.distance_km, 3),
            "window": {"start": _ts(overlap.start_ms), "end": _ts(overlap.end_ms)},
            "severity": overlap.severity,
        }

    def _summary(
        self,
        item: Item,
        sites: Sequence[tuple[Item, Overlap]],
        records: Mapping[str, SiteRecord],
    ) -> dict[str, Any]:
        """One alert for every site ``item`` meets, counted by category."""
        categories = Counter(records[other.key].category for other, _ in sites)
        mine: dict[str, Any] = {"key": item.key, "party": item.party, "kind": item.kind}
        mine["event"] = _event_of(item.key)
        theirs = {
            "key": _summary_key(self._ctx.party),
            "party": self._ctx.party,
            "kind": "protected_site",
        }
        a, b = (mine, theirs) if mine["key"] < theirs["key"] else (theirs, mine)
        return {
            "a": a,
            "b": b,
            "area_km2": round(sum(o.area_km2 for _, o in sites), 3),
            "distance_km": 0.0,
            "window": {"start": _ts(item.start_ms), "end": _ts(item.end_ms)},
            "severity": min((o.severity for _, o in sites), key=_RANK.__getitem__),
            "summary": {
                "total": len(sites),
                "alerted": self._ctx.settings.deconfliction_site_alert_cap,
                "by_category": dict(sorted(categories.items())),
            },
        }

    async def _emit(self, item: Item, other: Item | None, body: dict[str, Any]) -> int:
        """Append the alert on a channel of both parties, unless the pair has one by then."""
        parties = {body["a"]["party"], body["b"]["party"]}
        preferred = [self._owner[e][1] for e in (_event_of(item.key),) if e in self._owner]
        if other is not None and _event_of(other.key) in self._owner:
            preferred.append(self._owner[_event_of(other.key)][1])
        record = self._channel_for(parties, preferred)
        if record is None:
            _log.warning("no channel of both %s: the alert of %s is not sent", parties, item.key)
            return 0
        return await self._append_once(
            record, "deconfliction_alert", body, body["a"]["key"], body["b"]["key"], "alert_event"
        )

    async def _withdraw(self, pairs: Iterable[PairRecord]) -> int:
        """Withdraw the alerts this node raised whose overlap is gone."""
        sent = 0
        for pair in pairs:
            detail = json.loads(pair.detail)
            if pair.withdrawn_event is not None or detail.get("raised_by") != self._ctx.party:
                continue
            why = [
                self._gone[e] for e in map(_event_of, (pair.key_a, pair.key_b)) if e in self._gone
            ]
            if not why:
                continue
            parties = {detail["a"]["party"], detail["b"]["party"]}
            record = self._channel_for(parties, [pair.channel])
            if record is None:
                continue
            body = {"alert": pair.alert_event, "a": pair.key_a, "b": pair.key_b, "reason": why[0]}
            sent += await self._append_once(
                record, "deconfliction_withdrawn", body, pair.key_a, pair.key_b, "withdrawn_event"
            )
        return sent

    async def _append_once(
        self,
        record: ChannelRecord,
        kind: str,
        body: Mapping[str, Any],
        key_a: str,
        key_b: str,
        field: str,
    ) -> int:
        """Append, unless (in the same transaction) the pair's ``field`` names another event:
        the other party's node got there first."""

        def first(tx: StoreTx, stored: StoredEvent) -> None:
            pair = tx.deconfliction_pair(key_a, key_b)
            if pair is None or getattr(pair, field) != stored.event.id:
                raise _AlreadyDone(f"{key_a} and {key_b}: a {kind} is stored already")

        try:
            await self._channels.append(record, kind, body, first)
        except _AlreadyDone:
            return 0
        return 1

    def _channel_for(self, parties: set[str], preferred: Iterable[str]) -> ChannelRecord | None:
        """An active channel where this node and both parties may send: ``preferred`` first."""
        mine = [c.id for c in self._ctx.store.list_channels(self._ctx.party)]
        for channel in dict.fromkeys([*preferred, *mine]):
            record = self._ctx.store.get_channel(channel)
            if (
                record is not None
                and record.status == "active"
                and all(record.is_active_member(p) for p in parties | {self._ctx.party})
            ):
                return record
        return None

    # -- questions -------------------------------------------------------------------------------
    async def check(
        self,
        principal: Principal,
        area: object,
        window: object,
        *,
        margin_km: float = 0.0,
        kind: str = "activity",
    ) -> list[dict[str, Any]]:
        """What an area and window would meet, with severities as if it were an item of
        ``kind``; nothing is sent."""
        require(principal, Permission.READ)
        geometry, start_ms, end_ms = _query_area(area, window, self._ctx.clock.now())
        if kind not in KINDS:
            raise InvalidInput.for_field("kind", f"must be one of {', '.join(KINDS)}")
        if not (isinstance(margin_km, int | float) and 0 <= margin_km <= 1000):
            raise InvalidInput.for_field("margin_km", "must be a number from 0 to 1000")
        async with self._lock:
            if not self._loaded:
                await self._load()
            found = await to_thread(
                self._index.query, geometry, start_ms, end_ms, margin_km=float(margin_km)
            )
            sites = self._sites(i for i, _ in found if i.key.startswith(self._site_prefix))
        return [self._match_json(item, match, kind, sites) for item, match in found]

    def _match_json(
        self, item: Item, match: Match, kind: str, sites: Mapping[str, SiteRecord]
    ) -> dict[str, Any]:
        rank = severity(kind, item.kind, touching=match.touching, distance_km=match.distance_km)
        return {
            "item": self._side(item, sites),
            "area_km2": round(match.area_km2, 3),
            "distance_km": round(match.distance_km, 3),
            "touching": match.touching,
            "window": {"start": _ts(match.start_ms), "end": _ts(match.end_ms)},
            "severity": rank,
        }

    def alerts(
        self, principal: Principal, *, include_withdrawn: bool = False
    ) -> list[dict[str, Any]]:
        """One alert per pair of items, as every node lists it; active only by default."""
        require(principal, Permission.READ)
        return [
            pair_json(p)
            for p in self._ctx.store.deconfliction_pairs(active_only=not include_withdrawn)
        ]

    def indexed(self) -> int:
        """How many items the index holds (after the first ``flush``)."""
        return len(self._index)

    def knows(self, key: str) -> Item | None:
        return self._index.get(key)


def _made(notices: Sequence[_Notice]) -> dict[str, list[Item]]:
    """The items of the notifications among ``notices``, made in one vectorised pass; none if
    one of them cannot be indexed (then each is made, or refused, by itself)."""
    wanted = [n for n in notices if n.type == "notification"]
    try:
        made = notices_items([(n.id, n.author, n.body["form"], n.body["data"]) for n in wanted])
    except (ParleyError, ValueError, KeyError):
        return {}
    return {n.id: items for n, items in zip(wanted, made, strict=True)}


def pair_json(pair: PairRecord) -> dict[str, Any]:
    detail = json.loads(pair.detail)
    return {
        "alert_event": pair.alert_event,
        "channel": pair.channel,
        "severity": pair.severity,
        "a": detail["a"],
        "b": detail["b"],
        "area_km2": detail["area_km2"],
        "distance_km": detail["distance_km"],
        "window": detail["window"],
        "summary": detail.get("summary"),
        "raised_by": detail["raised_by"],
        "created_at": _ts(pair.created_ms),
        "withdrawn_event": pair.withdrawn_event,
        "withdrawn_at": _ts(pair.withdrawn_ms),
    }


# The Area and Interval rules are the forms' own: a query is checked as the area and window of
# a declared presence, and the errors renamed to the request's fields.
_QUERY_FORM = "declared_presence/1"
_QUERY_UNITS = [{"kind": "unit", "count": 1}]


def _query_area(area: object, window: object, now: datetime) -> tuple[BaseGeometry, int, int]:
    bare_point = isinstance(area, dict) and area.get("type") == "Point" and "radius_km" not in area
    if bare_point:
        assert isinstance(area, dict)
        area = {**area, "radius_km": 1}  # a GeoJSON point: only its position is used
    data = {"units": _QUERY_UNITS, "area": area, "window": window}
    try:
        checked = validate_form(_QUERY_FORM, data, now=now).data
    except InvalidInput as exc:
        errors = tuple(
            FieldError(e.field.removeprefix("data."), e.message)
            for e in exc.errors
            if not e.field.startswith("data.units")
        )
        shown = "; ".join(f"{e.field}: {e.message}" for e in errors[:5])
        raise InvalidInput(f"the area or window is not valid: {shown}", errors=errors) from exc
    start = to_ms(parse_ts(checked["window"]["start"]))
    end = to_ms(parse_ts(checked["window"]["end"]))
    if bare_point:
        lon, lat = checked["area"]["coordinates"]
        return Point(lon, lat), start, end
    return area_geometry(checked["area"]), start, end
