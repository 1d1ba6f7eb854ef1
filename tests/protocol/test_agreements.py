"""Agreements: their bodies, the fold of their events (properties) and their rules."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.clock import format_ts
from parley.errors import Conflict, Forbidden, InvalidInput, NotFound, ParleyError
from parley.protocol import (
    AgreementState,
    Event,
    agreement_named,
    check_event,
    fold_agreement,
    validate_body,
)

US, RU, AE, UA = "us-eucom", "ru-genstaff", "ae-mediator", "ua-nsdc"
CH, OTHER = "ch_abudhabi001", "ch_elsewhere01"
T0 = datetime(2026, 3, 18, tzinfo=UTC)


@dataclass(frozen=True)
class Channel:
    id: str
    created_by: str
    members: Mapping[str, str]
    invited: frozenset[str]
    status: str = "active"
    two_person: bool = False


ABU_DHABI = Channel(CH, AE, {US: "party", RU: "party", AE: "mediator"}, frozenset())


def at(hours: float) -> str:
    return format_ts(T0 + timedelta(hours=hours))


def term(start_h: float = 0, end_h: float | None = 30 * 24) -> dict[str, Any]:
    return {"start": at(start_h), "end": None if end_h is None else at(end_h)}


def proposal_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "moratorium",
        "title": "Moratorium on strikes on energy infrastructure",
        "parties": [US, RU],
        "mediator": AE,
        "scope": {"categories": ["power_plant", "substation"]},
        "term": term(),
        "texts": {"en": "No strikes on energy infrastructure for 30 days."},
        "by": "duty1",
    }
    return {**body, **changes}


_seq = iter(range(1, 10**9))


def event(author: str, kind: str, body: Mapping[str, Any], hours: float = 0) -> Event:
    return Event(CH, author, next(_seq), None, {}, at(hours), kind, body, "")


def sign(agreement: str, version: str, author: str, hours: float = 1) -> Event:
    body = {"agreement": agreement, "version": version, "by": "duty1"}
    return event(author, "agreement_signature", body, hours)


def amend(agreement: str, author: str, hours: float = 1, **changes: Any) -> Event:
    return event(
        author, "agreement_amendment", {"agreement": agreement, "by": "duty1", **changes}, hours
    )


# -- bodies --------------------------------------------------------------------------------------
def test_a_proposal_body_of_every_field_passes() -> None:
    scope = {
        "categories": ["power_plant"],
        "areas": [{"type": "Point", "coordinates": [30.5, 50.4], "radius_km": 5}],
        "sites": [
            {
                "name": "Kyiv CHP-5",
                "category": "power_plant",
                "party": US,
                "location": {"type": "Point", "coordinates": [30.5, 50.4], "radius_km": 1},
            }
        ],
        "counts": {"military": 150, "civilian": 7},
    }
    validate_body("agreement", proposal_body(scope=scope, term=term(end_h=None)))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kind": "truce"}, "body.kind"),
        ({"parties": [US]}, "body.parties"),
        ({"parties": [US, US]}, "body.parties"),
        ({"mediator": US}, "body.mediator"),
        ({"term": {"start": at(5), "end": at(1)}}, "body.term.end"),
        ({"term": {"start": at(0)}}, "body.term.end"),
        ({"texts": {}}, "body.texts"),
        ({"texts": {"xx-notalanguage": "text"}}, "body.texts.xx-notalanguage"),
        ({"scope": {"counts": {"military": -1}}}, "body.scope.counts"),
        ({"scope": {"areas": [{"type": "Line"}]}}, "body.scope.areas.0"),
        ({"scope": {"weapons": []}}, "body.scope.weapons"),
        ({"title": "x" * 201}, "body.title"),
    ],
)
def test_a_bad_proposal_names_its_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        validate_body("agreement", proposal_body(**changes))
    assert refused.value.errors[0].field == field


def test_an_amendment_changes_something_and_a_signature_names_a_version() -> None:
    validate_body("agreement_amendment", {"agreement": "a" * 64, "term": term(), "by": "d1"})
    with pytest.raises(InvalidInput, match=r"body.term"):
        validate_body("agreement_amendment", {"agreement": "a" * 64, "by": "d1"})
    with pytest.raises(InvalidInput, match=r"body.version"):
        validate_body("agreement_signature", {"agreement": "a" * 64, "version": "v", "by": "d1"})


def test_an_alert_may_name_the_agreement_it_risks() -> None:
    item = {"key": "k1", "party": US, "kind": "activity"}
    body = {
        "a": item,
        "b": {**item, "key": "k2", "party": RU, "kind": "protected_site"},
        "area_km2": 1.0,
        "distance_km": 0,
        "window": {"start": at(0), "end": None},
        "severity": "high",
        "agreement": "b" * 64,
    }
    validate_body("deconfliction_alert", body)
    with pytest.raises(InvalidInput, match=r"body.agreement"):
        validate_body("deconfliction_alert", {**body, "agreement": "moratorium"})


# -- the fold ------------------------------------------------------------------------------------
@st.composite
def histories(draw: st.DrawFn) -> tuple[list[Event], list[str], str | None]:
    """A proposal, then amendments and signatures as the rules allow them, in time order."""
    parties = draw(st.lists(st.sampled_from((US, RU, UA)), min_size=2, max_size=3, unique=True))
    mediator = draw(st.sampled_from((AE, None)))
    participants = [*parties, *([mediator] if mediator else [])]
    proposer = draw(st.sampled_from(participants))
    body = proposal_body(parties=parties, mediator=mediator)
    proposal = event(proposer, "agreement", body)
    events, latest, signed = [proposal], proposal.id, {proposer}
    for step in range(1, draw(st.integers(0, 8)) + 1):
        author = draw(st.sampled_from(participants))
        if draw(st.integers(0, 4)) == 0:
            extension = term(end_h=(40 + step) * 24)
            amendment = amend(proposal.id, author, step, term=extension)
            events.append(amendment)
            latest, signed = amendment.id, {author}
        elif author not in signed:
            events.append(sign(proposal.id, latest, author, step))
            signed.add(author)
    return events, parties, mediator


def _fully_signed_times(events: list[Event], parties: list[str]) -> str | None:
    """Independently of the fold: when the first version every party signed got its last."""
    by_version: dict[str, dict[str, str]] = {}
    for e in events:
        if e.type in ("agreement", "agreement_amendment"):
            by_version[e.id] = {e.author: e.ts}
        else:
            by_version[e.body["version"]][e.author] = e.ts
    for signatures in by_version.values():
        if set(parties) <= set(signatures):
            return max(signatures[p] for p in parties)
    return None


@given(histories())
def test_in_force_iff_every_party_signed_a_version(
    history: tuple[list[Event], list[str], str | None],
) -> None:
    events, parties, _ = history
    state = fold_agreement(events)
    assert state.in_force_from == _fully_signed_times(events, parties)
    assert (state.pending is None) == (set(parties) <= set(state.signatures))


@given(histories(), st.randoms(use_true_random=False))
def test_the_order_of_signatures_of_a_version_does_not_matter(
    history: tuple[list[Event], list[str], str | None], rng: random.Random
) -> None:
    events, _, _ = history
    shuffled, run = [events[0]], []
    for e in events[1:]:
        if e.type == "agreement_signature":
            run.append(e)
            continue
        rng.shuffle(run)
        shuffled += [*run, e]
        run = []
    rng.shuffle(run)
    shuffled += run
    assert _summary(fold_agreement(shuffled)) == _summary(fold_agreement(events))


def _summary(state: AgreementState) -> tuple[Any, ...]:
    return (state.signatures, state.in_force_from, state.pending, state.start, state.end)


@given(histories())
def test_a_mediators_signature_is_a_witness_only(
    history: tuple[list[Event], list[str], str | None],
) -> None:
    events, _, mediator = history
    without = [
        e for e in events[1:] if not (e.type == "agreement_signature" and e.author == mediator)
    ]
    with_all, parties_only = fold_agreement(events), fold_agreement([events[0], *without])
    assert with_all.in_force_from == parties_only.in_force_from
    assert with_all.pending == parties_only.pending


@given(histories(), st.integers(-24, 60 * 24))
def test_in_force_between_its_start_and_its_end(
    history: tuple[list[Event], list[str], str | None], hours: int
) -> None:
    state = fold_agreement(history[0])
    moment = T0 + timedelta(hours=hours)
    expected = (
        state.in_force_from is not None
        and max(state.start, state.in_force_from) <= format_ts(moment)
        and (state.end is None or format_ts(moment) < state.end)
    )
    assert state.in_force_at(moment) is expected
    assert (state.status(moment) == "in_force") is expected


def test_an_extension_signed_by_every_party_moves_the_end() -> None:
    proposal = event(AE, "agreement", proposal_body())
    signatures = [sign(proposal.id, proposal.id, US, 1), sign(proposal.id, proposal.id, RU, 2)]
    extension = amend(proposal.id, US, 3, term=term(end_h=60 * 24))
    state = fold_agreement([proposal, *signatures, extension])
    assert (state.in_force_from, state.end, state.pending) == (at(2), at(30 * 24), extension.id)
    assert state.status(T0 + timedelta(days=31)) == "expired"

    state = fold_agreement(
        [proposal, *signatures, extension, sign(proposal.id, extension.id, RU, 4)]
    )
    assert (state.in_force_from, state.end, state.pending) == (at(2), at(60 * 24), None)
    assert state.status(T0 + timedelta(days=31)) == "in_force"
    assert state.signatures == {US: at(3), RU: at(4)}


def test_a_term_starting_later_is_not_started_until_then() -> None:
    proposal = event(US, "agreement", proposal_body(term=term(48, None)))
    state = fold_agreement([proposal, sign(proposal.id, proposal.id, RU, 1)])
    assert state.status(T0 + timedelta(hours=2)) == "not_started"
    assert state.status(T0 + timedelta(days=400)) == "in_force"


# -- rules ---------------------------------------------------------------------------------------
def _proposed(author: str = AE, **changes: Any) -> tuple[Event, AgreementState]:
    proposal = event(author, "agreement", proposal_body(**changes))
    return proposal, fold_agreement([proposal])


def test_a_party_or_the_mediator_proposes_among_active_members() -> None:
    check_event(ABU_DHABI, event(AE, "agreement", proposal_body()), {})
    check_event(ABU_DHABI, event(RU, "agreement", proposal_body(mediator=None)), {})
    with pytest.raises(Forbidden):
        check_event(ABU_DHABI, event(AE, "agreement", proposal_body(mediator=None)), {})
    invited = Channel(CH, AE, ABU_DHABI.members, frozenset({RU}))
    with pytest.raises(Conflict, match=RU):
        check_event(invited, event(AE, "agreement", proposal_body()), {})
    with pytest.raises(Conflict, match=UA):
        check_event(ABU_DHABI, event(AE, "agreement", proposal_body(parties=[US, UA])), {})
    with pytest.raises(InvalidInput, match=r"term.end"):
        check_event(ABU_DHABI, event(AE, "agreement", proposal_body(), hours=31 * 24), {})


def test_only_a_party_or_the_mediator_signs_once_the_latest_version() -> None:
    proposal, state = _proposed()
    check_event(ABU_DHABI, sign(proposal.id, proposal.id, US), {}, agreement=state)
    outsider = Channel(CH, AE, {**ABU_DHABI.members, UA: "observer"}, frozenset())
    for received in (False, True):
        with pytest.raises(Forbidden, match=UA):
            check_event(
                outsider, sign(proposal.id, proposal.id, UA), {}, agreement=state, received=received
            )
        with pytest.raises(Conflict, match="already signed"):
            check_event(
                ABU_DHABI,
                sign(proposal.id, proposal.id, AE),
                {},
                agreement=state,
                received=received,
            )
    with pytest.raises(InvalidInput, match="version"):
        check_event(ABU_DHABI, sign(proposal.id, "c" * 64, US), {}, agreement=state)


def test_a_superseded_version_is_refused_here_and_counted_from_a_peer() -> None:
    proposal, _ = _proposed()
    amendment = amend(proposal.id, RU, 1, texts={"en": "Thirty days, no strikes."})
    state = fold_agreement([proposal, amendment])
    stale = sign(proposal.id, proposal.id, US, 2)
    with pytest.raises(Conflict, match="superseded"):
        check_event(ABU_DHABI, stale, {}, agreement=state)
    check_event(ABU_DHABI, stale, {}, agreement=state, received=True)


def test_an_expired_agreement_is_neither_amended_nor_signed() -> None:
    proposal, state = _proposed()
    late = 31 * 24
    with pytest.raises(Conflict, match="expired"):
        check_event(
            ABU_DHABI, amend(proposal.id, US, late, term=term(end_h=90 * 24)), {}, agreement=state
        )
    with pytest.raises(Conflict, match="expired"):
        check_event(ABU_DHABI, sign(proposal.id, proposal.id, US, late), {}, agreement=state)
    with pytest.raises(InvalidInput, match=r"term.end"):
        check_event(
            ABU_DHABI, amend(proposal.id, US, 10 * 24, term=term(end_h=24)), {}, agreement=state
        )


def test_an_event_naming_an_agreement_not_stored_here_is_not_found() -> None:
    proposal, state = _proposed()
    signature = sign(proposal.id, proposal.id, US)
    with pytest.raises(NotFound):
        check_event(ABU_DHABI, signature, {})
    elsewhere = Channel(OTHER, AE, ABU_DHABI.members, frozenset())
    with pytest.raises(NotFound):
        check_event(elsewhere, signature, {}, agreement=state)


def test_a_notification_names_an_agreement_by_its_id_only() -> None:
    titled = event(
        US, "notification", {"form": "protected_site/1", "data": {"agreement": "Moratorium"}}
    )
    assert agreement_named(titled) is None
    by_id = event(
        US, "notification", {"form": "violation_allegation/2", "data": {"agreement": "d" * 64}}
    )
    assert agreement_named(by_id) == "d" * 64
    assert agreement_named(sign("e" * 64, "e" * 64, US)) == "e" * 64
    assert agreement_named(event(US, "agreement", proposal_body())) is None


@st.composite
def next_events(draw: st.DrawFn, state: AgreementState) -> Event:
    """An amendment or a signature anyone might send next, of any version, at any time."""
    author = draw(st.sampled_from((US, RU, AE, UA)))
    hours = draw(st.integers(0, 40 * 24))
    if draw(st.booleans()):
        return amend(state.id, author, hours, term=term(end_h=draw(st.integers(1, 60)) * 24))
    version = draw(st.sampled_from([v.id for v in state.versions]))
    return sign(state.id, version, author, hours)


def _refusal(event: Event, state: AgreementState, *, received: bool) -> type | None:
    channel = Channel(CH, AE, {US: "party", RU: "party", AE: "mediator", UA: "party"}, frozenset())
    try:
        check_event(channel, event, {}, agreement=state, received=received)
    except ParleyError as exc:
        return type(exc)
    return None


@given(st.data())
def test_what_this_node_may_sign_about_an_agreement_its_peers_accept(data: st.DataObject) -> None:
    events, _, _ = data.draw(histories())
    state = fold_agreement(events)
    event = data.draw(next_events(state))
    own = _refusal(event, state, received=False)
    assert own is None or own in (Conflict, Forbidden, InvalidInput)
    if own is None:
        assert _refusal(event, state, received=True) is None
    if not state.may_act(event.author):
        assert _refusal(event, state, received=True) is Forbidden
