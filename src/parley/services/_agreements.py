"""Agreements: proposed, signed, amended and extended by operators; their terms watched.

Each step is a signed event on the agreement's channel that the rule book judges
(protocol/_agreements.py); an agreement's state is the fold of its stored events. A duty
raises local alerts 72 h and 24 h before the end of the term in force, and at its end.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from parley.clock import parse_ts, to_ms
from parley.errors import FieldError, InvalidInput, NotFound
from parley.forms import validate_form
from parley.protocol import AGREEMENT_TYPES, AgreementState, AgreementStatus, Event, validate_body
from parley.store import AlertRecord, ChannelRecord, StoreTx

from ._auth import Permission, Principal, require
from ._channels import ChannelService
from ._context import NodeContext
from ._deadlines import AlertService
from ._duty import Duty
from ._journal import fold_agreement_raw, read_agreement
from ._sites import CATEGORIES, site_terms

__all__ = ["TERM_ALERTS", "AgreementService", "AgreementView"]

# (time before the end, alert kind, severity): the end first, so a pass raises the latest
# mark its clock has passed.
TERM_ALERTS: Sequence[tuple[timedelta, str, str]] = (
    (timedelta(0), "agreement_expired", "high"),
    (timedelta(hours=24), "agreement_ends_24h", "high"),
    (timedelta(hours=72), "agreement_ends_72h", "medium"),
)
# An area or a site's location is checked as the location of a protected-site notice is.
_AREA_FORM = "protected_site/1"


@dataclass(frozen=True)
class AgreementView:
    """An agreement as stored here, and its status at the time it was read."""

    state: AgreementState
    status: AgreementStatus


class AgreementService:
    def __init__(self, ctx: NodeContext, channels: ChannelService, alerts: AlertService) -> None:
        self._ctx = ctx
        self._channels = channels
        self._alerts = alerts
        self.duty = Duty(
            "agreements", self.check_terms, every_s=ctx.settings.agreement_check_interval_s
        )
        channels.add_effect(self._move_sites)
        self._raised: set[tuple[str, str]] = set()  # (kind, version) of term alerts stored

    # -- reading -------------------------------------------------------------------------------
    def state(self, agreement: str) -> AgreementState:
        """The agreement as its events stored here define it; NotFound if none is."""
        state = read_agreement(self._ctx.store, agreement)
        if state is None:
            raise NotFound(f"no agreement {agreement} on this node")
        return state

    def states(self, channel: str | None = None) -> list[AgreementState]:
        """Every agreement stored here (of ``channel``), oldest first."""
        return [self.state(a) for a in self._ctx.store.agreement_ids(channel)]

    def show(self, principal: Principal, agreement: str) -> AgreementView:
        require(principal, Permission.READ)
        return self._view(self.state(agreement))

    def listed(self, principal: Principal, channel: str | None = None) -> list[AgreementView]:
        require(principal, Permission.READ)
        if channel is not None:
            self._channels.get(principal, channel)
        return [self._view(state) for state in self.states(channel)]

    def _view(self, state: AgreementState) -> AgreementView:
        return AgreementView(state, state.status(self._ctx.clock.now()))

    # -- writing -------------------------------------------------------------------------------
    async def propose(
        self,
        principal: Principal,
        channel: str,
        *,
        kind: str,
        title: str,
        parties: Sequence[str],
        mediator: str | None,
        term: Mapping[str, Any],
        texts: Mapping[str, str],
        scope: Mapping[str, Any] | None = None,
    ) -> AgreementView:
        """Propose an agreement on ``channel``: the proposal is its author's signature."""
        require(principal, Permission.POST)
        record = self._channels.writable(channel)
        body: dict[str, Any] = {
            "kind": kind,
            "title": title,
            "parties": list(parties),
            "mediator": mediator,
            "scope": dict(scope or {}),
            "term": dict(term),
            "texts": dict(texts),
            "by": principal.username,
        }
        _checked("agreement", body)
        self._check_scope(body["scope"], body["parties"], "scope")
        stored = await self._channels.append(record, "agreement", body)
        return self._view(self.state(stored.event.id))

    async def sign(
        self, principal: Principal, agreement: str, version: str | None = None
    ) -> AgreementView:
        """Sign the latest version (``version``, if given, must be it)."""
        require(principal, Permission.POST)
        state = self.state(agreement)
        record = self._channels.writable(state.channel)
        body = {
            "agreement": agreement,
            "version": version or state.latest.id,
            "by": principal.username,
        }
        _checked("agreement_signature", body)
        await self._channels.append(record, "agreement_signature", body)
        return self._view(self.state(agreement))

    async def amend(
        self,
        principal: Principal,
        agreement: str,
        *,
        term: Mapping[str, Any] | None = None,
        scope: Mapping[str, Any] | None = None,
        texts: Mapping[str, str] | None = None,
        reason: str | None = None,
    ) -> AgreementView:
        """A new version: the fields given replace the latest version's; every party signs
        it again before it applies. An extension is an amendment of the term only."""
        require(principal, Permission.POST)
        state = self.state(agreement)
        record = self._channels.writable(state.channel)
        changes = {"term": term, "scope": scope, "texts": texts, "reason": reason}
        body: dict[str, Any] = {"agreement": agreement, "by": principal.username}
        body.update((k, v) for k, v in changes.items() if v is not None)
        _checked("agreement_amendment", body)
        if scope is not None:
            self._check_scope(body["scope"], state.parties, "scope")
        await self._channels.append(record, "agreement_amendment", body)
        return self._view(self.state(agreement))

    def _check_scope(self, scope: Mapping[str, Any], parties: Sequence[str], where: str) -> None:
        """What the rule book leaves to the proposer: known site categories, areas and site
        locations as a protected-site notice has them, sites of the agreement's parties."""
        for i, category in enumerate(scope.get("categories", [])):
            _category(category, f"{where}.categories.{i}")
        now = self._ctx.clock.now()
        for i, area in enumerate(scope.get("areas", [])):
            _area(area, f"{where}.areas.{i}", now)
        for i, site in enumerate(scope.get("sites", [])):
            _category(site["category"], f"{where}.sites.{i}.category")
            _area(site["location"], f"{where}.sites.{i}.location", now)
            if site["party"] not in parties:
                raise InvalidInput.for_field(
                    f"{where}.sites.{i}.party", "must be one of the agreement's parties"
                )

    def _move_sites(self, tx: StoreTx, record: ChannelRecord, event: Event, now: datetime) -> None:
        """In the storing transaction: the sites imported for an agreement follow its term
        as a signature or an amendment changes when it is in force."""
        if event.type not in ("agreement_signature", "agreement_amendment"):
            return
        agreement = event.body["agreement"]
        raws = tx.agreement_events(agreement, AGREEMENT_TYPES)  # this event last
        before, after = fold_agreement_raw(raws[:-1]), fold_agreement_raw(raws)
        assert before is not None  # the rule book found the agreement
        assert after is not None
        if site_terms(before) != site_terms(after):
            tx.set_agreement_site_terms(agreement, *site_terms(after))

    # -- the term ------------------------------------------------------------------------------
    async def check_terms(self) -> list[AlertRecord]:
        """Raise, once per version in force, the alert of the nearest mark its end has
        passed (72 h before, 24 h before, the end), and resolve those of the versions it
        replaced (an extension); the alerts raised or resolved."""
        now = self._ctx.clock.now()
        kinds = {kind for _, kind, _ in TERM_ALERTS}
        open_alerts = {
            a.event_id for a in self._ctx.store.list_alerts(open_only=True) if a.kind in kinds
        }
        changed = []
        for state in self.states():
            replaced = [v.id for v in state.versions if v.id != state.in_force_version]
            if open_alerts.intersection(replaced):
                changed += await self._resolve(sorted(kinds), replaced, to_ms(now))
            alert_id = await self._term_alert(state, now)
            if alert_id is not None:
                changed.append(alert_id)
        return [self._alerts.announce(alert_id) for alert_id in changed]

    async def _resolve(self, kinds: list[str], versions: list[str], now_ms: int) -> list[int]:
        return await self._ctx.store.write(lambda tx: tx.resolve_alerts_of(kinds, versions, now_ms))

    async def _term_alert(self, state: AgreementState, now: datetime) -> int | None:
        version = state.in_force_version
        if version is None or state.end is None:
            return None
        end = parse_ts(state.end)
        mark = next(((k, s) for before, k, s in TERM_ALERTS if now >= end - before), None)
        if mark is None or (mark[0], version) in self._raised:
            return None
        kind, severity = mark
        self._raised.add((kind, version))  # raised now, or before this process started
        detail = {
            "agreement": state.id,
            "title": state.title,
            "parties": list(state.parties),
            "end": state.end,
        }
        created_ms = to_ms(now)
        return await self._ctx.store.write(
            lambda tx: tx.insert_alert_once(
                kind, severity, state.channel, version, detail, created_ms
            )
        )


def _checked(kind: str, body: Mapping[str, Any]) -> None:
    """The rule book's body check, its errors naming the request's fields."""
    try:
        validate_body(kind, body)
    except InvalidInput as exc:
        errors = tuple(FieldError(e.field.removeprefix("body."), e.message) for e in exc.errors)
        raise type(exc)(exc.detail.removeprefix("body."), errors=errors) from exc


def _category(value: object, where: str) -> None:
    if value not in CATEGORIES:
        raise InvalidInput.for_field(where, f"must be one of {', '.join(CATEGORIES)}")


def _area(area: object, where: str, now: datetime) -> None:
    data = {"site_name": "site", "category": "other", "location": area}
    try:
        validate_form(_AREA_FORM, data, now=now)
    except InvalidInput as exc:
        errors = tuple(
            FieldError(where + e.field.removeprefix("data.location"), e.message) for e in exc.errors
        )
        shown = "; ".join(f"{e.field}: {e.message}" for e in errors[:5])
        raise InvalidInput(f"not a valid area: {shown}", errors=errors) from exc
