"""Agreements: their events' bodies, their state folded from those events, and their rules.

An agreement is proposed (``agreement``), changed (``agreement_amendment``, an extension
being an amendment of its term only) and signed (``agreement_signature``); each is
identified by the id of its proposal. A proposal or an amendment counts as its author's
signature of it. The version in force is the latest version every party signed; the
agreement is in force from the time the first fully signed version got its last needed
signature (or its term's start, if later) until the end of the term in force.

The body checks here are of shape: the categories, areas and sites of a scope are checked
against the forms by the service that proposes it (docs/agreements.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from parley.clock import parse_ts
from parley.errors import Conflict, Forbidden, InvalidInput

from ._event import Event, validate_party_id
from ._fields import (
    event_id,
    event_ids_by,
    exact_keys,
    timestamp,
    validate_language_tag,
    validate_operator_name,
    validate_text,
)

if TYPE_CHECKING:
    from ._case import Case

__all__ = [
    "AGREEMENT_KINDS",
    "AGREEMENT_TYPES",
    "RULES",
    "VALIDATORS",
    "AgreementState",
    "AgreementStatus",
    "AgreementVersion",
    "fold_agreement",
]

AGREEMENT_KINDS = ("moratorium", "ceasefire", "exchange", "treaty", "other")
AGREEMENT_TYPES = frozenset({"agreement", "agreement_amendment", "agreement_signature"})
_TITLE_MAX = 200
_REASON_MAX = 1000
_AGREEMENT_TEXT_MAX = 64 * 1024
_MAX_PARTIES = 60
_MAX_SCOPE_ITEMS = 1000
_SCOPE_KEYS = frozenset({"categories", "areas", "sites", "counts"})
_SITE_KEYS = {"name", "category", "party", "location"}
_AREA_TYPES = frozenset({"Polygon", "MultiPolygon", "Point", "NamedArea"})
_KEY_MAX = 40

AgreementStatus = Literal["proposed", "in_force", "expired", "not_started"]


# -- bodies --------------------------------------------------------------------------------------
def _agreement(body: Mapping[str, Any]) -> None:
    exact_keys(body, {"kind", "title", "parties", "mediator", "scope", "term", "texts", "by"})
    if body["kind"] not in AGREEMENT_KINDS:
        raise InvalidInput.for_field("body.kind", f"must be one of {', '.join(AGREEMENT_KINDS)}")
    validate_text(body["title"], "body.title", limit=_TITLE_MAX)
    parties = body["parties"]
    if (
        not isinstance(parties, list)
        or not 2 <= len(parties) <= _MAX_PARTIES
        or len(set(map(str, parties))) != len(parties)
    ):
        raise InvalidInput.for_field(
            "body.parties", f"must list 2 to {_MAX_PARTIES} different party ids"
        )
    for i, party in enumerate(parties):
        validate_party_id(party, f"body.parties.{i}")
    mediator = body["mediator"]
    if mediator is not None:
        validate_party_id(mediator, "body.mediator")
        if mediator in parties:
            raise InvalidInput.for_field("body.mediator", "must not be one of the parties")
    _scope(body["scope"], "body.scope")
    _term(body["term"], "body.term")
    _texts(body["texts"], "body.texts")
    validate_operator_name(body["by"], "body.by")


def _amendment(body: Mapping[str, Any]) -> None:
    changes = frozenset({"term", "scope", "texts"})
    exact_keys(body, {"agreement", "by"}, changes | {"reason"})
    event_id(body["agreement"], "body.agreement")
    if not changes & set(body):
        raise InvalidInput.for_field("body.term", "an amendment changes the term, scope or texts")
    if "term" in body:
        _term(body["term"], "body.term")
    if "scope" in body:
        _scope(body["scope"], "body.scope")
    if "texts" in body:
        _texts(body["texts"], "body.texts")
    if "reason" in body:
        validate_text(body["reason"], "body.reason", limit=_REASON_MAX)
    validate_operator_name(body["by"], "body.by")


def _term(term: object, where: str) -> None:
    if not isinstance(term, dict):
        raise InvalidInput.for_field(where, "must be an object with start and end")
    exact_keys(term, {"start", "end"}, where=where)
    timestamp(term["start"], f"{where}.start")
    if term["end"] is not None:
        timestamp(term["end"], f"{where}.end")
        if parse_ts(term["end"]) <= parse_ts(term["start"]):
            raise InvalidInput.for_field(f"{where}.end", "must be after the start")


def _texts(texts: object, where: str) -> None:
    if not isinstance(texts, dict) or not texts:
        raise InvalidInput.for_field(where, "must give the text in at least one language")
    for lang, text in texts.items():
        validate_language_tag(lang, f"{where}.{lang}")
        validate_text(text, f"{where}.{lang}", limit=_AGREEMENT_TEXT_MAX)


def _scope(scope: object, where: str) -> None:
    if not isinstance(scope, dict):
        raise InvalidInput.for_field(where, "must be an object")
    exact_keys(scope, set(), _SCOPE_KEYS, where)
    categories = scope.get("categories", [])
    if not isinstance(categories, list) or not all(_is_key(c) for c in categories):
        raise InvalidInput.for_field(f"{where}.categories", "must list site categories")
    for name in ("areas", "sites"):
        items = scope.get(name, [])
        if not isinstance(items, list) or len(items) > _MAX_SCOPE_ITEMS:
            raise InvalidInput.for_field(
                f"{where}.{name}", f"must be a list of at most {_MAX_SCOPE_ITEMS}"
            )
    for i, area in enumerate(scope.get("areas", [])):
        _area(area, f"{where}.areas.{i}")
    for i, site in enumerate(scope.get("sites", [])):
        _site(site, f"{where}.sites.{i}")
    counts = scope.get("counts", {})
    if not isinstance(counts, dict) or not all(
        _is_key(k) and isinstance(n, int) and not isinstance(n, bool) and n >= 0
        for k, n in counts.items()
    ):
        raise InvalidInput.for_field(f"{where}.counts", "must map categories to numbers >= 0")


def _site(site: object, where: str) -> None:
    if not isinstance(site, dict):
        raise InvalidInput.for_field(where, "must be an object")
    exact_keys(site, _SITE_KEYS, where=where)
    validate_text(site["name"], f"{where}.name", limit=_TITLE_MAX)
    if not _is_key(site["category"]):
        raise InvalidInput.for_field(f"{where}.category", "must be a site category")
    validate_party_id(site["party"], f"{where}.party")
    _area(site["location"], f"{where}.location")


def _area(area: object, where: str) -> None:
    if not isinstance(area, dict) or area.get("type") not in _AREA_TYPES:
        raise InvalidInput.for_field(
            where, "must be a GeoJSON Polygon, MultiPolygon, Point with radius_km or NamedArea"
        )


def _is_key(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= _KEY_MAX and value.isidentifier()


VALIDATORS = {
    "agreement": _agreement,
    "agreement_amendment": _amendment,
    "agreement_signature": event_ids_by("agreement", "version"),
}


# -- state ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AgreementVersion:
    """The proposal or one amendment, with the whole text as it left it and who signed it."""

    id: str
    author: str
    ts: str
    start: str
    end: str | None
    scope: Mapping[str, Any]
    texts: Mapping[str, str]
    reason: str | None
    signatures: Mapping[str, str]  # party -> ts of its signature


@dataclass(frozen=True, slots=True)
class AgreementState:
    """An agreement as its stored events define it.

    ``scope``, ``texts``, ``start`` and ``end`` are those of the version in force, or of the
    latest version while none is; ``signatures`` are those of the latest version (a mediator's
    among them, as a witness); ``pending`` is the latest version while a party has not
    signed it.
    """

    id: str
    channel: str
    kind: str
    title: str
    proposer: str
    parties: tuple[str, ...]
    mediator: str | None
    scope: Mapping[str, Any]
    texts: Mapping[str, str]
    start: str
    end: str | None
    signatures: Mapping[str, str]
    in_force_from: str | None
    pending: str | None
    versions: tuple[AgreementVersion, ...]

    @property
    def latest(self) -> AgreementVersion:
        return self.versions[-1]

    @property
    def in_force_version(self) -> str | None:
        """The id of the latest version every party signed, or None."""
        signed = [v.id for v in self.versions if set(self.parties) <= set(v.signatures)]
        return signed[-1] if signed else None

    @property
    def force_window(self) -> tuple[str, str | None] | None:
        """When it is in force, [from, to), None for an open end; None if never."""
        if self.in_force_from is None:
            return None
        return max(self.start, self.in_force_from, key=parse_ts), self.end

    def version(self, version_id: str) -> AgreementVersion | None:
        return next((v for v in self.versions if v.id == version_id), None)

    def may_act(self, party: str) -> bool:
        """Whether ``party`` may propose, amend or sign it: a party or the mediator."""
        return party in self.parties or party == self.mediator

    def check_acts(self, party: str, what: str = "agreement") -> None:
        """Forbidden unless ``party`` may act on it (or on its exchange, ``what``)."""
        if not self.may_act(party):
            raise Forbidden(f"{party} is neither a party to {what} {self.id} nor its mediator")

    def in_force_at(self, moment: datetime | str) -> bool:
        return self.status(moment) == "in_force"

    def status(self, now: datetime | str) -> AgreementStatus:
        moment = parse_ts(now) if isinstance(now, str) else now
        if self.end is not None and moment >= parse_ts(self.end):
            return "expired"
        if self.in_force_from is None:
            return "proposed"
        if moment < max(parse_ts(self.start), parse_ts(self.in_force_from)):
            return "not_started"
        return "in_force"


def fold_agreement(events: Iterable[Event]) -> AgreementState:
    """The state of an agreement from its events in store order, its proposal first.

    Events of other types that name the agreement pass unread, and so does a signature of
    a version that is not one of its own.
    """
    stream = iter(events)
    proposal = next(stream)
    if proposal.type != "agreement":
        raise ValueError(f"an agreement starts with its proposal, not a {proposal.type}")
    body = proposal.body
    versions = [_first_version(proposal)]
    for event in stream:
        if event.type == "agreement_amendment":
            versions.append(_amended(versions[-1], event))
        elif event.type == "agreement_signature":
            versions = [_signed(v, event) for v in versions]
    parties = tuple(body["parties"])
    signed = [v for v in versions if set(parties) <= set(v.signatures)]
    shown = signed[-1] if signed else versions[-1]
    latest = versions[-1]
    in_force_from = _last_signature(signed[0], parties) if signed else None
    return AgreementState(
        id=proposal.id,
        channel=proposal.channel,
        kind=body["kind"],
        title=body["title"],
        proposer=proposal.author,
        parties=parties,
        mediator=body["mediator"],
        scope=shown.scope,
        texts=shown.texts,
        start=shown.start,
        end=shown.end,
        signatures=latest.signatures,
        in_force_from=in_force_from,
        pending=None if set(parties) <= set(latest.signatures) else latest.id,
        versions=tuple(versions),
    )


def _last_signature(version: AgreementVersion, parties: Iterable[str]) -> str:
    """When ``version`` got the last signature of a party; compared as times, not strings
    (a time may be written with or without its milliseconds)."""
    return max((version.signatures[p] for p in parties), key=parse_ts)


def _first_version(proposal: Event) -> AgreementVersion:
    body = proposal.body
    term = body["term"]
    return AgreementVersion(
        proposal.id,
        proposal.author,
        proposal.ts,
        term["start"],
        term["end"],
        body["scope"],
        body["texts"],
        None,
        {proposal.author: proposal.ts},
    )


def _amended(previous: AgreementVersion, amendment: Event) -> AgreementVersion:
    body = amendment.body
    term = body.get("term", {"start": previous.start, "end": previous.end})
    return AgreementVersion(
        amendment.id,
        amendment.author,
        amendment.ts,
        term["start"],
        term["end"],
        body.get("scope", previous.scope),
        body.get("texts", previous.texts),
        body.get("reason"),
        {amendment.author: amendment.ts},
    )


def _signed(version: AgreementVersion, signature: Event) -> AgreementVersion:
    if signature.body["version"] != version.id or signature.author in version.signatures:
        return version
    return replace(version, signatures={**version.signatures, signature.author: signature.ts})


# -- rules ---------------------------------------------------------------------------------------
def _proposal_rule(case: Case) -> None:
    """The parties and the mediator a proposal names are active members of its channel, and
    its author is one of them."""
    channel, event, body = case.channel, case.event, case.event.body
    named = [*body["parties"], *([body["mediator"]] if body["mediator"] else [])]
    if event.author not in named:
        raise Forbidden(f"{event.author} proposes an agreement only as a party or its mediator")
    for party in named:
        if party not in channel.members or party in channel.invited:
            raise Conflict(f"{party} is not an active member of {channel.id}")
    _check_end(body["term"]["end"], event)


def _check_end(end: str | None, event: Event) -> None:
    if end is not None and parse_ts(end) <= parse_ts(event.ts):
        raise InvalidInput.for_field("term.end", "is already past")


def _acting(case: Case) -> AgreementState:
    """The agreement an amendment or a signature names, if its author may act on it.

    ``check_event`` refused an event whose agreement is missing or of another channel.
    """
    agreement = case.agreement
    assert agreement is not None
    agreement.check_acts(case.event.author)
    return agreement


def _amendment_rule(case: Case) -> None:
    state, event = _acting(case), case.event
    _check_end(event.body.get("term", {}).get("end"), event)
    # A peer may amend before it learns of signatures that ended the term here: not judged.
    if not case.received and state.status(event.ts) == "expired":
        raise Conflict(f"agreement {state.id} has expired; it can no longer be amended")


def _signature_rule(case: Case) -> None:
    state, event = _acting(case), case.event
    version = state.version(event.body["version"])
    if version is None:
        raise InvalidInput.for_field("version", f"is not a version of agreement {state.id}")
    if event.author in version.signatures:
        raise Conflict(f"{event.author} has already signed version {version.id}")
    # A peer signs the latest version it knows; an amendment it had not seen when signing
    # may be stored here before its signature, which then counts for the version it signed.
    if case.received:
        return
    if version.id != state.latest.id:
        raise Conflict(f"version {version.id} is superseded; the latest is {state.latest.id}")
    if state.status(event.ts) == "expired":
        raise Conflict(f"agreement {state.id} has expired; it can no longer be signed")


RULES = {
    "agreement": _proposal_rule,
    "agreement_amendment": _amendment_rule,
    "agreement_signature": _signature_rule,
}
