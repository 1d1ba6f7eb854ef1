"""The rule book: properties over any channel state and event, then the rules one by one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.errors import Conflict, Forbidden, InvalidInput, NotFound, NotMember, ParleyError
from parley.protocol import (
    Event,
    Referenced,
    Sender,
    check_event,
    references,
    request_addressees,
    sender_of,
)

US, RU, AE, UA = "us-eucom", "ru-genstaff", "ae-mediator", "ua-nsdc"
CH, OTHER = "ch_hotline0001", "ch_elsewhere01"
TARGET = "a" * 64
KINDS = (
    "channel",
    "accept",
    "receipt",
    "channel_status",
    "link_test",
    "message",
    "notification",
    "translation",
    "ack",
    "cancellation",
    "split_view",
    "deconfliction_alert",
    "deconfliction_withdrawn",
    "a_future_type",
)
API_ERRORS = (Conflict, Forbidden, NotFound, InvalidInput, NotMember)


@dataclass(frozen=True)
class Channel:
    id: str
    created_by: str
    members: Mapping[str, str]
    invited: frozenset[str]
    status: str = "active"
    two_person: bool = False


HOTLINE = Channel(CH, US, {US: "party", RU: "party", AE: "mediator"}, frozenset({AE}))


def event(author: str, kind: str, body: Mapping[str, Any] | None = None, seq: int = 2) -> Event:
    return Event(CH, author, seq, None, {}, "2026-02-05T14:00:00.000Z", kind, body or {}, "")


def named(
    kind: str = "message", author: str = US, channel: str = CH, **body: Any
) -> dict[str, Referenced]:
    return {TARGET: Referenced(channel, author, kind, body)}


def outcome(
    channel: Channel, e: Event, found: Mapping[str, Referenced], *, received: bool
) -> tuple[type, str] | None:
    try:
        check_event(channel, e, found, received=received)
    except ParleyError as exc:
        return type(exc), exc.detail
    return None


Scenario = tuple[Channel, Event, dict[str, Referenced]]


# -- strategies --------------------------------------------------------------------------------
parties = st.sampled_from((US, RU, AE, UA))


@st.composite
def channels(draw: st.DrawFn) -> Channel:
    members = draw(st.lists(parties, min_size=2, max_size=4, unique=True))
    roles = {p: draw(st.sampled_from(("party", "mediator", "observer"))) for p in members}
    invited = frozenset(p for p in members[1:] if draw(st.booleans()))
    status = draw(st.sampled_from(("active", "suspended")))
    return Channel(CH, members[0], roles, invited, status, draw(st.booleans()))


@st.composite
def bodies(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    """The fields of a body the rules read; ``TARGET`` is the event it names."""
    if kind in ("ack", "cancellation"):
        return {"event": TARGET, "by": "duty1"}
    if kind == "translation":
        return {"of": TARGET}
    if kind == "channel_status":
        return {"status": draw(st.sampled_from(("active", "suspended")))}
    if kind == "split_view":
        return {"party": draw(parties)}
    if kind == "deconfliction_alert":
        return {
            "a": {"key": "k1", "party": draw(parties)},
            "b": {"key": "k2", "party": draw(parties)},
        }
    if kind == "deconfliction_withdrawn":
        return {"alert": TARGET, "a": "k1", "b": draw(st.sampled_from(("k2", "k3")))}
    if kind != "notification":
        return {}
    body: dict[str, Any] = {"by": "duty1", "released_by": draw(st.sampled_from((None, "watch1")))}
    if draw(st.booleans()):
        body["supersedes"] = TARGET
    if draw(st.booleans()):
        return {**body, "form": "reply/1", "data": {"in_reply_to": TARGET}}
    return {**body, "form": "free_text/1", "data": {}}


@st.composite
def found_events(draw: st.DrawFn) -> dict[str, Referenced]:
    if draw(st.booleans()):
        return {}
    kind = draw(st.sampled_from(("message", "notification", "receipt", "deconfliction_alert")))
    body: dict[str, Any] = {
        "form": draw(st.sampled_from(("request_for_explanation/1", "free_text/1"))),
        "a": {"key": "k1"},
        "b": {"key": "k2"},
    }
    acked = frozenset(draw(st.lists(parties, max_size=2)))
    referenced = Referenced(draw(st.sampled_from((CH, OTHER))), draw(parties), kind, body, acked)
    return {TARGET: referenced}


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    channel = draw(channels())
    kind = draw(st.sampled_from(KINDS))
    e = event(draw(parties), kind, draw(bodies(kind)), seq=draw(st.integers(1, 3)))
    return channel, e, draw(found_events())


# -- properties --------------------------------------------------------------------------------
@given(scenarios(), st.booleans())
def test_every_refusal_is_an_error_the_api_knows(scenario: Scenario, received: bool) -> None:
    refusal = outcome(*scenario, received=received)
    assert refusal is None or issubclass(refusal[0], API_ERRORS)


@given(scenarios(), st.booleans())
def test_a_non_member_may_send_nothing(scenario: Scenario, received: bool) -> None:
    channel, e, found = scenario
    if e.author not in channel.members:
        assert outcome(channel, e, found, received=received) == (
            NotMember,
            f"{e.author} is not a member of {CH}",
        )


@given(scenarios())
def test_what_this_node_may_sign_its_peers_accept(scenario: Scenario) -> None:
    """Nothing a node stores of its own is refused by a member that stored the same before."""
    if outcome(*scenario, received=False) is None:
        assert outcome(*scenario, received=True) is None


@given(scenarios())
def test_a_received_event_is_judged_alike_on_an_active_and_a_suspended_channel(
    scenario: Scenario,
) -> None:
    """A suspension and a peer's event signed before it learnt of it are not ordered."""
    channel, e, found = scenario
    active = outcome(replace(channel, status="active"), e, found, received=True)
    assert outcome(replace(channel, status="suspended"), e, found, received=True) == active


@given(scenarios(), parties)
def test_another_member_accepting_never_refuses_a_received_event(
    scenario: Scenario, other: str
) -> None:
    """Members only ever go from invited to active; a peer saw at most as many active."""
    channel, e, found = scenario
    if other != e.author and outcome(channel, e, found, received=True) is None:
        accepted = replace(channel, invited=channel.invited - {other})
        assert outcome(accepted, e, found, received=True) is None


@given(scenarios())
def test_an_invited_member_sends_only_receipts_and_its_accept(scenario: Scenario) -> None:
    channel, e, found = scenario
    if e.author in channel.invited and outcome(channel, e, found, received=True) is None:
        assert e.type in ("receipt", "accept")


@given(scenarios())
def test_a_suspended_channel_carries_only_receipts_accepts_and_status_changes(
    scenario: Scenario,
) -> None:
    channel, e, found = scenario
    suspended = replace(channel, status="suspended")
    if outcome(suspended, e, found, received=False) is None:
        assert e.type in ("receipt", "accept", "channel_status", "channel")  # "channel": opening


@given(scenarios())
def test_an_event_naming_one_of_another_channel_is_refused(scenario: Scenario) -> None:
    channel, e, found = scenario
    target = found.get(TARGET)
    if e.type in ("ack", "translation", "cancellation") and (
        target is None or target.channel != CH
    ):
        refusal = outcome(channel, e, found, received=True)
        assert refusal is not None
        assert refusal[0] in (NotMember, Conflict, NotFound)


# -- who sends what ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "sender"),
    [
        ("channel", Sender.CREATOR),
        ("accept", Sender.INVITED),
        ("receipt", Sender.MEMBER),
        ("channel_status", Sender.ACTIVE),
        ("message", Sender.SPEAKER),
        ("link_test", Sender.SPEAKER),
        ("a_future_type", Sender.SPEAKER),
    ],
)
def test_senders_by_type(kind: Any, sender: Any) -> None:
    assert sender_of(kind) is sender


def test_a_channel_is_opened_once_by_the_first_event_of_its_creator() -> None:
    opening = event(US, "channel", seq=1)
    check_event(replace(HOTLINE, invited=frozenset({RU, AE})), opening, {})
    for late in (event(US, "channel", seq=2), event(RU, "channel", seq=1)):
        with pytest.raises(Conflict, match="a channel event only opens a channel"):
            check_event(HOTLINE, late, {}, received=True)


@pytest.mark.parametrize(
    ("author", "kind", "body", "error", "detail"),
    [
        (AE, "message", {}, Conflict, f"{AE} has not accepted {CH} yet; an admin accepts it"),
        (AE, "channel_status", {"status": "suspended"}, Conflict, f"{AE} must accept {CH}"),
        (RU, "accept", {}, Conflict, f"{RU} is already an active member of {CH}"),
        (US, "accept", {}, Conflict, f"{US} is already an active member of {CH}"),
        (UA, "receipt", {}, NotMember, f"{UA} is not a member of {CH}"),
    ],
)
def test_membership_state(author: Any, kind: Any, body: Any, error: Any, detail: Any) -> None:
    with pytest.raises(error, match=detail):
        check_event(HOTLINE, event(author, kind, body), {}, received=True)


def test_an_invited_member_may_confirm_and_accept() -> None:
    for kind in ("receipt", "accept"):
        check_event(HOTLINE, event(AE, kind), {}, received=True)


def test_own_events_on_a_suspended_channel() -> None:
    suspended = replace(HOTLINE, status="suspended")
    with pytest.raises(Conflict, match=f"channel {CH} is suspended; nothing can be sent on it"):
        check_event(suspended, event(US, "message"), {})
    with pytest.raises(Conflict, match=f"channel {CH} is already suspended"):
        check_event(suspended, event(US, "channel_status", {"status": "suspended"}), {})
    check_event(suspended, event(US, "channel_status", {"status": "active"}), {})
    check_event(suspended, event(US, "receipt"), {})
    check_event(suspended, event(RU, "message"), {}, received=True)
    check_event(suspended, event(RU, "channel_status", {"status": "suspended"}), {}, received=True)


# -- what an event refers to -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("found", "error", "detail"),
    [
        ({}, NotFound, f"no event {TARGET} in channel {CH}"),
        (named(channel=OTHER), NotFound, f"no event {TARGET} in channel {CH}"),
        (named("receipt"), InvalidInput, "event: a receipt event is not acknowledged"),
        (named(author=RU), Conflict, f"{RU} cannot acknowledge its own event; the other side"),
    ],
)
def test_an_ack_names_an_ackable_event_of_another_author_in_its_channel(
    found: Any, error: Any, detail: Any
) -> None:
    with pytest.raises(error, match=detail):
        check_event(HOTLINE, event(RU, "ack", {"event": TARGET}), found, received=True)


def test_an_author_acknowledges_an_event_once() -> None:
    acked = {TARGET: Referenced(CH, US, "message", {}, frozenset({RU}))}
    ack = event(RU, "ack", {"event": TARGET})
    with pytest.raises(Conflict, match=f"{RU} has already acknowledged {TARGET}"):
        check_event(HOTLINE, ack, acked, received=True)
    check_event(HOTLINE, ack, named())


def test_a_translation_translates_a_text_of_its_channel() -> None:
    translation = event(RU, "translation", {"of": TARGET})
    check_event(HOTLINE, translation, named("notification", author=RU))
    with pytest.raises(InvalidInput, match="event: a link_test has no text"):
        check_event(HOTLINE, translation, named("link_test"))


@pytest.mark.parametrize("where", ["event", "supersedes"])
def test_only_the_author_cancels_or_amends_a_notification(where: Any) -> None:
    if where == "event":
        e = event(RU, "cancellation", {"event": TARGET})
    else:
        body = {"by": "d", "released_by": None, "form": "free_text/1", "supersedes": TARGET}
        e = event(RU, "notification", body)
    check_event(HOTLINE, e, named("notification", author=RU))
    with pytest.raises(Forbidden, match=f"only {US}, its author, may cancel or amend it"):
        check_event(HOTLINE, e, named("notification"))
    with pytest.raises(InvalidInput, match=f"{where}: a message is not a notification"):
        check_event(HOTLINE, e, named(author=RU))


def test_a_reply_answers_a_request_of_the_other_side_in_its_channel() -> None:
    body = {"by": "d", "released_by": None, "form": "reply/1", "data": {"in_reply_to": TARGET}}
    reply = event(RU, "notification", body)
    assert references(reply) == (TARGET,)
    request = {"form": "request_for_explanation/1"}
    check_event(HOTLINE, reply, named("notification", **request))
    with pytest.raises(NotFound):
        check_event(HOTLINE, reply, named("notification", channel=OTHER, **request))
    with pytest.raises(InvalidInput, match=r"data\.in_reply_to: \w+ is not a request"):
        check_event(HOTLINE, reply, named("notification", form="free_text/1"))
    with pytest.raises(Conflict, match="cannot reply to its own request"):
        check_event(HOTLINE, reply, named("notification", author=RU, **request))
    with pytest.raises(NotFound, match=f"no event {TARGET} in channel {CH}"):
        check_event(HOTLINE, reply, {})


@pytest.mark.parametrize("role", ["mediator", "observer"])
def test_a_reply_comes_from_a_party_the_request_asks(role: str) -> None:
    talks = Channel(CH, US, {US: "party", RU: "party", UA: "party", AE: role}, frozenset())
    body = {"by": "d", "released_by": None, "form": "reply/1", "data": {"in_reply_to": TARGET}}
    by_us = named("notification", form="request_for_explanation/1")
    by_ae = named("notification", author=AE, form="request_for_explanation/1")

    assert request_addressees(talks, US) == [RU, UA]
    assert request_addressees(talks, AE) == [RU, UA, US]
    for received in (False, True):
        with pytest.raises(Forbidden, match=f"asks {RU}, {UA}, not {AE}"):
            check_event(talks, event(AE, "notification", body), by_us, received=received)
        check_event(talks, event(UA, "notification", body), by_us, received=received)
        check_event(talks, event(US, "notification", body), by_ae, received=received)


def test_a_two_person_channel_needs_a_second_operator_to_release_a_notification() -> None:
    two_person = replace(HOTLINE, two_person=True)
    for released_by in (None, "duty1"):
        body = {"by": "duty1", "released_by": released_by, "form": "free_text/1"}
        with pytest.raises(Forbidden, match="a second operator releases every notification"):
            check_event(two_person, event(RU, "notification", body), {}, received=True)
    body = {"by": "duty1", "released_by": "watch1", "form": "free_text/1"}
    check_event(two_person, event(RU, "notification", body), {}, received=True)


def test_a_split_view_accuses_another_member() -> None:
    check_event(HOTLINE, event(US, "split_view", {"party": RU}), {})
    for accused in (US, UA):
        with pytest.raises(Conflict, match=f"split view of {accused}, not another member"):
            check_event(HOTLINE, event(US, "split_view", {"party": accused}), {})


def test_a_deconfliction_alert_is_raised_by_a_party_it_names_on_a_channel_of_both() -> None:
    def alert(author: str, a: str, b: str, channel: Channel = HOTLINE) -> None:
        body = {"a": {"key": "k1", "party": a}, "b": {"key": "k2", "party": b}}
        check_event(channel, event(author, "deconfliction_alert", body), {}, received=True)

    alert(RU, US, RU)
    with pytest.raises(Forbidden, match="whose items meet, raise the alert"):
        alert(US, RU, AE)
    with pytest.raises(Conflict, match=f"{AE} is not an active member of {CH}"):
        alert(US, US, AE)
    with pytest.raises(InvalidInput, match=r"b\.party: an alert names items of two parties"):
        alert(US, US, US)


def test_an_alert_is_withdrawn_by_the_node_that_raised_it() -> None:
    withdrawn = event(RU, "deconfliction_withdrawn", {"alert": TARGET, "a": "k1", "b": "k2"})
    raised: dict[str, Any] = {"a": {"key": "k1"}, "b": {"key": "k2"}}
    check_event(HOTLINE, withdrawn, named("deconfliction_alert", author=RU, **raised))
    check_event(HOTLINE, withdrawn, {})  # raised on a channel this node does not share
    with pytest.raises(Forbidden, match=f"only {US}, who raised alert {TARGET}, may withdraw it"):
        check_event(HOTLINE, withdrawn, named("deconfliction_alert", **raised))
    with pytest.raises(InvalidInput, match=f"alert: {TARGET} is not the alert of k1"):
        check_event(
            HOTLINE,
            withdrawn,
            named("deconfliction_alert", author=RU, a={"key": "x"}, b={"key": "k2"}),
        )


def test_references_are_the_ids_an_event_names() -> None:
    assert references(event(RU, "ack", {"event": TARGET})) == (TARGET,)
    assert references(event(RU, "message", {"text": TARGET})) == ()
    body = {"form": "free_text/1", "data": {}}
    assert references(event(RU, "notification", body)) == ()
