from __future__ import annotations

from datetime import timedelta

import pytest

from parley.services import Role
from tests.api.conftest import assert_problem
from tests.conftest import as_role
from tests.services.test_notify import EXERCISE, LAUNCH, REQUEST, reply_to

pytestmark = pytest.mark.anyio


async def test_forms_are_published_with_their_schemas(api):
    forms = (await api.client.get("/api/v1/forms", headers=api.auth("duty1"))).json()
    ids = {f["id"] for f in forms}
    assert {
        "military_activity/1",
        "missile_launch/1",
        "request_for_explanation/1",
        "free_text/1",
    } <= ids
    schema = (
        await api.client.get("/api/v1/forms/military_activity/1", headers=api.auth("duty1"))
    ).json()
    assert schema["$id"].endswith("military_activity/1")
    assert_problem(await api.client.get("/api/v1/forms/weather/1", headers=api.auth("duty1")), 404)


async def test_notification_is_201_and_rendered_in_the_operators_language(api):
    url = f"/api/v1/channels/{api.channel}/notifications"
    response = await api.client.post(
        url,
        headers=api.auth("duty1"),
        json={"form": "military_activity/1", "data": EXERCISE, "precedence": "immediate"},
    )
    assert response.status_code == 201, response.text
    event_id = response.json()["id"]
    assert response.json()["rendered"]["lang"] == "en"

    assert (
        await api.client.put("/api/v1/me/language", headers=api.auth("duty1"), json={"lang": "ar"})
    ).status_code == 204
    shown = (
        await api.client.get(
            f"/api/v1/channels/{api.channel}/events/{event_id}", headers=api.auth("duty1")
        )
    ).json()
    assert shown["rendered"]["lang"] == "ar"
    assert "\u2067" in shown["rendered"]["text"]  # right-to-left isolation
    assert shown["event"]["body"]["data"] == EXERCISE
    russian = (
        await api.client.get(
            f"/api/v1/channels/{api.channel}/events/{event_id}",
            params={"lang": "ru"},
            headers=api.auth("duty1"),
        )
    ).json()
    assert russian["rendered"]["lang"] == "ru"


async def test_invalid_notification_is_422_naming_the_field_and_stores_nothing(api):
    before = api.node.store.count_events()
    bad = {
        **LAUNCH,
        "impact_area": {
            "type": "Polygon",
            "coordinates": [[[60, 47], [62, 48], [62, 47], [60, 48], [60, 47]]],
        },
    }
    response = await api.client.post(
        f"/api/v1/channels/{api.channel}/notifications",
        headers=api.auth("duty1"),
        json={"form": "missile_launch/1", "data": bad},
    )
    problem = assert_problem(response, 422)
    assert problem["errors"][0]["field"].startswith("data.impact_area")
    assert api.node.store.count_events() == before


async def test_unknown_language_is_refused(api):
    response = await api.client.put(
        "/api/v1/me/language", headers=api.auth("duty1"), json={"lang": "fr"}
    )
    assert_problem(response, 422, "lang")


async def test_two_person_channel_answers_202_with_a_draft_then_release_sends(api):
    created = await api.client.post(
        "/api/v1/channels",
        headers=api.auth("admin"),
        json={"name": "two-person", "members": {"ru-genstaff": "party"}, "two_person": True},
    )
    channel = created.json()["id"]
    assert created.json()["two_person"] is True
    drafted = await api.client.post(
        f"/api/v1/channels/{channel}/notifications",
        headers=api.auth("duty1"),
        json={"form": "military_activity/1", "data": EXERCISE},
    )
    assert drafted.status_code == 202
    draft_id = drafted.json()["draft"]["id"]
    listed = (
        await api.client.get(f"/api/v1/channels/{channel}/drafts", headers=api.auth("watch1"))
    ).json()
    assert [d["id"] for d in listed] == [draft_id]
    assert_problem(
        await api.client.post(f"/api/v1/drafts/{draft_id}/release", headers=api.auth("duty1")), 403
    )
    released = await api.client.post(
        f"/api/v1/drafts/{draft_id}/release", headers=api.auth("watch1")
    )
    assert released.status_code == 201
    body = released.json()["event"]["body"]
    assert (body["by"], body["released_by"]) == ("duty1", "watch1")


async def test_translation_links_to_the_original(api):
    posted = (await api.post_message(text="Проверка связи", lang="ru")).json()
    response = await api.client.post(
        f"/api/v1/channels/{api.channel}/events/{posted['id']}/translations",
        headers=api.auth("watch1"),
        json={"lang": "en", "text": "Line check"},
    )
    assert response.status_code == 201
    assert response.json()["event"]["body"]["of"] == posted["id"]


async def _request(api) -> str:
    sent = await api.client.post(
        f"/api/v1/channels/{api.channel}/notifications",
        headers=api.auth("duty1"),
        json={"form": "request_for_explanation/1", "data": REQUEST},
    )
    assert sent.status_code == 201, sent.text
    await api.peer.ingest.receive(api.node.store.chain(api.channel, api.node.party))
    return sent.json()["id"]


async def test_a_reply_naming_no_request_it_may_answer_is_refused(api):
    url = f"/api/v1/channels/{api.channel}/notifications"
    request = await _request(api)
    before = api.node.store.count_events()

    missing = await api.client.post(
        url, headers=api.auth("duty1"), json={"form": "reply/1", "data": reply_to("0" * 64)}
    )
    own = await api.client.post(
        url, headers=api.auth("duty1"), json={"form": "reply/1", "data": reply_to(request)}
    )

    assert_problem(missing, 404)
    assert "cannot reply to its own request" in assert_problem(own, 409)["detail"]
    assert api.node.store.count_events() == before


async def test_a_request_shows_its_reply_clock(api, clock):
    request = await _request(api)
    url = f"/api/v1/channels/{api.channel}/events/{request}"
    deadline = "2026-02-07T14:00:00.000Z"
    shown = (await api.client.get(url, headers=api.auth("duty1"))).json()
    assert shown["reply"] == {
        "state": "open",
        "deadline": deadline,
        "answered_by": None,
        "answered_at": None,
        "reply_event": None,
    }

    clock.advance(timedelta(hours=3))
    reply = await api.peer.notifications.send(
        as_role(api.peer, Role.OPERATOR), api.channel, "reply/1", reply_to(request)
    )
    await api.node.ingest.receive([reply.event])
    shown = (await api.client.get(url, headers=api.auth("duty1"))).json()
    assert shown["reply"] == {
        "state": "answered",
        "deadline": deadline,
        "answered_by": "ru-genstaff",
        "answered_at": "2026-02-05T17:00:00.000Z",
        "reply_event": reply.event.id,
    }
    message = (await api.post_message()).json()
    assert message["reply"] is None
