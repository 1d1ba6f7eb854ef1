from __future__ import annotations

from datetime import timedelta

import pytest

from parley.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    UnknownParty,
)
from parley.services import Node, Role
from tests.conftest import as_role, pin_all

pytestmark = pytest.mark.anyio


async def hotline(us: Node, ru: Node) -> str:
    """Open a us-eucom <-> ru-genstaff channel on both nodes; returns its id."""
    await pin_all(us, ru)
    opened = await us.channels.create(as_role(us, Role.ADMIN), "hotline", {ru.party: "party"})
    await ru.ingest.receive([opened.event])
    accepted = await ru.channels.accept(as_role(ru, Role.ADMIN), opened.event.channel)
    await us.ingest.receive([accepted.event])
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

    await ru.ingest.receive([sent.event])
    clock.advance(timedelta(minutes=3))
    ack, created = await ru.channels.acknowledge(
        as_role(ru, Role.OPERATOR, "officer2"), channel, sent.event.id
    )
    await us.ingest.receive([ack.event])

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
    await ru.ingest.receive([sent.event])
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
        ({"text": "Exercise \u202ecancelled"}, InvalidInput, "text"),
        ({"text": "\u2067isolated\u2069"}, InvalidInput, "text"),
        ({"text": "bell\x07"}, InvalidInput, "text"),
        ({"text": "lone \ud800"}, InvalidInput, "text"),
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


@pytest.mark.parametrize(
    "changed", [{"text": "b"}, {"precedence": "flash"}, {"lang": "ru", "text": "a"}]
)
async def test_an_idempotency_key_used_for_another_message_is_refused(make_node, changed):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    channel = await hotline(us, ru)
    duty = as_role(us, Role.OPERATOR)
    message = {"precedence": "routine", "text": "a", "lang": "en", "idempotency_key": "k-1"}
    first, _ = await us.channels.post_message(duty, channel, **message)
    before = us.store.count_events()

    with pytest.raises(InvalidInput, match=f"used for another request \\(event {first.event.id}"):
        await us.channels.post_message(duty, channel, **{**message, **changed})

    assert us.store.count_events() == before
    again, created = await us.channels.post_message(duty, channel, **message)
    assert (again.event.id, created) == (first.event.id, False)


@pytest.mark.parametrize("key", ["incident_reprot", "request_for_explanation/1"])
async def test_agreed_deadlines_name_forms(make_node, key):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    await pin_all(us, ru)
    with pytest.raises(InvalidInput, match="is not the name of a form") as caught:
        await us.channels.create(
            as_role(us, Role.ADMIN), "fast", {ru.party: "party"}, deadlines={key: 60}
        )
    assert [e.field for e in caught.value.errors] == [f"deadlines.{key}"]
    assert us.store.list_channels(us.party) == []


async def test_an_append_whose_condition_fails_in_its_transaction_stores_nothing(make_node):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    channel = await hotline(us, ru)
    record = us.channels.writable(channel)
    before = us.store.count_events()

    skipped = await us.channels.append_if(lambda tx: False, record, "link_test", {})
    appended = await us.channels.append_if(lambda tx: True, record, "link_test", {})

    assert skipped is None
    assert appended is not None
    assert us.store.count_events() == before + 1


# -- the rule book, as the API answers ---------------------------------------------------------
async def test_accepting_twice_and_changing_a_channel_before_accepting_are_conflicts(make_node):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    await pin_all(us, ru)
    opened = await us.channels.create(as_role(us, Role.ADMIN), "hotline", {ru.party: "party"})
    channel = opened.event.channel
    await ru.ingest.receive([opened.event])
    with pytest.raises(Conflict, match=f"ru-genstaff must accept {channel} before changing it"):
        await ru.channels.set_status(as_role(ru, Role.ADMIN), channel, "suspended", "x")
    await ru.channels.accept(as_role(ru, Role.ADMIN), channel)
    with pytest.raises(Conflict, match="already an active member"):
        await ru.channels.accept(as_role(ru, Role.ADMIN), channel)
    with pytest.raises(Conflict, match="already an active member"):
        await us.channels.accept(as_role(us, Role.ADMIN), channel)  # its creator


async def test_a_channel_cannot_be_suspended_twice_but_can_be_resumed(make_node):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    channel = await hotline(us, ru)
    admin = as_role(us, Role.ADMIN)
    await us.channels.set_status(admin, channel, "suspended", "autumn 2021")
    with pytest.raises(Conflict, match=f"channel {channel} is already suspended"):
        await us.channels.set_status(admin, channel, "suspended", "again")
    with pytest.raises(Conflict, match="nothing can be sent on it"):
        await us.channels.append_system(channel, "link_test")
    await us.channels.append_system(channel, "receipt")  # receipts still confirm
    resumed = await us.channels.set_status(admin, channel, "active", "Abu Dhabi, 2026")
    assert resumed.event.body["status"] == "active"


async def test_an_ack_names_an_ackable_event_of_this_channel(make_node):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    channel = await hotline(us, ru)
    duty = as_role(us, Role.OPERATOR)
    receipt = await ru.channels.append_system(channel, "receipt")
    await us.ingest.receive([receipt.event])
    with pytest.raises(InvalidInput, match="a receipt event is not acknowledged") as caught:
        await us.channels.acknowledge(duty, channel, receipt.event.id)
    assert caught.value.errors[0].field == "event"
    with pytest.raises(NotFound, match=f"no event {'0' * 64} in channel {channel}"):
        await us.channels.acknowledge(duty, channel, "0" * 64)


async def test_a_reply_answers_a_request_of_the_other_side(make_node):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    channel = await hotline(us, ru)
    duty = as_role(us, Role.OPERATOR)
    message, _ = await us.channels.post_message(
        duty, channel, precedence="routine", text="x", lang="en"
    )
    with pytest.raises(InvalidInput, match="not a request for explanation") as caught:
        await us.notifications.send(
            duty, channel, "reply/1", {"in_reply_to": message.event.id, "answer": "No."}
        )
    assert caught.value.errors[0].field == "data.in_reply_to"
