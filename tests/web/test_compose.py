"""Composing notifications in the console, the two-person release queue, and what the channel
page shows beside its timeline: each text's original, and the link to each other member."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx
import pytest

from parley.errors import FieldError
from parley.forms import list_forms
from parley.services import EventView, Principal, Role
from parley.web._schema_form import HELP, controls, place_errors, read_posted, schema_nodes
from tests.conftest import PASSWORD
from tests.web.conftest import Console, csrf_of

pytestmark = pytest.mark.anyio

EXERCISE_URL = "compose/military_activity/1"
EXERCISE = {
    "precedence": "immediate",
    "data.activity": "naval_exercise",
    "data.description": "Naval exercise; ships nearby are asked to keep clear.",
    "named:data.area": "eastern_mediterranean",
    "data.window.start": "2026-02-06T06:00",
    "data.window.end": "2026-02-09T18:00:00",
    "data.forces.ships": "12",
}


def page_of(console: Console, path: str = "") -> str:
    return f"/console/channels/{console.channel}" + (f"/{path}" if path else "")


async def post_form(
    console: Console, path: str, fields: dict[str, str], channel: str | None = None
) -> httpx.Response:
    url = f"/console/channels/{channel or console.channel}/{path}"
    form = await console.client.get(url)
    return await console.client.post(url, data={"csrf": csrf_of(form), **fields})


def notifications(console: Console, channel: str | None = None) -> list[Any]:
    principal = Principal("duty1", Role.OPERATOR, console.node.party)
    views, _ = console.node.channels.events(principal, channel or console.channel)
    return [v for v in views if v.event.type == "notification"]


def tag(page: str, element_id: str) -> str:
    """The opening tag of the element with this id."""
    found = re.search(rf'<[a-z]+ id="{element_id}"[^>]*>', page)
    assert found is not None, element_id
    return found.group(0)


# -- the forms -----------------------------------------------------------------------------------
async def test_the_channel_page_links_to_the_forms_and_free_text_stays_its_own(
    console: Console,
) -> None:
    await console.sign_in()

    channel = await console.client.get(page_of(console))
    compose = await console.client.get(page_of(console, "compose"))

    assert f'href="{page_of(console, "compose")}"' in channel.text
    links = re.findall(r'href="[^"]+/compose/([a-z_]+/\d+)"', compose.text)
    assert sorted(links) == sorted(s.id for s in list_forms() if s.name != "free_text")
    assert f'href="{page_of(console)}#compose-heading"' in compose.text


@pytest.mark.parametrize("form_id", sorted(s.id for s in list_forms() if s.name != "free_text"))
async def test_every_field_of_every_form_has_a_labelled_control(
    console: Console, form_id: str
) -> None:
    await console.sign_in()

    page = await console.client.get(page_of(console, f"compose/{form_id}"))

    assert page.status_code == 200
    spec = next(s for s in list_forms() if s.id == form_id)
    for top in controls(spec):
        for control in top.walk():
            if control.node.kind in ("group", "list"):
                assert tag(page.text, control.id).startswith("<fieldset")
            else:
                assert f'<label for="{control.id}">' in page.text, control.path
                assert f'name="{control.path}"' in page.text
            if control.node.help:
                assert f'id="{control.id}-help"' in page.text


@pytest.mark.parametrize("form_id", sorted(s.id for s in list_forms()))
def test_every_description_a_form_shows_is_an_operators_help(form_id: str) -> None:
    """A description with no help of its own would be shown in the schema's English."""
    spec = next(s for s in list_forms() if s.id == form_id)
    for top in controls(spec):
        for control in top.walk():
            assert control.node.help is None or control.node.help in HELP.values(), control.path
    assert schema_nodes(form_id)


async def test_the_controls_follow_the_schema(console: Console) -> None:
    await console.sign_in()

    page = (await console.client.get(page_of(console, EXERCISE_URL))).text

    assert 'type="datetime-local"' in tag(page, "f-data-window-start")
    assert tag(page, "f-data-activity").startswith("<select")
    assert '<option value="naval_exercise">Naval exercise</option>' in page
    assert 'type="number"' in tag(page, "f-data-forces-ships")
    assert "data-area-input" in tag(page, "f-data-area")
    assert 'name="named:data.area"' in tag(page, "f-data-area-named")
    assert "From the start up to the end" in page  # the schema's description, as help
    assert 'aria-required="true"' in tag(page, "f-data-description")
    assert page.count("area-input.js") == 1  # the map to draw on, from every page's head


# -- sending -------------------------------------------------------------------------------------
async def test_a_bad_field_shows_the_nodes_message_next_to_it_and_nothing_is_stored(
    console: Console,
) -> None:
    await console.sign_in()
    before = console.node.store.count_events(console.channel)

    response = await post_form(
        console, EXERCISE_URL, {**EXERCISE, "data.window.start": "2026-02-01T06:00"}
    )

    assert response.status_code == 422
    page = response.text
    error = re.search(r'<p id="f-data-window-start-error"[^>]*>(.*?)</p>', page, re.S)
    assert error is not None
    assert "must not be in the past" in error.group(1)
    start = tag(page, "f-data-window-start")
    assert 'aria-invalid="true"' in start
    assert "f-data-window-start-error" in start
    assert 'value="2026-02-01T06:00"' in start  # as typed
    assert 'aria-invalid="true"' not in tag(page, "f-data-description")
    assert html.escape(EXERCISE["data.description"]) in page
    assert 'role="alert"' in page
    assert console.node.store.count_events(console.channel) == before


async def test_an_area_that_is_not_json_is_named_next_to_it(console: Console) -> None:
    await console.sign_in()
    fields = {**EXERCISE, "named:data.area": "", "data.area": '{"type": "Polygon",'}

    response = await post_form(console, EXERCISE_URL, fields)

    assert response.status_code == 422
    error = re.search(r'<p id="f-data-area-error"[^>]*>(.*?)</p>', response.text, re.S)
    assert error is not None
    assert "is not JSON" in error.group(1)
    assert ">{&#34;type&#34;: &#34;Polygon&#34;,</textarea>" in response.text
    assert notifications(console) == []


async def test_a_form_posts_and_appears_in_the_timeline_with_the_signed_original(
    console: Console,
) -> None:
    await console.sign_in()

    response = await post_form(console, EXERCISE_URL, EXERCISE)
    timeline = await console.client.get(page_of(console))

    assert (response.status_code, response.headers["location"]) == (303, page_of(console))
    (sent,) = notifications(console)
    assert sent.event.body["precedence"] == "immediate"
    assert sent.event.body["data"] == {
        "activity": "naval_exercise",
        "description": EXERCISE["data.description"],
        "area": {"type": "NamedArea", "name": "eastern_mediterranean"},
        "window": {"start": "2026-02-06T06:00:00.000Z", "end": "2026-02-09T18:00:00.000Z"},
        "forces": {"ships": 12},
    }
    assert f'data-event="{sent.event.id}"' in timeline.text
    assert "Notice of military activity" in timeline.text
    assert "Activity: Naval exercise" in timeline.text  # rendered in the operator's language
    assert "Original: the form as signed" in timeline.text
    assert "&#34;naval_exercise&#34;" in timeline.text


async def test_a_list_gets_rows_without_sending_and_blank_rows_are_left_out(
    console: Console,
) -> None:
    await console.sign_in()
    fields = {
        "data.units.0.kind": "ship",
        "data.units.0.count": "2",
        "data.units.1.kind": "",
        "named:data.area": "eastern_mediterranean",
    }

    more = await post_form(console, "compose/declared_presence/1", {**fields, "add": "data.units"})
    assert more.status_code == 200
    assert 'id="f-data-units-1-kind"' in more.text
    assert 'id="f-data-units-2-kind"' not in more.text
    assert notifications(console) == []

    sent = await post_form(
        console,
        "compose/declared_presence/1",
        {
            **fields,
            "data.units.2.kind": "aircraft",
            "data.units.2.count": "1",
            "data.window.start": "2026-02-06T00:00",
            "data.window.end": "2026-02-07T00:00",
        },
    )
    assert sent.status_code == 303
    (presence,) = notifications(console)
    assert presence.event.body["data"]["units"] == [
        {"kind": "ship", "count": 2},
        {"kind": "aircraft", "count": 1},
    ]


async def test_a_reply_link_starts_the_reply_form(console: Console) -> None:
    await console.sign_in()
    request = await console.peer.notifications.send(
        Principal("officer2", Role.OPERATOR, console.peer.party),
        console.channel,
        "request_for_explanation/1",
        {"subject": "Activity near Kharkiv", "questions": ["What was its purpose?"]},
    )
    assert isinstance(request, EventView)
    await console.node.ingest.receive([request.event])

    timeline = await console.client.get(page_of(console))
    link = f"{page_of(console)}/compose/reply/1?data.in_reply_to={request.event.id}"
    reply = await console.client.get(link)

    assert f'href="{link}"' in timeline.text
    assert f'value="{request.event.id}"' in tag(reply.text, "f-data-in_reply_to")


async def test_composing_and_releasing_need_a_form_from_this_session(console: Console) -> None:
    channel = await two_person_channel(console)
    draft = await console.node.notifications.send(
        Principal("duty1", Role.OPERATOR, console.node.party),
        channel,
        "military_activity/1",
        read_posted(next(s for s in list_forms() if s.id == "military_activity/1"), EXERCISE).data,
    )
    assert not isinstance(draft, EventView)
    await console.sign_in("watch1")

    composed = await console.client.post(page_of(console, EXERCISE_URL), data=EXERCISE)
    released = await console.client.post(f"/console/drafts/{draft.id}/release", data={})

    assert (composed.status_code, released.status_code) == (403, 403)
    assert notifications(console) == notifications(console, channel) == []


async def test_an_auditor_may_not_compose(console: Console) -> None:
    await console.node.operators.add("audit1", "auditor", PASSWORD)
    await console.sign_in("audit1")

    assert (await console.client.get(page_of(console, EXERCISE_URL))).status_code == 403
    assert '/compose"' not in (await console.client.get(page_of(console))).text


async def test_the_form_speaks_arabic(console: Console) -> None:
    await console.sign_in()
    await console.client.post(
        "/console/language", data={"lang": "ar", "csrf": await console.csrf()}
    )

    page = (await console.client.get(page_of(console, EXERCISE_URL))).text

    assert '<html lang="ar" dir="rtl">' in page
    assert "إخطار بنشاط عسكري" in page  # Notice of military activity
    assert 'dir="ltr" spellcheck="false" data-area-input' in page


# -- the parts of a form ---------------------------------------------------------------------------
def test_a_message_for_part_of_a_field_goes_to_the_field_naming_the_part() -> None:
    paths = {"data.area", "data.window", "data.window.start"}
    errors = (
        FieldError("data.area.coordinates.0", "must have at least 4 positions"),
        FieldError("data.window.start", "must not be in the past"),
        FieldError("supersedes", "drafts cannot amend yet"),
    )

    placed, loose = place_errors(errors, {}, paths)

    assert placed == {
        "data.area": "coordinates.0: must have at least 4 positions",
        "data.window.start": "must not be in the past",
    }
    assert loose == ["supersedes: drafts cannot amend yet"]


def test_values_the_console_cannot_read_go_to_the_node_as_typed() -> None:
    spec = next(s for s in list_forms() if s.id == "incident_report/1")

    posted = read_posted(
        spec,
        {"data.casualties": "many", "data.occurred_at": "yesterday", "data.kind": "collision"},
    )

    assert posted.data == {"casualties": "many", "occurred_at": "yesterday", "kind": "collision"}
    assert posted.faults == {}


# -- two-person release --------------------------------------------------------------------------
async def two_person_channel(console: Console) -> str:
    node, peer = console.node, console.peer
    opened = await node.channels.create(
        Principal("admin", Role.ADMIN, node.party),
        "released",
        {peer.party: "party"},
        two_person=True,
    )
    await peer.ingest.receive([opened.event])
    accepted = await peer.channels.accept(
        Principal("admin", Role.ADMIN, peer.party), opened.event.channel
    )
    await node.ingest.receive([accepted.event])
    return opened.event.channel


async def test_a_form_of_a_two_person_channel_waits_in_the_release_queue(
    console: Console,
) -> None:
    channel = await two_person_channel(console)
    await console.sign_in("duty1")

    response = await post_form(console, EXERCISE_URL, EXERCISE, channel)
    page = await console.client.get(f"/console/channels/{channel}")

    assert response.headers["location"] == f"/console/channels/{channel}#drafts"
    assert notifications(console, channel) == []
    assert 'id="drafts"' in page.text
    assert "Activity: Naval exercise" in page.text
    assert (await console.client.get("/console/drafts")).status_code == 403  # an operator

    await console.sign_in("watch1")
    queue = await console.client.get("/console/drafts")
    (draft_id,) = re.findall(r'data-draft="(\d+)"', queue.text)
    released = await console.client.post(
        f"/console/drafts/{draft_id}/release", data={"csrf": csrf_of(queue)}
    )

    assert (released.status_code, released.headers["location"]) == (303, "/console/drafts")
    (sent,) = notifications(console, channel)
    assert (sent.event.body["by"], sent.event.body["released_by"]) == ("duty1", "watch1")
    assert "data-draft=" not in (await console.client.get("/console/drafts")).text


async def test_the_release_queue_refuses_the_drafter(console: Console) -> None:
    channel = await two_person_channel(console)
    await console.sign_in("watch1")
    await post_form(console, EXERCISE_URL, EXERCISE, channel)
    queue = await console.client.get("/console/drafts")
    (draft_id,) = re.findall(r'data-draft="(\d+)"', queue.text)

    refused = await console.client.post(
        f"/console/drafts/{draft_id}/release", data={"csrf": csrf_of(queue)}
    )

    assert refused.status_code == 403
    assert "The node refused to release this draft" in refused.text
    assert "cannot also release it" in refused.text
    assert "You drafted this notification" in refused.text
    assert notifications(console, channel) == []


# -- beside the timeline -------------------------------------------------------------------------
async def test_the_link_strip_shows_each_other_member_and_updates(console: Console) -> None:
    await console.sign_in()
    peer = console.peer.party

    before = await console.client.get(page_of(console))
    await console.node.links.contact_ok(peer, {})
    after = await console.client.get(f"/console/live/channels/{console.channel}/links")

    strip = re.search(r'<ul id="links".*?</ul>', before.text, re.S)
    assert strip is not None
    assert f'data-peer="{peer}"' in strip.group(0)
    assert "Unknown" in strip.group(0)
    assert "no contact yet" in strip.group(0)
    assert 'hx-trigger="every 15s, sse:channel-' in strip.group(0)
    assert 'class="link link-up"' in after.text
    assert "last contact" in after.text


async def test_a_translated_message_shows_its_original_beside_it(console: Console) -> None:
    await console.sign_in()
    original, _ = await console.peer.channels.post_message(
        Principal("officer2", Role.OPERATOR, console.peer.party),
        console.channel,
        precedence="routine",
        text="Проверка связи",
        lang="ru",
    )
    await console.node.ingest.receive([original.event])
    await console.node.notifications.translate(
        Principal("duty1", Role.OPERATOR, console.node.party),
        console.channel,
        original.event.id,
        "en",
        "Line check",
    )

    timeline = (await console.client.get(f"/console/live/channels/{console.channel}")).text

    entry = re.search(rf'data-event="{original.event.id}".*?</li>\n', timeline, re.S)
    assert entry is not None
    assert '<div class="text" dir="auto" lang="en">Line check</div>' in entry.group(0)
    assert "<summary>Original (<bdi>ru</bdi>)</summary>" in entry.group(0)
    assert "Проверка связи" in entry.group(0)
