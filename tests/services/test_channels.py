from __future__ import annotations

from datetime import timedelta

import pytest

from parley.errors import (
    BadSignature,
    BrokenChain,
    Conflict,
    EquivocationDetected,
    Forbidden,
    InvalidInput,
    MissingDependency,
    NotFound,
    PayloadTooLarge,
    UnknownParty,
)
from parley.protocol import Ed25519Signer, sign_event
from parley.services import Node, Role
from tests.conftest import as_role, pin_all

pytestmark = pytest.mark.anyio


async def hotline(us: Node, ru: Node) -> str:
    """Open a us-eucom <-> ru-genstaff channel on both nodes; returns its id."""
    await pin_all(us, ru)
    opened = await us.channels.create(as_role(us, Role.ADMIN), "hotline", {ru.party: "party"})
    await ru.channels.ingest([opened.event])
    accepted = await ru.channels.accept(as_role(ru, Role.ADMIN), opened.event.channel)
    await us.channels.ingest([accepted.event])
    return opened.event.channel


async def test_message_is_signed_chained_and_carries_its_deadline(make_node, clock):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    channel = await hotline(us, ru)
    duty = as_role(us, Role.OPERATOR, "duty1")

    first, created = await us.channels.post_message(
        duty, channel, precedence="flash", text="Line check", lang="en"
    )
    second, _ = await us.channels.post_message(
        duty, channel, precedence="routine", text="Second", lang="en"
    )

    assert created
    assert (first.event.seq, second.event.seq) == (2, 3)  # seq 1 opened the channel
    assert first.event.seen == {"ru-genstaff": 1}  # ru-genstaff's acceptance
    assert second.event.prev == first.event.id
    assert first.event.body["deadline"] == "2026-02-05T14:10:00.000Z"
    assert first.event.body["by"] == "duty1"
    first.event.verify(us.signer.public_key)


async def test_acknowledgement_flows_back_to_the_sender(make_node, clock):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    channel = await hotline(us, ru)
    sent, _ = await us.channels.post_message(
        as_role(us, Role.OPERATOR, "duty1"),
        channel,
        precedence="immediate",
        text="Notice",
        lang="en",
    )
    assert sent.status == "sent"

    await ru.channels.ingest([sent.event])
    clock.advance(timedelta(minutes=3))
    ack, created = await ru.channels.acknowledge(
        as_role(ru, Role.OPERATOR, "officer2"), channel, sent.event.id
    )
    await us.channels.ingest([ack.event])

    view = us.channels.event(as_role(us, Role.AUDITOR), channel, sent.event.id)
    assert created
    assert view.status == "acknowledged"
    (member,) = view.members
    assert member.party == "ru-genstaff"
    assert member.delivered_at == "2026-02-05T14:03:00.000Z"
    assert member.acknowledged_by == "officer2"


async def test_acknowledging_twice_returns_the_first_ack(make_node):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    channel = await hotline(us, ru)
    sent, _ = await us.channels.post_message(
        as_role(us, Role.OPERATOR), channel, precedence="priority", text="x", lang="en"
    )
    await ru.channels.ingest([sent.event])
    first, _ = await ru.channels.acknowledge(as_role(ru, Role.OPERATOR), channel, sent.event.id)
    again, created = await ru.channels.acknowledge(
        as_role(ru, Role.SUPERVISOR), channel, sent.event.id
    )
    assert not created
    assert again.event.id == first.event.id


async def test_own_party_cannot_acknowledge_its_own_message(make_node):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    channel = await hotline(us, ru)
    sent, _ = await us.channels.post_message(
        as_role(us, Role.OPERATOR), channel, precedence="priority", text="x", lang="en"
    )
    with pytest.raises(Conflict, match="own event"):
        await us.channels.acknowledge(as_role(us, Role.SUPERVISOR), channel, sent.event.id)


@pytest.mark.parametrize(
    ("fields", "error", "field"),
    [
        ({"precedence": "urgent"}, InvalidInput, "precedence"),
        ({"lang": "english"}, InvalidInput, "lang"),
        ({"lang": "xx"}, InvalidInput, "lang"),
        ({"text": "   "}, InvalidInput, "text"),
        ({"text": "я" * 9000}, PayloadTooLarge, "text"),
    ],
)
async def test_bad_message_names_the_field_and_stores_nothing(make_node, fields, error, field):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    channel = await hotline(us, ru)
    before = us.store.count_events()
    message = {"precedence": "routine", "text": "ok", "lang": "en", **fields}
    with pytest.raises(error) as caught:
        await us.channels.post_message(as_role(us, Role.OPERATOR), channel, **message)
    assert caught.value.errors[0].field == field
    assert us.store.count_events() == before


async def test_roles_without_post_permission_are_refused(make_node):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    channel = await hotline(us, ru)
    for role in (Role.ADMIN, Role.AUDITOR):
        with pytest.raises(Forbidden):
            await us.channels.post_message(
                as_role(us, role), channel, precedence="routine", text="x", lang="en"
            )


async def test_channel_with_unpinned_party_is_refused(make_node):
    us = make_node("us-eucom")
    with pytest.raises(UnknownParty) as caught:
        await us.channels.create(as_role(us, Role.ADMIN), "x", {"ua-nsdc": "party"})
    assert caught.value.errors[0].field == "members.ua-nsdc"


async def test_unknown_channel_is_not_found(make_node):
    us = make_node("us-eucom")
    with pytest.raises(NotFound):
        us.channels.events(as_role(us, Role.OPERATOR), "ch_doesnotexist00")


async def _forged(ru: Node, channel: str, **overrides):
    head = ru.store.chain(channel, ru.party)
    fields = {
        "channel": channel,
        "author": ru.party,
        "seq": len(head) + 1,
        "prev": head[-1].id if head else None,
        "seen": dict(head[-1].seen) if head else {},
        "ts": "2026-02-05T14:00:01.000Z",
        "type": "message",
        "body": {
            "precedence": "routine",
            "text": "x",
            "lang": "ru",
            "by": "duty1",
            "deadline": "2026-02-06T14:00:01.000Z",
        },
    }
    fields.update(overrides)
    signer = fields.pop("signer", ru.signer)
    return sign_event(signer, **fields)


async def test_tampered_events_are_rejected_and_not_stored(make_node):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    channel = await hotline(us, ru)
    before = us.store.count_events()
    with pytest.raises(BadSignature):
        await us.channels.ingest([await _forged(ru, channel, signer=Ed25519Signer.generate())])
    valid = await _forged(ru, channel)
    await us.channels.ingest([valid])
    with pytest.raises(BrokenChain):
        await us.channels.ingest([await _forged(ru, channel, seq=valid.seq + 1, prev="0" * 64)])
    with pytest.raises(MissingDependency):
        await us.channels.ingest([await _forged(ru, channel, seq=5, prev="0" * 64)])
    assert us.store.count_events() == before + 1


async def test_equivocation_keeps_both_events_as_proof_and_raises_a_critical_alert(make_node):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    channel = await hotline(us, ru)
    honest = await _forged(ru, channel)
    twin = await _forged(ru, channel, body={**honest.body, "text": "another story"})
    await us.channels.ingest([honest])
    with pytest.raises(EquivocationDetected):
        await us.channels.ingest([twin])
    alerts = us.alerts.list_alerts(as_role(us, Role.SUPERVISOR))
    assert [(a.kind, a.severity) for a in alerts] == [("equivocation", "critical")]
    assert us.store.chain(channel, ru.party)[-1] == honest


async def test_same_event_twice_is_stored_once(make_node):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    channel = await hotline(us, ru)
    event = await _forged(ru, channel)
    first = await us.channels.ingest([event])
    again = await us.channels.ingest([event])
    assert (first.stored, again.stored, again.duplicates) == (1, 0, 1)


async def test_idempotency_key_returns_the_first_event(make_node):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    channel = await hotline(us, ru)
    duty = as_role(us, Role.OPERATOR)
    one, created1 = await us.channels.post_message(
        duty, channel, precedence="routine", text="a", lang="en", idempotency_key="k-1"
    )
    two, created2 = await us.channels.post_message(
        duty, channel, precedence="routine", text="a", lang="en", idempotency_key="k-1"
    )
    assert (created1, created2) == (True, False)
    assert one.event.id == two.event.id


async def test_a_forged_channel_opening_leaves_no_channel_behind(make_node):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    from tests.conftest import pin_all

    await pin_all(us, ru)
    forged = sign_event(
        Ed25519Signer.generate(),
        channel="ch_forgedopening1",
        author="ru-genstaff",
        seq=1,
        prev=None,
        seen={},
        ts="2026-02-05T14:00:00.000Z",
        type="channel",
        body={
            "name": "fake",
            "members": {"ru-genstaff": "party", "us-eucom": "party"},
            "by": "admin",
        },
    )
    with pytest.raises(BadSignature):
        await us.channels.ingest([forged])
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
    bad = await _forged(ru, channel, seq=good[-1].seq + 2, prev="0" * 64)
    with pytest.raises(MissingDependency):
        await us.channels.ingest([*good, bad])
    assert [e.id for e in us.store.chain(channel, ru.party)][-3:] == [e.id for e in good]
