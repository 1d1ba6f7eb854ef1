"""Deconfliction: every area-bearing item this node knows in one index, and a signed
``deconfliction_alert`` when items of two parties meet (docs/deconfliction.md, "The service").

Where the work happens:

* In the storing transaction (``DeconflictionAlerts``, a ChannelService effect): a stored
  ``deconfliction_alert``, own or received, records its pair and raises a local alert; a
  ``deconfliction_withdrawn`` resolves both. Nothing else, so the writer stays fast.
* After the commit (``on_stored``, a bus listener): the local alert raised or resolved is
  published to the live streams; notifications and cancellations are queued; ``flush``
  (a pass of the duty ``run``, or a test) updates the index and checks the new items,
  with the geometry work in a worker thread.
* Sites imported while the node runs (``SitePoller``): every ``flush`` looks for sites
  stored since the last one, and the duty passes at least every ``deconfliction_site_poll_s``;
  new sites join the index incrementally and are checked against the live notices.
* Agreements (``on_stored`` of their events): the sites and areas of an agreement's scope
  are in the index while it is in force, and the sites imported for it follow its term; a
  signature or an amendment takes them out and in again. An activity or a launch meeting
  one while it is in force is a risk of violating it: the alert names the agreement.
* At start (the first ``flush``): the index is loaded from the store and every live item
  is checked again against the stored pairs, so an alert the process did not get to send
  before it stopped is sent now, and none twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from parley import deconflict
from parley.clock import parse_ts, to_ms
from parley.deconflict import KINDS, Item, Match, agreement_items, severity
from parley.errors import FieldError, InvalidInput, ParleyError
from parley.forms import area_geometry, validate_form
from parley.protocol import AGREEMENT_TYPES, Event
from parley.store import Distribution

from ._auth import Permission, Principal, require
from ._bus import BusItem
from ._channels import ChannelService
from ._context import NodeContext
from ._deconflict_alerts import DeconflictionAlert, DeconflictionAlerts, event_of
from ._duty import Duty
from ._site_poller import SitePoller, site_rows
from ._threads import collector_paused, to_thread

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

    from parley.deconflict import SpaceTimeIndex

__all__ = ["WATCHED", "DeconflictionService", "Meeting", "Situation"]

_log = logging.getLogger(__name__)
_T = TypeVar("_T")

_QUEUED = frozenset({"notification", "cancellation"})
_ANNOUNCED = frozenset({"deconfliction_alert", "deconfliction_withdrawn"})
# What ``on_stored`` looks at: the index of every process of the node follows these.
WATCHED = _QUEUED | _ANNOUNCED | AGREEMENT_TYPES
_EVENT_PAGE = 5000
_RETRY_S = 5.0


@dataclass(frozen=True)
class Meeting:
    """What a queried area meets: an indexed item as an alert would name it, how they meet,
    and the severity as if the query were an item of the kind asked."""

    item: Mapping[str, Any]
    match: Match
    severity: str


@dataclass(frozen=True)
class Situation:
    """What the situation map shows, on this party's channels only: the items of the notices
    whose window is not over and those of the agreements in force (each with its channel),
    and the active alerts, each with where
    its two items overlap as far as this node knows their shapes (None: it knows one side
    only, as for a summary of sites)."""

    items: list[tuple[Item, str]]
    alerts: list[tuple[DeconflictionAlert, BaseGeometry | None]]


class DeconflictionService:
    def __init__(self, ctx: NodeContext, channels: ChannelService) -> None:
        self._ctx = ctx
        self._alerts = DeconflictionAlerts(ctx, channels)
        self._lock = asyncio.Lock()  # one user of the index at a time: it is not thread-safe
        self._queue: list[Event] = []  # notifications and cancellations stored since
        # Each search of the index, for what new items meet or for a question: for metrics.
        self.search_seconds = Distribution((0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5))
        self.duty = Duty(
            "deconfliction",
            self.flush,
            every_s=ctx.settings.deconfliction_site_poll_s,
            backoff_s=_RETRY_S,
        )
        self._reset()

    def lead(self) -> None:
        """This process now leads: alerts are its to send, starting with those the last
        leader did not get to send (the index is loaded again and the live items checked)."""
        self._alerts.sending = True
        self.reload()

    def reload(self) -> None:
        """Load the index from the store again at the next pass: it may lack what was stored
        while this process was not told (its connection to the others was lost)."""
        self._reload = True
        self.duty.wake()

    def stand_by(self) -> None:
        """Another process leads: this one keeps its index for questions, and sends nothing."""
        self._alerts.sending = False

    def _reset(self) -> None:
        self._reload = False
        self._loaded = False
        self._made_index: SpaceTimeIndex | None = None
        self._owner: dict[str, tuple[str, str]] = {}  # notification id -> (author, channel)
        self._keys: dict[str, tuple[str, ...]] = {}  # notification id -> its items' keys
        self._gone: dict[str, str] = {}  # cancelled or superseded notification id -> why
        self._sites = SitePoller(self._ctx)
        self._agreement_keys: dict[str, tuple[str, ...]] = {}  # agreement -> its scope's keys
        self._agreement_channels: dict[str, str] = {}  # agreement -> its channel
        self._changed_agreements: set[str] = set()  # signed or amended since
        self._alerts.protected.clear()

    @property
    def _index(self) -> SpaceTimeIndex:
        """Made when first needed: a node with no areas loads no geometry library."""
        if self._made_index is None:
            self._made_index = deconflict.SpaceTimeIndex(
                rebuild_threshold=self._ctx.settings.deconfliction_rebuild_threshold
            )
        return self._made_index

    # -- after the commit ------------------------------------------------------------------------
    def on_stored(self, item: BusItem) -> None:
        event = None if item.view is None else item.view.event
        if event is None:
            return
        if event.type in _ANNOUNCED:
            try:
                self._alerts.announce(event)
            except Exception:  # the event is stored: its append must not fail over this
                _log.exception("the alert of %s could not be published", event.id)
        elif event.type in _QUEUED:
            self._queue.append(event)
            self.duty.wake()
        elif event.type in AGREEMENT_TYPES - {"agreement"}:  # a proposal alone is not in force
            self._changed_agreements.add(event.body["agreement"])
            self.duty.wake()

    async def flush(self) -> int:
        """Load the index if not yet done, then take in what was stored since (notices, and
        sites imported meanwhile); the number of alert and withdrawal events this node sent."""
        async with self._lock:
            try:
                sent = 0
                if self._reload:
                    self._reset()
                if not self._loaded:
                    sent += await self._load()
                work, self._queue = self._queue, []
                sent += await self._take_in(work)
                sent += await self._take_in_sites()
                return sent + await self._take_in_agreements()
            except Exception:
                # Start over from the store: the reload sends whatever this pass did not.
                self._reset()
                raise

    async def run(self) -> None:
        """The background duty: load at start, then take in new items as they are stored, and
        imported sites at least every ``deconfliction_site_poll_s``; after a failure, again
        from the store once a backoff has passed."""
        await self.duty.run()

    async def _take_in(self, work: Sequence[Event]) -> int:
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
        pairs = self._ctx.store.deconfliction_pairs(keys=removed)
        sent = await self._alerts.withdraw(pairs, self._gone)
        return sent + await self._check(added)

    def _update(self, added: Sequence[Item], removed: Sequence[str]) -> None:
        for key in removed:
            self._index.remove(key)
        for item in added:
            self._index.add(item)

    def _accept(
        self, notice: Event, made: Mapping[str, list[Item]]
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
                else deconflict.notice_items(notice.id, notice.author, body["form"], body["data"])
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
        if not self._sites.has_new():
            return 0
        sites = await to_thread(self._sites.take_into, self._index)
        return await self._check_sites(sites)

    async def _check_sites(self, sites: Sequence[Item]) -> int:
        """Alerts for new sites, raised from the live notices they meet: each notice's cap
        on site alerts and its summary hold as if the sites had been there before it."""
        live = self._live()
        if not sites or not live:
            return 0
        new = {site.key for site in sites}
        if len(sites) >= len(live):  # start from the smaller side
            return await self._check(live, meeting=new)
        found = await self._search(self._index.overlaps_for_many, sites)
        met = {
            o.a if o.b == site.key else o.b
            for site, hits in zip(sites, found, strict=True)
            for o in hits
        }
        return await self._check([item for item in live if item.key in met])

    # -- agreements ------------------------------------------------------------------------------
    async def _take_in_agreements(self) -> int:
        """The items of the agreements signed or amended since, as their term now stands,
        checked against the live notices as new sites are."""
        changed, self._changed_agreements = self._changed_agreements, set()
        added: list[Item] = []
        removed: list[str] = []
        for agreement in sorted(changed):
            removed.extend(self._forget_agreement(agreement))
            added.extend(self._agreement_items(agreement))
            imported = self._imported_sites(agreement)
            removed.extend(site.key for site in imported)
            added.extend(imported)
        removed = [key for key in dict.fromkeys(removed) if key in self._index]
        if not added and not removed:
            return 0
        await to_thread(self._update, added, removed)
        return await self._check_sites(added)

    def _forget_agreement(self, agreement: str) -> tuple[str, ...]:
        keys = self._agreement_keys.pop(agreement, ())
        for key in keys:
            self._alerts.protected.pop(key, None)
        return keys

    def _agreement_items(self, agreement: str) -> list[Item]:
        """The scope's sites and areas while the agreement is in force (none otherwise)."""
        state = self._alerts.agreement(agreement)
        window = None if state is None else state.force_window
        if state is None or window is None:
            return []
        start, end = (None if ts is None else to_ms(parse_ts(ts)) for ts in window)
        try:
            made = agreement_items(state.id, state.parties, state.scope, start, end)
        except (ParleyError, ValueError, KeyError, TypeError):
            _log.exception("agreement %s has a scope this node cannot index", agreement)
            return []
        for item, described in made:
            self._alerts.protected[item.key] = (state.id, described)
        self._agreement_keys[agreement] = tuple(item.key for item, _ in made)
        self._agreement_channels[agreement] = state.channel
        return [item for item, _ in made]

    def _imported_sites(self, agreement: str) -> list[Item]:
        """The sites imported for the agreement that the index holds, with the validity the
        agreement's term gives them now (those not taken in yet come with the poller)."""
        rows = site_rows(self._ctx.party, self._ctx.store.agreement_site_shapes(agreement))
        return deconflict.site_items([row for row in rows if row[0] in self._index])

    # -- loading at start ------------------------------------------------------------------------
    async def _load(self) -> int:
        """Build the index from the store, then send what the stored pairs lack."""
        self._queue.clear()  # the store holds all of it, and more
        await to_thread(self._build)
        self._loaded = True
        stale = [
            pair
            for pair in self._ctx.store.deconfliction_pairs()
            if event_of(pair.key_a) in self._gone or event_of(pair.key_b) in self._gone
        ]
        sent = await self._alerts.withdraw(stale, self._gone)
        return sent + await self._check(self._live())

    def _build(self) -> None:
        with collector_paused():
            self._build_index()
        _log.info("deconfliction index loaded: %d items", self.indexed())

    def _build_index(self) -> None:
        items: dict[str, Item] = {}
        after = 0
        while page := self._ctx.store.notice_events(tuple(_QUEUED), after, _EVENT_PAGE):
            notices = [stored.event for stored in page]
            made = _made(notices)
            for notice in notices:
                added, removed = self._accept(notice, made)
                items.update((item.key, item) for item in added)
                for key in removed:
                    items.pop(key, None)
            after = page[-1].pos
        items.update((item.key, item) for item in self._sites.take())
        for agreement in self._ctx.store.agreement_ids():
            items.update((item.key, item) for item in self._agreement_items(agreement))
        if items:
            self._index.bulk_load(items.values())

    # -- alerts ----------------------------------------------------------------------------------
    async def _check(self, items: Sequence[Item], *, meeting: set[str] | None = None) -> int:
        """Alerts for what ``items`` meet; with ``meeting``, only for those meeting one of
        these keys (the rest were checked before)."""
        if not items:
            return 0
        found = await self._search(self._index.overlaps_for_many, items)
        sent = 0
        for item, overlaps in zip(items, found, strict=True):
            if overlaps and (meeting is None or any({o.a, o.b} & meeting for o in overlaps)):
                met = [
                    (other, o)
                    for o in overlaps
                    if (other := self._index.get(o.b if o.a == item.key else o.a)) is not None
                ]
                sent += await self._alerts.alert(item, met, self._owner)
        return sent

    async def _search(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        started = time.perf_counter()
        try:
            return await to_thread(fn, *args, **kwargs)
        finally:
            self.search_seconds.observe(time.perf_counter() - started)

    # -- questions -------------------------------------------------------------------------------
    async def check(
        self,
        principal: Principal,
        area: object,
        window: object,
        *,
        margin_km: float = 0.0,
        kind: str = "activity",
    ) -> list[Meeting]:
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
            found = await self._search(
                self._index.query, geometry, start_ms, end_ms, margin_km=float(margin_km)
            )
            prefix = self._alerts.site_prefix
            sites = self._alerts.sites(i for i, _ in found if i.key.startswith(prefix))
        return [
            Meeting(
                self._alerts.side(item, sites),
                match,
                severity(kind, item.kind, touching=match.touching, distance_km=match.distance_km),
            )
            for item, match in found
        ]

    def alerts(
        self, principal: Principal, *, include_withdrawn: bool = False
    ) -> list[DeconflictionAlert]:
        """One alert per pair of items, as every node lists it; active only by default."""
        require(principal, Permission.READ)
        return self._alerts.listed(include_withdrawn=include_withdrawn)

    async def situation(self, principal: Principal) -> Situation:
        """The map's picture now. What was stored a moment ago is taken in first (what the
        duty would do next), so a map told of a new notice draws it at once."""
        require(principal, Permission.READ)
        await self.flush()
        mine = {c.id for c in self._ctx.store.list_channels(self._ctx.party)}
        async with self._lock:
            items = [
                (item, channel)
                for item in self._live()
                if (channel := self._owner[event_of(item.key)][1]) in mine
            ] + [
                (item, channel)
                for agreement, keys in self._agreement_keys.items()
                if (channel := self._agreement_channels[agreement]) in mine
                for key in keys
                if (item := self._index.get(key)) is not None
            ]
            alerts = [a for a in self._alerts.listed(include_withdrawn=False) if a.channel in mine]
            shapes = [(self._shape(a.a), self._shape(a.b)) for a in alerts]
        return Situation(
            items,
            [
                (alert, None if a is None or b is None else a.intersection(b))
                for alert, (a, b) in zip(alerts, shapes, strict=True)
            ],
        )

    def _shape(self, side: Mapping[str, Any]) -> BaseGeometry | None:
        """An alert's side as a shape: the indexed item, or where another node's site is."""
        item = self._index.get(side["key"])
        if item is not None:
            return item.geometry
        from shapely.geometry import Point

        site = side.get("site")
        coordinates = site.get("coordinates") if isinstance(site, Mapping) else None
        if isinstance(coordinates, list) and len(coordinates) == 2:
            return Point(*coordinates)
        return None

    def indexed(self) -> int:
        """How many items the index holds (after the first ``flush``)."""
        return 0 if self._made_index is None else len(self._made_index)

    def knows(self, key: str) -> Item | None:
        return self._index.get(key)


def _made(notices: Sequence[Event]) -> dict[str, list[Item]]:
    """The items of the notifications among ``notices``, made in one vectorised pass; none if
    one of them cannot be indexed (then each is made, or refused, by itself)."""
    wanted = [n for n in notices if n.type == "notification"]
    if not wanted:
        return {}
    try:
        made = deconflict.notices_items(
            [(n.id, n.author, n.body["form"], n.body["data"]) for n in wanted]
        )
    except (ParleyError, ValueError, KeyError):
        return {}
    return {n.id: items for n, items in zip(wanted, made, strict=True)}


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
        from shapely.geometry import Point

        lon, lat = checked["area"]["coordinates"]
        return Point(lon, lat), start, end
    return area_geometry(checked["area"]), start, end
