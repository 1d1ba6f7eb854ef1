"""Deconfliction alerts: what an alert says, which channel carries it, and once per pair.

The pair's record (``deconfliction_pairs``) is the truth every node keeps: storing a
``deconfliction_alert``, own or received, records its pair and raises a local alert (only
the first for a pair); storing a ``deconfliction_withdrawn`` resolves both. An own alert or
withdrawal is appended only if, in the same transaction, the pair still lacks one.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from parley.clock import format_ms, parse_ts, to_ms
from parley.deconflict import SEVERITIES, Item, Overlap, agreement_of
from parley.protocol import EVENT_ID_PATTERN, AgreementState, Event
from parley.store import ChannelRecord, PairRecord, SiteRecord, StoreTx

from ._bus import BusItem
from ._channels import ChannelService
from ._context import NodeContext
from ._journal import read_agreement
from ._site_poller import site_key

__all__ = ["DeconflictionAlert", "DeconflictionAlerts", "event_of"]

_log = logging.getLogger(__name__)
_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}
_EVENT_ID_RE = re.compile(EVENT_ID_PATTERN)
# What meets a site of an agreement in force at the risk of violating it, and how severe
# that is at least.
_RISKY_KINDS = frozenset({"activity", "launch"})
_RISK_SEVERITY = "high"
Owners = Mapping[str, tuple[str, str]]  # notification id -> (author, channel)


def event_of(key: str) -> str:
    """The notification an item key belongs to (a launch has two items)."""
    return key.partition("#")[0]


def _ts(ms: int | None) -> str | None:
    return None if ms is None else format_ms(ms)


def _summary_key(node_party: str) -> str:
    """The pseudo-item "this node's protected sites" of a summary alert."""
    return f"sites:{node_party}"


@dataclass(frozen=True)
class DeconflictionAlert:
    """One alert per pair of items, as every node lists it: the first alert stored for the
    pair. ``a``, ``b``, ``window``, ``summary`` and ``agreement`` (at risk of violation) are
    as the signed alert says them."""

    alert_event: str
    channel: str
    severity: str
    a: Mapping[str, Any]
    b: Mapping[str, Any]
    area_km2: float
    distance_km: float
    window: Mapping[str, str | None]
    summary: Mapping[str, Any] | None
    agreement: str | None
    raised_by: str
    created_ms: int
    withdrawn_event: str | None
    withdrawn_ms: int | None

    @classmethod
    def of(cls, pair: PairRecord) -> DeconflictionAlert:
        detail = json.loads(pair.detail)
        return cls(
            pair.alert_event,
            pair.channel,
            pair.severity,
            detail["a"],
            detail["b"],
            detail["area_km2"],
            detail["distance_km"],
            detail["window"],
            detail.get("summary"),
            detail.get("agreement"),
            detail["raised_by"],
            pair.created_ms,
            pair.withdrawn_event,
            pair.withdrawn_ms,
        )


class DeconflictionAlerts:
    def __init__(self, ctx: NodeContext, channels: ChannelService) -> None:
        self._ctx = ctx
        self._channels = channels
        self.site_prefix = site_key(ctx.party, 0)[:-1]
        # The indexed items of agreements in force: key -> (agreement, name and category).
        self.protected: dict[str, tuple[str, Mapping[str, Any]]] = {}
        # Only the process leading the node's duties sends alert and withdrawal events; the
        # others keep their index for questions. A new leader checks the live items again.
        self.sending = True
        channels.add_effect(self._record)

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
    def announce(self, event: Event) -> None:
        """Publish the local alert this stored event raised or resolved, as overdue alerts
        are: an operator's console sees it at once. Nothing if it changed no alert (a second
        alert for a pair, a withdrawal of an alert already withdrawn)."""
        store = self._ctx.store
        if event.type == "deconfliction_alert":
            alert = store.deconfliction_alert(event.id)
        else:
            a, b = event.body["a"], event.body["b"]
            pair = next(
                (
                    p
                    for p in store.deconfliction_pairs(active_only=False, keys=[a])
                    if p.key_b == b and p.withdrawn_event == event.id
                ),
                None,
            )
            alert = None if pair is None else store.deconfliction_alert(pair.alert_event)
        if alert is not None:
            self._ctx.bus.publish(BusItem("alert", alert.id, alert.channel, alert))

    def listed(self, *, include_withdrawn: bool) -> list[DeconflictionAlert]:
        pairs = self._ctx.store.deconfliction_pairs(active_only=not include_withdrawn)
        return [DeconflictionAlert.of(p) for p in pairs]

    # -- raising ---------------------------------------------------------------------------------
    async def alert(self, item: Item, met: Sequence[tuple[Item, Overlap]], owners: Owners) -> int:
        """Alerts for what ``item`` meets (other items, each with its overlap) that no stored
        alert names yet; ``owners``: the channel of each indexed notification.

        Against this node's imported sites at most ``deconfliction_site_alert_cap`` pairs,
        the most severe and largest first, then one summary alert for all of them.
        """
        if not self.sending:
            return 0
        sites: list[tuple[Item, Overlap]] = []
        others: list[tuple[Item, Overlap]] = []
        for other, overlap in met:
            if self._ctx.party not in (item.party, other.party):
                continue
            if item.kind == other.kind == "protected_site":
                continue  # sites do not move: two of them never conflict
            mine = other.key.startswith(self.site_prefix)
            (sites if mine else others).append((other, overlap))
        if not sites and not others:
            return 0
        known = {
            (p.key_a, p.key_b)
            for p in self._ctx.store.deconfliction_pairs(active_only=False, keys=[item.key])
        }
        cap = self._ctx.settings.deconfliction_site_alert_cap
        sites.sort(key=lambda pair: (_RANK[pair[1].severity], -pair[1].area_km2, pair[0].key))
        records = self.sites([other for other, _ in sites])
        sent = 0
        for other, overlap in [*others, *sites[:cap]]:
            if (overlap.a, overlap.b) in known:
                continue
            body = self._alert_body(item, other, overlap, records)
            sent += await self._emit(body, [item, other], owners)
        if len(sites) > cap:
            summary = self._summary(item, sites, records)
            if (summary["a"]["key"], summary["b"]["key"]) not in known:
                sent += await self._emit(summary, [item], owners)
        return sent

    def sites(self, items: Iterable[Item]) -> dict[str, SiteRecord]:
        """The imported sites among ``items`` (by key), as stored."""
        ids = [int(item.key.rpartition(":")[2]) for item in items]
        return {site_key(self._ctx.party, s.id): s for s in self._ctx.store.get_sites(ids)}

    def side(self, item: Item, sites: Mapping[str, SiteRecord]) -> dict[str, Any]:
        """An item as an alert names it: its notification, or the site itself (an imported
        one, or one of an agreement's scope)."""
        side: dict[str, Any] = {"key": item.key, "party": item.party, "kind": item.kind}
        site = sites.get(item.key)
        protected = self.protected.get(item.key)
        if site is not None:  # the other side has never seen this site: say what and where
            side["site"] = {
                "name": site.name,
                "category": site.category,
                "agreement": site.agreement,
                "coordinates": [site.lon, site.lat],
            }
        elif protected is not None:
            inside = item.geometry.representative_point()
            side["site"] = {
                **protected[1],
                "agreement": protected[0],
                "coordinates": [round(inside.x, 6), round(inside.y, 6)],
            }
        else:
            side["event"] = event_of(item.key)
        return side

    def _alert_body(
        self, item: Item, other: Item, overlap: Overlap, sites: Mapping[str, SiteRecord]
    ) -> dict[str, Any]:
        a, b = (item, other) if item.key == overlap.a else (other, item)
        body: dict[str, Any] = {
            "a": self.side(a, sites),
            "b": self.side(b, sites),
            "area_km2": round(overlap.area_km2, 3),
            "distance_km": round(overlap.distance_km, 3),
            "window": {"start": _ts(overlap.start_ms), "end": _ts(overlap.end_ms)},
            "severity": overlap.severity,
        }
        risked = self._risked(item, other, overlap, sites) or self._risked(
            other, item, overlap, sites
        )
        if risked is not None:
            body["agreement"] = risked.id
            body["severity"] = min(overlap.severity, _RISK_SEVERITY, key=_RANK.__getitem__)
        return body

    def _risked(
        self, site: Item, other: Item, overlap: Overlap, sites: Mapping[str, SiteRecord]
    ) -> AgreementState | None:
        """The agreement ``site`` is protected by, if ``other`` is an activity or a launch that
        meets it while the agreement is in force: a risk of violating it."""
        record = sites.get(site.key)
        agreement = agreement_of(site.key) or (None if record is None else record.agreement)
        if other.kind not in _RISKY_KINDS or not agreement or not _EVENT_ID_RE.match(agreement):
            return None
        state = self.agreement(agreement)
        window = None if state is None else state.force_window
        if window is None:
            return None
        start, end = (None if ts is None else to_ms(parse_ts(ts)) for ts in window)
        after_start = overlap.end_ms is None or start is None or overlap.end_ms > start
        before_end = end is None or overlap.start_ms is None or overlap.start_ms < end
        return state if after_start and before_end else None

    def agreement(self, agreement: str) -> AgreementState | None:
        return read_agreement(self._ctx.store, agreement)

    def _summary(
        self,
        item: Item,
        sites: Sequence[tuple[Item, Overlap]],
        records: Mapping[str, SiteRecord],
    ) -> dict[str, Any]:
        """One alert for every site ``item`` meets, counted by category."""
        categories = Counter(records[other.key].category for other, _ in sites)
        mine = self.side(item, {})
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

    async def _emit(self, body: dict[str, Any], items: Sequence[Item], owners: Owners) -> int:
        """Append the alert on a channel of both parties (the channel of one of ``items``
        first), unless the pair has one by then."""
        parties = {body["a"]["party"], body["b"]["party"]}
        preferred = [owners[e][1] for e in map(event_of, (i.key for i in items)) if e in owners]
        state = self.agreement(body["agreement"]) if "agreement" in body else None
        if state is not None:  # an alert names an agreement on the agreement's channel only
            preferred.insert(0, state.channel)
        record = self._channel_for(parties, preferred)
        if record is None:
            _log.warning(
                "no channel of both %s: the alert of %s is not sent", parties, items[0].key
            )
            return 0
        if state is not None and record.id != state.channel:
            body = {k: v for k, v in body.items() if k != "agreement"}
        return await self._append_once(
            record, "deconfliction_alert", body, body["a"]["key"], body["b"]["key"], _no_alert
        )

    # -- withdrawing -----------------------------------------------------------------------------
    async def withdraw(self, pairs: Iterable[PairRecord], gone: Mapping[str, str]) -> int:
        """Withdraw the alerts this node raised whose overlap is gone; ``gone``: why each
        cancelled or superseded notification left the index."""
        if not self.sending:
            return 0
        sent = 0
        for pair in pairs:
            detail = json.loads(pair.detail)
            if pair.withdrawn_event is not None or detail.get("raised_by") != self._ctx.party:
                continue
            why = [gone[e] for e in map(event_of, (pair.key_a, pair.key_b)) if e in gone]
            if not why:
                continue
            parties = {detail["a"]["party"], detail["b"]["party"]}
            record = self._channel_for(parties, [pair.channel])
            if record is None:
                continue
            body = {"alert": pair.alert_event, "a": pair.key_a, "b": pair.key_b, "reason": why[0]}
            sent += await self._append_once(
                record, "deconfliction_withdrawn", body, pair.key_a, pair.key_b, _not_withdrawn
            )
        return sent

    async def _append_once(
        self,
        record: ChannelRecord,
        kind: str,
        body: Mapping[str, Any],
        key_a: str,
        key_b: str,
        wanted: Callable[[PairRecord | None], bool],
    ) -> int:
        """Append if the pair, as the storing transaction sees it, still ``wanted`` it: the
        other party's node may have got there first. 1 if appended, else 0."""
        appended = await self._channels.append_if(
            lambda tx: wanted(tx.deconfliction_pair(key_a, key_b)), record, kind, body
        )
        return 0 if appended is None else 1

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


def _no_alert(pair: PairRecord | None) -> bool:
    return pair is None


def _not_withdrawn(pair: PairRecord | None) -> bool:
    return pair is not None and pair.withdrawn_event is None
