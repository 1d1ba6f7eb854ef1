from __future__ import annotations

import json
from datetime import timedelta

import pytest

from parley.errors import Conflict, EventRejected, Forbidden, InvalidInput, NotFound
from parley.protocol import sign_event
from parley.services import EventStatus, Node, ReplyClock, ReplyState, Role
from parley.store import DraftRecord
from tests.conftest import as_role
from tests.services.test_channels import hotline
from tests.services.test_replication import open_hotline, settle, trio  # noqa: F401

pytestmark = pytest.mark.anyio

EXERCISE = {
    "activity": "naval_exercise",
    "description": "Naval exercise of the Russian fleet; ships nearby are asked to keep clear.",
    "area": {"type": "NamedArea", "name": "eastern_mediterranean"},
    "window": {"start": "2026-02-06T06:00:00.000Z", "end": "2026-02-09T18:00:00.000Z"},
    "forces": {"ships": 12, "aircraft": 6},
}
LAUNCH = {
    "missile_type": "test launch",
    "launch_area": {"type": "Point", "coordinates": [45.0, 48.5], "radius_km": 10},
    "impact_area": {
        "type": "Polygon",
        "coordinates": [[[60, 47], [62, 47], [62, 48], [60, 48], [60, 47]]],
    },
    "window": {"start": "2026-02-07T02:00:00.000Z", "end": "2026-02-07T04:00:00.000Z"},
}


async def test_exercise_notice_reaches_the_other_party_with_its_24_hour_deadline(make_node):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    channel = await hotline(us, ru)
    sent = await ru.notifications.send(
        as_role(ru, Role.OPERATOR, "duty1"), channel, "military_activity/1", EXERCISE, "immediate"
    )
    assert sent.event.body["form"] == "military_activity/1"
    assert sent.event.body["deadline"] == "2026-02-06T14:00:00.000Z"
    assert sent.event.body["late"] is False

    await us.ingest.receive([sent.event])
    view = us.channels.event(as_role(us, Role.OPERATOR), channel, sent.event.id)
    assert view.event.body["data"] == EXERCISE
    for lang in ("ar", "en", "ru", "uk"):
        rendered = us.notifications.rendered(view, lang)
        assert rendered is not None
        assert rendered["text"]


async def test_launch_notice_less_than_24_hours_ahead_is_refused_unless_marked_late(make_node):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    channel = await hotline(us, ru)
    soon = {
        **LAUNCH,
        "window": {"start": "2026-02-06T02:00:00.000Z", "end": "2026-02-06T03:00:00.000Z"},
    }
    before = ru.store.count_events()
    with pytest.raises(InvalidInput) as caught:
        await ru.notifications.send(as_role(ru, Role.OPERATOR), channel, "missile_launch/1", soon)
    assert "data.window.start" in [e.field for e in caught.value.errors]
    assert ru.store.count_events() == before

    late = {**soon, "late": True, "late_reason": "short-notice test"}
    sent = await ru.notifications.send(
        as_role(ru, Role.OPERATOR), channel, "missile_launch/1", late, "flash"
    )
    assert sent.event.body["late"] is True
    await us.ingest.receive([sent.event])
    received = us.channels.event(as_role(us, Role.OPERATOR), channel, sent.event.id)
    assert received.event.body["late"] is True


async def test_invalid_form_names_the_field_and_sends_nothing(make_node):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    channel = await hotline(us, ru)
    bad = {
        **EXERCISE,
        "window": {"start": "2026-02-09T06:00:00.000Z", "end": "2026-02-08T06:00:00.000Z"},
    }
    before = ru.store.count_events()
    with pytest.raises(InvalidInput) as caught:
        await ru.notifications.send(as_role(ru, Role.OPERATOR), channel, "military_activity/1", bad)
    assert [e.field for e in caught.value.errors] == ["data.window.end"]
    assert ru.store.count_events() == before


async def test_unknown_form_is_refused(make_node):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    channel = await hotline(us, ru)
    with pytest.raises(InvalidInput) as caught:
        await us.notifications.send(as_role(us, Role.OPERATOR), channel, "weather/1", {})
    assert caught.value.errors[0].field == "form"


async def test_received_notification_with_invalid_data_is_rejected(make_node):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    channel = await hotline(us, ru)
    head = ru.store.chain(channel, ru.party)[-1]
    forged = sign_event(
        ru.signer,
        channel=channel,
        author=ru.party,
        seq=head.seq + 1,
        prev=head.id,
        seen=dict(head.seen),
        ts="2026-02-05T14:00:00.000Z",
        type="notification",
        body={
            "form": "military_activity/1",
            "data": {**EXERCISE, "activity": "parade"},
            "precedence": "routine",
            "by": "duty1",
            "released_by": None,
            "deadline": None,
            "late": False,
        },
    )
    with pytest.raises(EventRejected) as caught:
        await us.ingest.receive([forged])
    assert caught.value.errors[0].field == "data.activity"


async def _two_person_channel(us: Node, ru: Node) -> str:
    channel = await hotline(us, ru)
    opened = await us.channels.create(
        as_role(us, Role.ADMIN), "released notices", {"ru-genstaff": "party"}, two_person=True
    )
    await ru.ingest.receive([opened.event])
    accepted = await ru.channels.accept(as_role(ru, Role.ADMIN), opened.event.channel)
    await us.ingest.receive([accepted.event])
    assert channel != opened.event.channel
    return opened.event.channel


async def test_two_person_channel_holds_a_draft_until_a_supervisor_releases_it(make_node):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    channel = await _two_person_channel(us, ru)
    before = us.store.count_events(channel)
    draft = await us.notifications.send(
        as_role(us, Role.OPERATOR, "duty1"), channel, "military_activity/1", EXERCISE
    )
    assert isinstance(draft, DraftRecord)
    assert us.store.count_events(channel) == before

    released = await us.notifications.release(as_role(us, Role.SUPERVISOR, "watch1"), draft.id)
    assert (released.event.body["by"], released.event.body["released_by"]) == ("duty1", "watch1")
    assert us.notifications.drafts(as_role(us, Role.OPERATOR), channel) == []
    with pytest.raises(Conflict, match="already released"):
        await us.notifications.release(as_role(us, Role.SUPERVISOR, "watch2"), draft.id)


async def test_the_drafter_cannot_release_its_own_draft(make_node):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    channel = await _two_person_channel(us, ru)
    draft = await us.notifications.send(
        as_role(us, Role.SUPERVISOR, "watch1"), channel, "military_activity/1", EXERCISE
    )
    with pytest.raises(Forbidden, match="cannot also release"):
        await us.notifications.release(as_role(us, Role.SUPERVISOR, "watch1"), draft.id)
    with pytest.raises(Forbidden):
        await us.notifications.release(as_role(us, Role.OPERATOR, "duty2"), draft.id)


REQUEST = {"subject": "Unannounced activity near Kharkiv", "questions": ["What was its purpose?"]}
FORM_DATA = {
    "exercise": EXERCISE,
    "request": REQUEST,
    "incident": {
        "kind": "unsafe_approach",
        "occurred_at": "2026-02-05T13:30:00.000Z",
        "location": {"type": "Point", "coordinates": [33.0, 34.0], "radius_km": 5},
        "description": "An aircraft passed within 50 m of a ship.",
    },
    "presence": {
        "units": [{"kind": "ship", "count": 2}],
        "area": {"type": "NamedArea", "name": "eastern_mediterranean"},
        "window": {"start": "2026-02-06T00:00:00.000Z", "end": "2026-02-07T00:00:00.000Z"},
    },
}


async def test_unanswered_request_for_explanation_escalates_after_48_hours(make_node, clock):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    channel = await hotline(us, ru)
    request = await us.notifications.send(
        as_role(us, Role.OPERATOR), channel, "request_for_explanation/1", REQUEST, "priority"
    )
    await ru.ingest.receive([request.event])
    clock.advance(timedelta(hours=47, minutes=59))
    assert await ru.alerts.escalate_overdue() == []
    clock.advance(timedelta(minutes=1))
    for node in (us, ru):
        (alert,) = await node.alerts.escalate_overdue()
        assert alert.kind == "reply_overdue"
        assert json.loads(alert.detail)["form"] == "request_for_explanation/1"


async def test_reply_stops_the_clock_on_both_sides(make_node, clock):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    channel = await hotline(us, ru)
    request = await us.notifications.send(
        as_role(us, Role.OPERATOR), channel, "request_for_explanation/1", REQUEST, "priority"
    )
    await ru.ingest.receive([request.event])
    clock.advance(timedelta(hours=20))
    reply = await ru.notifications.send(
        as_role(ru, Role.OPERATOR),
        channel,
        "reply/1",
        {"in_reply_to": request.event.id, "answer": "A scheduled training flight."},
        "priority",
    )
    await us.ingest.receive([reply.event])
    clock.advance(timedelta(hours=30))
    for node in (us, ru):
        kinds = [a.kind for a in await node.alerts.escalate_overdue()]
        assert "reply_overdue" not in kinds


def reply_to(request: str) -> dict[str, str]:
    return {"in_reply_to": request, "answer": "A scheduled training flight."}


async def asked(us: Node, ru: Node, channel: str, precedence: str = "routine") -> str:
    """us-eucom's request for explanation, stored on both nodes: its id."""
    request = await us.notifications.send(
        as_role(us, Role.OPERATOR), channel, "request_for_explanation/1", REQUEST, precedence
    )
    await ru.ingest.receive([request.event])
    return request.event.id


async def test_a_reply_names_a_request_of_its_channel_asked_of_its_author(make_node, clock):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    channel = await hotline(us, ru)
    request = await asked(us, ru, channel)
    other = await ru.channels.create(as_role(ru, Role.ADMIN), "other", {us.party: "party"})
    await us.ingest.receive([other.event])
    await ru.ingest.receive(
        [(await us.channels.accept(as_role(us, Role.ADMIN), other.event.channel)).event]
    )
    duty_us, duty_ru = as_role(us, Role.OPERATOR), as_role(ru, Role.OPERATOR)
    before = us.store.count_events(), ru.store.count_events()

    with pytest.raises(Conflict, match="cannot reply to its own request"):
        await us.notifications.send(duty_us, channel, "reply/1", reply_to(request))
    with pytest.raises(NotFound, match=f"no event {request} in channel {other.event.channel}"):
        await ru.notifications.send(duty_ru, other.event.channel, "reply/1", reply_to(request))
    with pytest.raises(NotFound, match=f"no event {'0' * 64} in channel {channel}"):
        await ru.notifications.send(duty_ru, channel, "reply/1", reply_to("0" * 64))

    assert (us.store.count_events(), ru.store.count_events()) == before
    clock.advance(timedelta(hours=48))
    for node in (us, ru):
        assert [a.kind for a in await node.alerts.escalate_overdue()] == ["reply_overdue"]
        view = node.channels.event(as_role(node, Role.OPERATOR), channel, request)
        assert view.reply == ReplyClock(ReplyState.OVERDUE, "2026-02-07T14:00:00.000Z")


async def test_a_mediator_does_not_answer_for_the_party_a_request_asks(trio, clock):  # noqa: F811
    us, ru, ae = trio["us-eucom"], trio["ru-genstaff"], trio["ae-mediator"]
    channel = await open_hotline(trio, roles={ru.party: "party", ae.party: "mediator"})
    request = await us.notifications.send(
        as_role(us, Role.OPERATOR), channel, "request_for_explanation/1", REQUEST
    )
    await settle(trio)

    with pytest.raises(Forbidden, match="asks ru-genstaff, not ae-mediator"):
        await ae.notifications.send(
            as_role(ae, Role.OPERATOR), channel, "reply/1", reply_to(request.event.id)
        )
    reply = await ru.notifications.send(
        as_role(ru, Role.OPERATOR), channel, "reply/1", reply_to(request.event.id)
    )
    await settle(trio)

    clock.advance(timedelta(hours=48))
    for node in trio.values():
        view = node.channels.event(as_role(node, Role.OPERATOR), channel, request.event.id)
        assert view.reply is not None
        assert (view.reply.state, view.reply.answered_by) == (ReplyState.ANSWERED, ru.party)
        assert view.reply.reply_event == reply.event.id
        assert "reply_overdue" not in [a.kind for a in await node.alerts.escalate_overdue()]


async def test_a_request_answered_but_not_acknowledged_is_not_overdue(make_node, clock):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    channel = await hotline(us, ru)
    request = await asked(us, ru, channel)
    clock.advance(timedelta(hours=20))
    reply = await ru.notifications.send(
        as_role(ru, Role.OPERATOR, "duty7"), channel, "reply/1", reply_to(request), "priority"
    )
    await us.ingest.receive([reply.event])

    clock.advance(timedelta(hours=30))
    for node in (us, ru):
        view = node.channels.event(as_role(node, Role.SUPERVISOR), channel, request)
        assert view.status is EventStatus.DELIVERED  # nobody acknowledged it
        assert not view.overdue
        assert view.reply == ReplyClock(
            ReplyState.ANSWERED,
            "2026-02-07T14:00:00.000Z",
            answered_by=ru.party,
            answered_at="2026-02-06T10:00:00.000Z",
            reply_event=reply.event.id,
        )
        alerts = await node.alerts.escalate_overdue()
        assert [a.event_id for a in alerts] == [reply.event.id]  # the reply's own ack clock


async def test_a_request_acknowledged_but_not_answered_is_overdue_as_its_alert_says(
    make_node, clock
):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    channel = await hotline(us, ru)
    request = await asked(us, ru, channel)
    ack, _ = await ru.channels.acknowledge(as_role(ru, Role.OPERATOR), channel, request)
    await us.ingest.receive([ack.event])

    clock.advance(timedelta(hours=48))
    view = us.channels.event(as_role(us, Role.SUPERVISOR), channel, request)
    assert (view.status, view.overdue) == (EventStatus.ACKNOWLEDGED, True)
    assert view.reply is not None
    assert view.reply.state is ReplyState.OVERDUE
    (alert,) = await us.alerts.escalate_overdue()
    assert (alert.kind, alert.event_id) == ("reply_overdue", request)
    assert json.loads(alert.detail)["waiting_for"] == [ru.party]


async def test_only_a_request_has_a_reply_clock(make_node):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    channel = await hotline(us, ru)
    sent = await us.notifications.send(
        as_role(us, Role.OPERATOR), channel, "military_activity/1", EXERCISE
    )
    request = await us.notifications.send(
        as_role(us, Role.OPERATOR), channel, "request_for_explanation/1", REQUEST
    )
    assert sent.reply is None
    assert request.reply == ReplyClock(ReplyState.OPEN, "2026-02-07T14:00:00.000Z")


@pytest.mark.parametrize(
    ("form", "data", "precedence", "agreed", "deadline"),
    [
        ("incident_report/1", "incident", "flash", None, "2026-02-05T14:10:00.000Z"),
        ("incident_report/1", "incident", "immediate", None, "2026-02-05T15:00:00.000Z"),
        ("incident_report/1", "incident", "routine", None, "2026-02-05T15:00:00.000Z"),
        ("military_activity/1", "exercise", "flash", None, "2026-02-05T14:10:00.000Z"),
        ("military_activity/1", "exercise", "priority", None, "2026-02-06T14:00:00.000Z"),
        ("military_activity/1", "exercise", "flash", 3600, "2026-02-05T14:10:00.000Z"),
        ("military_activity/1", "exercise", "flash", 300, "2026-02-05T14:05:00.000Z"),
        ("request_for_explanation/1", "request", "flash", None, "2026-02-05T14:10:00.000Z"),
        ("declared_presence/1", "presence", "flash", None, None),
    ],
)
async def test_flash_tightens_a_form_or_agreed_deadline_to_its_own(
    make_node, form, data, precedence, agreed, deadline
):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    await hotline(us, ru)
    deadlines = None if agreed is None else {form.split("/")[0]: agreed}
    opened = await us.channels.create(
        as_role(us, Role.ADMIN), "agreed", {ru.party: "party"}, deadlines=deadlines
    )
    sent = await us.notifications.send(
        as_role(us, Role.OPERATOR), opened.event.channel, form, FORM_DATA[data], precedence
    )
    assert sent.event.body["deadline"] == deadline


async def test_translation_is_a_separate_event_linked_to_the_untouched_original(make_node):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    channel = await hotline(us, ru)
    original, _ = await ru.channels.post_message(
        as_role(ru, Role.OPERATOR), channel, precedence="routine", text="Проверка связи", lang="ru"
    )
    await us.ingest.receive([original.event])
    translation = await us.notifications.translate(
        as_role(us, Role.OPERATOR), channel, original.event.id, "en", "Line check"
    )
    assert translation.event.body == {
        "of": original.event.id,
        "lang": "en",
        "text": "Line check",
        "by": "operator",
    }
    kept = us.channels.event(as_role(us, Role.OPERATOR), channel, original.event.id)
    assert kept.event == original.event


async def test_agreed_channel_deadline_overrides_the_form_default(make_node):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    await hotline(us, ru)
    opened = await us.channels.create(
        as_role(us, Role.ADMIN),
        "fast",
        {"ru-genstaff": "party"},
        deadlines={"military_activity": 3600},
    )
    sent = await us.notifications.send(
        as_role(us, Role.OPERATOR), opened.event.channel, "military_activity/1", EXERCISE
    )
    assert sent.event.body["deadline"] == "2026-02-05T15:00:00.000Z"
