"""Talks in the rule book: bodies, who may record, sign or decline, and the minutes' fold."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.errors import Conflict, Forbidden, InvalidInput, NotFound
from parley.protocol import (
    Ed25519Signer,
    Event,
    Referenced,
    check_event,
    fold_minutes,
    references,
    sign_event,
    validate_body,
)

US, RU, AE, UA = "us-eucom", "ru-genstaff", "ae-mediator", "ua-nsdc"
CH = "ch_0123456789abcdef0123"
ROUND_ID, MINUTES_ID = "a" * 64, "b" * 64
SIGNER = Ed25519Signer.generate()


@dataclass(frozen=True)
class Channel:
    id: str = CH
    created_by: str = AE
    members: Mapping[str, str] = field(
        default_factory=lambda: {US: "party", RU: "party", AE: "mediator"}
    )
    invited: frozenset[str] = frozenset()
    status: str = "active"
    two_person: bool = False


def round_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Trilateral talks, round 1",
        "start": "2026-02-04T08:00:00Z",
        "end": "2026-02-05T18:00:00Z",
        "venue": "Abu Dhabi",
        "host": AE,
        "delegations": {US: ["Steve Witkoff"], RU: ["Igor Kostyukov"]},
        "agenda": ["Mechanisms to implement a ceasefire"],
        "by": "duty1",
    }
    body.update(changes)
    return body


def event(author: str, kind: str, body: Mapping[str, Any]) -> Event:
    return sign_event(
        SIGNER,
        channel=CH,
        author=author,
        seq=3,
        prev="c" * 64,
        seen={},
        ts="2026-02-05T12:00:00Z",
        type=kind,
        body=dict(body),
    )


def stored(author: str, kind: str, body: Mapping[str, Any], channel: str = CH) -> Referenced:
    return Referenced(channel, author, kind, body)


ROUND = stored(AE, "talks_round", round_body())
MINUTES = stored(AE, "minutes", {"round": ROUND_ID, "texts": {"en": "Agreed"}, "by": "duty1"})


def answer(author: str, kind: str = "minutes_signature") -> Event:
    body: dict[str, Any] = {"minutes": MINUTES_ID, "by": "chief"}
    if kind == "minutes_decline":
        body["reason"] = "The text omits the agreed exchange"
    return event(author, kind, body)


def test_a_round_body_is_checked_field_by_field() -> None:
    validate_body("talks_round", round_body())
    cases = {
        "body.delegations": round_body(delegations={US: ["A"]}),
        "body.end": round_body(end="2026-02-03T00:00:00Z"),
        "body.agenda": round_body(agenda=[]),
        "body.host": round_body(host="Abu Dhabi"),
        "body.note": round_body(note="x"),
    }
    for where, body in cases.items():
        with pytest.raises(InvalidInput) as raised:
            validate_body("talks_round", body)
        assert raised.value.errors[0].field == where


def test_minutes_excerpt_and_answers_bodies() -> None:
    validate_body("minutes", {"round": ROUND_ID, "texts": {"en": "a", "ru": "б"}, "by": "x1"})
    validate_body("minutes_decline", {"minutes": MINUTES_ID, "reason": "no", "by": "x1"})
    release = {"events": [ROUND_ID], "to": "nato", "marking": "REL NATO", "digest": "d" * 64}
    validate_body("excerpt_release", {**release, "by": "x1"})
    with pytest.raises(InvalidInput, match="twice"):
        validate_body("excerpt_release", {**release, "events": [ROUND_ID] * 2, "by": "x1"})
    with pytest.raises(InvalidInput, match=r"body\.texts\.xx"):
        validate_body("minutes", {"round": ROUND_ID, "texts": {"xx": "a"}, "by": "x1"})


def test_answers_name_their_minutes_and_releases_their_events() -> None:
    assert references(answer(US)) == (MINUTES_ID,)
    minutes = event(AE, "minutes", {"round": ROUND_ID, "texts": {"en": "a"}, "by": "x1"})
    assert references(minutes) == (ROUND_ID,)


def test_a_round_is_recorded_by_its_host_or_a_delegation_whose_parties_are_members() -> None:
    check_event(Channel(), event(AE, "talks_round", round_body()), {})
    check_event(Channel(), event(US, "talks_round", round_body()), {})
    outsider = Channel(members={US: "party", RU: "party", AE: "mediator", UA: "observer"})
    with pytest.raises(Forbidden, match="neither the host"):
        check_event(outsider, event(UA, "talks_round", round_body()), {})
    with pytest.raises(InvalidInput, match="not a member"):
        check_event(
            Channel(), event(AE, "talks_round", round_body(delegations={US: ["a"], UA: ["b"]})), {}
        )


def test_minutes_of_an_unknown_round_are_refused() -> None:
    minutes = event(AE, "minutes", {"round": ROUND_ID, "texts": {"en": "a"}, "by": "x1"})
    with pytest.raises(NotFound, match="no round"):
        check_event(Channel(), minutes, {})
    elsewhere = stored(AE, "talks_round", round_body(), channel="ch_ffffffffffffffffffff")
    with pytest.raises(NotFound):
        check_event(Channel(), minutes, {ROUND_ID: elsewhere})
    check_event(Channel(), minutes, {ROUND_ID: ROUND})


def test_only_a_delegation_signs_or_declines_and_only_once() -> None:
    found = {MINUTES_ID: MINUTES, ROUND_ID: ROUND}
    check_event(Channel(), answer(US), found)
    check_event(Channel(), answer(RU, "minutes_decline"), found)
    with pytest.raises(Forbidden, match="no delegation"):
        check_event(Channel(), answer(AE), found)
    signed = {**found, "e" * 64: stored(US, "minutes_signature", {"minutes": MINUTES_ID})}
    with pytest.raises(Conflict, match="already signed"):
        check_event(Channel(), answer(US), signed)
    with pytest.raises(Conflict, match="already signed"):
        check_event(Channel(), answer(US, "minutes_decline"), signed)
    with pytest.raises(NotFound, match="no minutes"):
        check_event(Channel(), answer(US), {ROUND_ID: ROUND}, received=True)


def test_a_release_names_events_of_its_channel() -> None:
    body = {"events": [ROUND_ID], "to": "nato", "marking": "REL NATO", "digest": "d" * 64}
    release = event(US, "excerpt_release", {**body, "by": "x1"})
    check_event(Channel(), release, {ROUND_ID: ROUND})
    with pytest.raises(NotFound):
        check_event(Channel(), release, {})


# -- the fold ----------------------------------------------------------------------------------

PARTIES = (RU, US)  # sorted, as the fold lists them
_answers = st.lists(
    st.tuples(st.sampled_from((US, RU, AE)), st.sampled_from(("sign", "decline", "other"))),
    max_size=8,
)


def _answer_json(number: int, party: str, what: str) -> dict[str, Any]:
    kind = {"sign": "minutes_signature", "decline": "minutes_decline"}.get(what, "message")
    body: dict[str, Any] = {"minutes": MINUTES_ID, "by": f"officer{number}"}
    if what == "decline":
        body["reason"] = "no"
    return {"author": party, "type": kind, "ts": f"2026-02-05T12:00:{number:02d}Z", "body": body}


def _fold(answers: list[tuple[str, str]]) -> Any:
    minutes = {
        "channel": CH,
        "author": AE,
        "ts": "2026-02-05T11:00:00Z",
        "body": dict(MINUTES.body),
    }
    round_event = {"body": round_body()}
    events = [_answer_json(n, party, what) for n, (party, what) in enumerate(answers)]
    return fold_minutes(MINUTES_ID, minutes, round_event, events)


@given(_answers)
def test_minutes_are_signed_when_every_delegation_first_signs(
    answers: list[tuple[str, str]],
) -> None:
    state = _fold(answers)
    first: dict[str, str] = {}
    for party, what in answers:
        if party in PARTIES and what != "other":
            first.setdefault(party, what)
    assert set(state.signatures) == {p for p, w in first.items() if w == "sign"}
    assert set(state.declines) == {p for p, w in first.items() if w == "decline"}
    assert state.waiting == tuple(p for p in PARTIES if p not in first)
    if any(w == "decline" for w in first.values()):
        assert state.status == "declined"
    elif set(first) == set(PARTIES):
        assert state.status == "signed"
        assert state.signed_at == max(ts for _, ts in state.signatures.values())
    else:
        assert state.status == "open"
        assert state.signed_at is None


def test_a_decline_keeps_its_reason_and_officer() -> None:
    state = _fold([(US, "sign"), (RU, "decline")])
    assert state.signatures[US][0] == "officer0"
    assert state.declines[RU] == ("officer1", "2026-02-05T12:00:01Z", "no")
