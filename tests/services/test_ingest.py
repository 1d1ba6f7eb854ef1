"""Other parties' events: chain checks, equivocation evidence, and the rule book for peers.

A peer's node may skip its own checks; each test signs with the peer's key what its API
would have refused, and shows that this node refuses it too and stores nothing.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from parley.errors import (
    BadSignature,
    BrokenChain,
    EquivocationDetected,
    EventRejected,
    MissingDependency,
)
from parley.protocol import Ed25519Signer, Event, sign_event
from parley.services import Node, Role
from parley.store import _schema as t
from tests.conftest import as_role, pin_all
from tests.services.test_channels import hotline

pytestmark = pytest.mark.anyio

MESSAGE = {
    "precedence": "routine",
    "text": "x",
    "lang": "ru",
    "by": "duty1",
    "deadline": "2026-02-06T14:00:01.000Z",
}


def peer_event(
    node: Node, channel: str, kind: str = "message", body: dict | None = None, **overrides
) -> Event:
    """The next event of ``node``'s chain in ``channel``, signed with its key but not stored
    there: what a node that skipped its own checks would push."""
    chain = node.store.chain(channel, node.party)
    heads = node.store.channel_heads(channel)
    fields = {
        "channel": channel,
        "author": node.party,
        "seq": len(chain) + 1,
        "prev": chain[-1].id if chain else None,
        "seen": {p: s for p, s in heads.items() if p != node.party},
        "ts": "2026-02-05T14:00:01.000Z",
        "type": kind,
        "body": MESSAGE if body is None else body,
    }
    fields.update(overrides)
    signer = fields.pop("signer", node.signer)
    return sign_event(signer, **fields)


async def refused(node: Node, event: Event, match: str) -> EventRejected:
    """``node`` rejects ``event`` saying why, and stores nothing."""
    before = node.store.count_events()
    with pytest.raises(EventRejected, match=match) as caught:
        await node.ingest.receive([event])
    assert node.store.count_events() == before
    return caught.value


def notification(form: str, data: dict) -> dict:
    return {
        "form": form,
        "data": data,
        "precedence": "routine",
        "by": "duty1",
        "released_by": None,
        "deadline": None,
        "late": False,
    }


def reply_body(request: str) -> dict:
    return notification("reply/1", {"in_reply_to": request, "answer": "A training flight."})


async def three_party_channel(us: Node, ru: Node, ae: Node, ae_role: str) -> str:
    """us-eucom opens a channel with ru-genstaff (accepted) and ae-mediator (invited only)."""
    await pin_all(us, ru, ae)
    opened = await us.channels.create(
        as_role(us, Role.ADMIN), "talks", {ru.party: "party", ae.party: ae_role}
    )
    for peer in (ru, ae):
        await peer.ingest.receive([opened.event])
    accepted = await ru.channels.accept(as_role(ru, Role.ADMIN), opened.event.channel)
    await us.ingest.receive([accepted.event])
    return opened.event.channel


# -- chains ------------------------------------------------------------------------------------
async def test_tampered_events_are_rejected_and_not_stored(make_node):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    channel = await hotline(us, ru)
    before = us.store.count_events()
    with pytest.raises(BadSignature):
        await us.ingest.receive([peer_event(ru, channel, signer=Ed25519Signer.generate())])
    valid = peer_event(ru, channel)
    await us.ingest.receive([valid])
    with pytest.raises(BrokenChain):
        await us.ingest.receive([peer_event(ru, channel, seq=valid.seq + 1, prev="0" * 64)])
    with pytest.raises(MissingDependency):
        await us.ingest.receive([peer_event(ru, channel, seq=5, prev="0" * 64)])
    assert us.store.count_events() == before + 1


async def test_equivocation_keeps_both_events_as_proof_and_raises_a_critical_alert(make_node):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    channel = await hotline(us, ru)
    honest = peer_event(ru, channel)
    twin = peer_event(ru, channel, body={**honest.body, "text": "another story"})
    await us.ingest.receive([honest])
    with pytest.raises(EquivocationDetected):
        await us.ingest.receive([twin])
    alerts = us.alerts.list_alerts(as_role(us, Role.SUPERVISOR))
    assert [(a.kind, a.severity) for a in alerts] == [("equivocation", "critical")]
    assert us.store.chain(channel, ru.party)[-1] == honest


async def test_repeated_forks_keep_one_proof_per_seq_and_one_open_alert_per_author(make_node):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    channel = await hotline(us, ru)
    honest = peer_event(ru, channel)
    await us.ingest.receive([honest])
    for n in range(30):
        twin = peer_event(ru, channel, body={**honest.body, "text": f"story {n}"})
        with pytest.raises(EquivocationDetected):
            await us.ingest.receive([twin])
    earlier = peer_event(ru, channel, seq=1, prev=None, body={**honest.body, "text": "first"})
    with pytest.raises(EquivocationDetected):
        await us.ingest.receive([earlier])

    alerts = us.alerts.list_alerts(as_role(us, Role.SUPERVISOR))
    assert [(a.kind, json.loads(a.detail)["forks"]) for a in alerts] == [("equivocation", 2)]
    with us.store.engine.connect() as conn:
        proofs = conn.execute(select(t.equivocations.c.seq)).scalars().all()
    assert sorted(proofs) == [1, 2]


async def test_a_peer_opens_at_most_max_channels_opened_by_peer_channels(make_node):
    us, ru = make_node("us-eucom", max_channels_opened_by_peer=2), make_node("ru-genstaff")
    await pin_all(us, ru)
    for n in range(3):
        opened = await ru.channels.create(as_role(ru, Role.ADMIN), f"c{n}", {us.party: "party"})
        if n < 2:
            await us.ingest.receive([opened.event])
    await refused(us, opened.event, "already opened 2 channels .* max_channels_opened_by_peer")
    assert us.store.get_channel(opened.event.channel) is None
    assert len(us.store.list_channels(us.party)) == 2


async def test_same_event_twice_is_stored_once(make_node):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    channel = await hotline(us, ru)
    event = peer_event(ru, channel)
    first = await us.ingest.receive([event])
    again = await us.ingest.receive([event])
    assert (first.stored, again.stored, again.duplicates) == (1, 0, 1)


async def test_a_forged_channel_opening_leaves_no_channel_behind(make_node):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    await pin_all(us, ru)
    members = {"ru-genstaff": "party", "us-eucom": "party"}
    body = {"name": "fake", "members": members, "by": "admin"}
    forged = peer_event(ru, "ch_forgedopening1", "channel", body, signer=Ed25519Signer.generate())
    with pytest.raises(BadSignature):
        await us.ingest.receive([forged])
    assert us.store.get_channel("ch_forgedopening1") is None


async def test_a_batch_stops_at_the_first_bad_event_and_keeps_the_ones_before(make_node):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    channel = await hotline(us, ru)
    good = []
    for n in range(3):
        view, _ = await ru.channels.post_message(
            as_role(ru, Role.OPERATOR), channel, precedence="routine", text=f"m{n}", lang="ru"
        )
        good.append(view.event)
    bad = peer_event(ru, channel, seq=good[-1].seq + 2, prev="0" * 64)
    with pytest.raises(MissingDependency):
        await us.ingest.receive([*good, bad])
    assert [e.id for e in us.store.chain(channel, ru.party)][-3:] == [e.id for e in good]


# -- membership --------------------------------------------------------------------------------
async def test_an_observer_that_never_accepted_cannot_suspend_the_channel(make_node):
    us, ru, ae = make_node("us-eucom"), make_node("ru-genstaff"), make_node("ae-mediator")
    channel = await three_party_channel(us, ru, ae, "observer")
    body = {"status": "suspended", "reason": "observer says so", "by": "admin"}

    await refused(us, peer_event(ae, channel, "channel_status", body), "must accept")

    assert us.store.get_channel(channel).status == "active"


async def test_an_invited_member_speaks_only_after_its_accept_even_in_one_batch(make_node):
    us, ru, ae = make_node("us-eucom"), make_node("ru-genstaff"), make_node("ae-mediator")
    channel = await three_party_channel(us, ru, ae, "mediator")
    await refused(us, peer_event(ae, channel), "has not accepted")

    accepted = await ae.channels.accept(as_role(ae, Role.ADMIN), channel)
    outcome = await us.ingest.receive([accepted.event, peer_event(ae, channel)])

    assert outcome.stored == 2
    assert us.store.get_channel(channel).invited == frozenset()


async def test_a_second_accept_is_refused(make_node):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    channel = await hotline(us, ru)
    await refused(us, peer_event(ru, channel, "accept", {"by": "admin"}), "already an active")


async def test_a_second_channel_event_is_refused(make_node):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    channel = await hotline(us, ru)
    body = {"name": "renamed", "members": {us.party: "party", ru.party: "party"}, "by": "admin"}
    await refused(us, peer_event(ru, channel, "channel", body), "only opens a channel")


# -- channel status: judged by the author's node only --------------------------------------------
async def test_a_message_signed_before_its_author_learnt_of_a_suspension_is_stored(make_node):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    channel = await hotline(us, ru)
    await us.channels.set_status(as_role(us, Role.ADMIN), channel, "suspended", "talks over")
    sent, _ = await ru.channels.post_message(  # ru-genstaff has not received the suspension
        as_role(ru, Role.OPERATOR), channel, precedence="routine", text="x", lang="ru"
    )

    assert (await us.ingest.receive([sent.event])).stored == 1
    assert us.store.get_channel(channel).status == "suspended"


async def test_two_members_suspending_at_once_are_both_stored(make_node):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    channel = await hotline(us, ru)
    ours = await us.channels.set_status(as_role(us, Role.ADMIN), channel, "suspended", "a")
    theirs = await ru.channels.set_status(as_role(ru, Role.ADMIN), channel, "suspended", "b")

    assert (await us.ingest.receive([theirs.event])).stored == 1
    assert (await ru.ingest.receive([ours.event])).stored == 1


# -- what an event refers to -------------------------------------------------------------------
async def _flash(us: Node, ru: Node, channel: str) -> Event:
    sent, _ = await us.channels.post_message(
        as_role(us, Role.OPERATOR), channel, precedence="flash", text="Line check", lang="en"
    )
    await ru.ingest.receive([sent.event])
    return sent.event


async def test_an_ack_on_another_channel_does_not_stop_the_clock_of_a_message(make_node, clock):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    hotline_id = await hotline(us, ru)
    message = await _flash(us, ru, hotline_id)
    throwaway = await ru.channels.create(as_role(ru, Role.ADMIN), "throwaway", {us.party: "party"})
    await us.ingest.receive([throwaway.event])
    ack = peer_event(ru, throwaway.event.channel, "ack", {"event": message.id, "by": "duty1"})

    await refused(us, ack, f"no event {message.id} in channel {throwaway.event.channel}")

    assert us.store.acks_for([message.id]) == {}
    clock.advance(timedelta(minutes=10))
    (alert,) = await us.alerts.escalate_overdue()
    assert alert.event_id == message.id


@pytest.mark.parametrize(
    ("target", "why"),
    [
        ("own", "cannot acknowledge its own event"),
        ("receipt", "a receipt event is not acknowledged"),
        ("twice", "has already acknowledged"),
    ],
)
async def test_an_ack_names_an_ackable_event_of_another_author_once(make_node, target, why):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    channel = await hotline(us, ru)
    message = await _flash(us, ru, channel)
    if target == "own":
        own, _ = await ru.channels.post_message(
            as_role(ru, Role.OPERATOR), channel, precedence="routine", text="x", lang="ru"
        )
        await us.ingest.receive([own.event])
        named = own.event.id
    elif target == "receipt":
        named = (await us.channels.append_system(channel, "receipt")).event.id
        await ru.ingest.receive(us.store.chain(channel, us.party))
    else:
        first, _ = await ru.channels.acknowledge(as_role(ru, Role.OPERATOR), channel, message.id)
        await us.ingest.receive([first.event])
        named = message.id
    await refused(us, peer_event(ru, channel, "ack", {"event": named, "by": "duty2"}), why)


async def test_only_the_author_of_a_notification_cancels_it(make_node):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    channel = await hotline(us, ru)
    notice = await us.notifications.send(
        as_role(us, Role.OPERATOR), channel, "free_text/1", {"text": "Notice", "lang": "en"}
    )
    await ru.ingest.receive([notice.event])
    body = {"event": notice.event.id, "reason": "not yours", "by": "duty1"}

    await refused(us, peer_event(ru, channel, "cancellation", body), "its author")


async def test_a_reply_answers_a_request_of_the_same_channel(make_node, clock):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    hotline_id = await hotline(us, ru)
    request = await us.notifications.send(
        as_role(us, Role.OPERATOR),
        hotline_id,
        "request_for_explanation/1",
        {"subject": "Unannounced activity", "questions": ["What was its purpose?"]},
    )
    await ru.ingest.receive([request.event])
    other = await ru.channels.create(as_role(ru, Role.ADMIN), "other", {us.party: "party"})
    await us.ingest.receive([other.event])
    body = reply_body(request.event.id)

    await refused(us, peer_event(ru, other.event.channel, "notification", body), "no event")

    clock.advance(timedelta(hours=48))
    assert [a.kind for a in await us.alerts.escalate_overdue()] == ["reply_overdue"]


@pytest.mark.parametrize(
    ("replier", "names", "why"),
    [
        ("requester", "own request", "cannot reply to its own request"),
        ("party", "no event", "no event 0{64} in channel"),
        ("mediator", "request", "asks ru-genstaff, not ae-mediator"),
        ("observer", "request", "asks ru-genstaff, not ae-mediator"),
    ],
)
async def test_a_peer_replies_only_to_a_request_of_its_channel_that_asks_it(
    make_node, clock, replier, names, why
):
    us, ru, ae = make_node("us-eucom"), make_node("ru-genstaff"), make_node("ae-mediator")
    role = replier if replier in ("mediator", "observer") else "mediator"
    channel = await three_party_channel(us, ru, ae, role)
    await us.ingest.receive([(await ae.channels.accept(as_role(ae, Role.ADMIN), channel)).event])
    form = "request_for_explanation/1"
    data = {"subject": "Unannounced activity", "questions": ["What was its purpose?"]}
    request = await us.notifications.send(as_role(us, Role.OPERATOR), channel, form, data)
    own = (await ru.notifications.send(as_role(ru, Role.OPERATOR), channel, form, data)).event
    await us.ingest.receive([own])
    named = {"own request": own.id, "no event": "0" * 64, "request": request.event.id}[names]
    author = ae if replier in ("mediator", "observer") else ru

    await refused(us, peer_event(author, channel, "notification", reply_body(named)), why)

    clock.advance(timedelta(hours=48))
    overdue = {a.event_id for a in await us.alerts.escalate_overdue() if a.kind == "reply_overdue"}
    assert request.event.id in overdue


BIDI = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: shows "exercise cancelled" as it does not read


@pytest.mark.parametrize(
    ("kind", "body", "field"),
    [
        ("message", {**MESSAGE, "text": f"Line {BIDI}check"}, "body.text"),
        ("message", {**MESSAGE, "text": "Line \u2066check\u2069"}, "body.text"),
        ("message", {**MESSAGE, "text": "Line \x1bcheck"}, "body.text"),
        (
            "translation",
            {"of": "a" * 64, "lang": "en", "text": f"{BIDI}x", "by": "duty1"},
            "body.text",
        ),
        ("channel_status", {"status": "suspended", "reason": BIDI, "by": "admin"}, "body.reason"),
        ("cancellation", {"event": "a" * 64, "reason": f"x{BIDI}", "by": "duty1"}, "body.reason"),
        (
            "notification",
            notification("free_text/1", {"text": f"x{BIDI}", "lang": "ru"}),
            "data.text",
        ),
    ],
)
async def test_a_peer_text_with_control_or_bidi_characters_is_rejected(
    make_node, kind, body, field
):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    channel = await hotline(us, ru)

    rejected = await refused(us, peer_event(ru, channel, kind, body), "plain text")

    assert [e.field for e in rejected.errors] == [field]


@pytest.mark.parametrize("key", ["incident_reprot", "request_for_explanation/1"])
async def test_a_peer_channel_agreeing_deadlines_of_no_form_is_rejected(make_node, key):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    await pin_all(us, ru)
    members = {ru.party: "party", us.party: "party"}
    body = {"name": "fast", "members": members, "by": "admin", "deadlines": {key: 60}}

    rejected = await refused(us, peer_event(ru, "ch_agreeddeadlines", "channel", body), key)

    assert [e.field for e in rejected.errors] == [f"body.deadlines.{key}"]
    assert us.store.get_channel("ch_agreeddeadlines") is None


async def test_a_two_person_channel_refuses_a_notification_nobody_released(make_node):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    await pin_all(us, ru)
    opened = await us.channels.create(
        as_role(us, Role.ADMIN), "released", {ru.party: "party"}, two_person=True
    )
    await ru.ingest.receive([opened.event])
    accepted = await ru.channels.accept(as_role(ru, Role.ADMIN), opened.event.channel)
    await us.ingest.receive([accepted.event])
    body = {
        "form": "free_text/1",
        "data": {"text": "Unreleased", "lang": "ru"},
        "precedence": "routine",
        "by": "duty1",
        "released_by": None,
        "deadline": None,
        "late": False,
    }
    notice = peer_event(ru, opened.event.channel, "notification", body)
    await refused(us, notice, "second operator")


async def test_a_mediator_does_not_raise_a_deconfliction_alert_between_two_parties(make_node):
    us, ru, ae = make_node("us-eucom"), make_node("ru-genstaff"), make_node("ae-mediator")
    channel = await three_party_channel(us, ru, ae, "mediator")
    accepted = await ae.channels.accept(as_role(ae, Role.ADMIN), channel)
    await us.ingest.receive([accepted.event])
    body = {
        "a": {"key": "a" * 64, "party": us.party, "kind": "activity"},
        "b": {"key": "b" * 64, "party": ru.party, "kind": "presence"},
        "area_km2": 10.0,
        "distance_km": 0.0,
        "window": {"start": None, "end": None},
        "severity": "high",
    }

    await refused(us, peer_event(ae, channel, "deconfliction_alert", body), "whose items meet")

    assert us.store.list_alerts() == []
