"""The situation map over the node's app: its page, and the two JSON documents its script
draws (the situation, the protected sites): behind the session, in their shape, and only what
this node's party knows."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from parley.clock import ManualClock, format_ts
from parley.services import EventView, Node, Principal, Role
from parley.web._live import _messages
from tests.conftest import PASSWORD, START, as_role
from tests.web.conftest import Console

pytestmark = pytest.mark.anyio

SITUATION = "/console/live/map/situation"
SITES = "/console/live/map/sites"
EAST_MED = {"type": "NamedArea", "name": "eastern_mediterranean"}
SOUTH_OF_CYPRUS = {
    "type": "Polygon",
    "coordinates": [[[32.0, 33.0], [33.5, 33.0], [33.5, 34.2], [32.0, 34.2], [32.0, 33.0]]],
}


def window(start_h: float, end_h: float) -> dict[str, str]:
    return {
        "start": format_ts(START + timedelta(hours=start_h)),
        "end": format_ts(START + timedelta(hours=end_h)),
    }


async def exercise_from_peer(console: Console) -> str:
    """ru-genstaff's naval exercise over the eastern Mediterranean, received here."""
    data = {
        "activity": "naval_exercise",
        "description": "Naval exercise",
        "area": EAST_MED,
        "window": window(24, 120),
    }
    sent = await console.peer.notifications.send(
        as_role(console.peer, Role.OPERATOR, "officer2"),
        console.channel,
        "military_activity/1",
        data,
        "immediate",
    )
    assert isinstance(sent, EventView)
    await console.node.ingest.receive([sent.event])
    return sent.event.id


async def declare_presence(console: Console, area: dict[str, Any] = SOUTH_OF_CYPRUS) -> str:
    data = {"units": [{"kind": "ship", "count": 3}], "area": area, "window": window(1, 240)}
    sent = await console.node.notifications.send(
        as_role(console.node, Role.OPERATOR, "duty1"),
        console.channel,
        "declared_presence/1",
        data,
        "immediate",
    )
    assert isinstance(sent, EventView)
    return sent.event.id


def import_sites(node: Node, folder: Path, rows: list[str], **terms: Any) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{node.party}-sites.csv"
    path.write_text("lon,lat,name,category\n" + "\n".join(rows) + "\n", "utf-8")
    node.sites.import_file(as_role(node, Role.ADMIN), path, **terms)


async def fetch(console: Console, path: str) -> Any:
    response = await console.client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()


# -- behind the session --------------------------------------------------------------------------
async def test_the_page_sends_the_browser_to_sign_in(console: Console) -> None:
    response = await console.client.get("/console/map")

    assert response.status_code == 303
    assert response.headers["location"] == "/console/login"


@pytest.mark.parametrize("path", [SITUATION, SITES])
async def test_the_map_data_needs_a_session(console: Console, path: str) -> None:
    response = await console.client.get(path)

    assert response.status_code == 401
    assert response.headers["hx-redirect"] == "/console/login"


@pytest.mark.parametrize("path", [SITUATION, SITES])
async def test_an_api_token_is_no_session_for_the_map(console: Console, path: str) -> None:
    issued = await console.node.operators.login("duty1", PASSWORD, address="test")

    response = await console.client.get(path, headers={"Authorization": f"Bearer {issued.token}"})

    assert response.status_code == 401


async def test_fetching_the_map_data_is_no_activity(console: Console, clock: ManualClock) -> None:
    await console.sign_in()
    idle = console.node.settings.console_idle_s
    clock.advance(timedelta(seconds=idle - 1))
    assert (await console.client.get(SITUATION)).status_code == 200
    clock.advance(timedelta(seconds=2))

    assert (await console.client.get("/console/map")).status_code == 303


# -- the page ------------------------------------------------------------------------------------
async def test_the_page_carries_its_words_and_scripts_and_no_inline_code(console: Console) -> None:
    await console.sign_in()

    page = await console.client.get("/console/map")

    assert page.status_code == 200
    assert '<a href="/console/map" aria-current="page">Map</a>' in page.text
    assert '<script src="/console/static/map.js" type="module"></script>' in page.text
    assert not re.search(r"<script(?![^>]*\bsrc=)", page.text)  # no inline script
    assert not re.search(r"<style|\sstyle=", page.text)
    found = re.search(r"data-words='([^']*)'", page.text)
    assert found is not None
    words = json.loads(found.group(1))
    assert words["severities"]["critical"] == "Critical"
    assert words["categories"]["water_supply"] == "Water supply"
    assert 'data-party="us-eucom"' in page.text


async def test_the_map_words_of_every_page_are_in_the_operators_language(
    console: Console,
) -> None:
    await console.sign_in()
    await console.client.post(
        "/console/language", data={"lang": "ru", "csrf": await console.csrf()}
    )

    page = await console.client.get("/console/")

    found = re.search(r'id="map-words" hidden data-words=\'([^\']*)\'', page.text)
    assert found is not None
    words = json.loads(found.group(1))
    assert words["zoom_in"] == "Приблизить"
    assert words["draw_polygon"] == "Нарисовать многоугольник"
    assert re.search(r'<a href="/console/map"\s*>Карта</a>', page.text)


# -- the situation -------------------------------------------------------------------------------
async def test_the_situation_holds_live_notices_and_the_alert_with_its_overlap(
    console: Console,
) -> None:
    await console.sign_in()
    activity = await exercise_from_peer(console)
    presence = await declare_presence(console)

    situation = await fetch(console, SITUATION)

    assert situation["party"] == "us-eucom"
    items = {item["event"]: item for item in situation["items"]}
    assert set(items) == {activity, presence}
    exercise = items[activity]
    assert (exercise["party"], exercise["kind"], exercise["channel"]) == (
        "ru-genstaff",
        "activity",
        console.channel,
    )
    assert (exercise["start"], exercise["end"]) == (
        window(24, 120)["start"],
        window(24, 120)["end"],
    )
    assert exercise["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert items[presence]["kind"] == "presence"
    [alert] = situation["alerts"]
    assert alert["severity"] == "high"
    assert {alert["a"]["key"], alert["b"]["key"]} == {activity, presence}
    assert alert["area_km2"] > 10_000
    assert alert["channel"] == console.channel
    assert alert["overlap"]["type"] == "Polygon"
    lons = [p[0] for p in alert["overlap"]["coordinates"][0]]
    lats = [p[1] for p in alert["overlap"]["coordinates"][0]]
    assert (min(lons), max(lons), min(lats), max(lats)) == pytest.approx((32.0, 33.5, 33.0, 34.2))


async def test_a_cancelled_notice_and_its_alert_leave_the_map(console: Console) -> None:
    await console.sign_in()
    await exercise_from_peer(console)
    presence = await declare_presence(console)
    assert len((await fetch(console, SITUATION))["alerts"]) == 1

    await console.node.notifications.cancel(
        as_role(console.node, Role.OPERATOR, "duty1"), console.channel, presence, "left the area"
    )
    situation = await fetch(console, SITUATION)

    assert presence not in {item["event"] for item in situation["items"]}
    assert situation["alerts"] == []


async def test_a_notice_whose_window_is_over_is_not_on_the_map(
    console: Console, clock: ManualClock
) -> None:
    await console.sign_in()
    activity = await exercise_from_peer(console)

    clock.advance(timedelta(hours=121))
    await console.sign_in()  # the session timed out meanwhile
    situation = await fetch(console, SITUATION)

    assert activity not in {item["event"] for item in situation["items"]}


async def test_the_stream_tells_the_map_of_a_new_notice(console: Console) -> None:
    principal = Principal("duty1", Role.OPERATOR, console.node.party)
    stream = _messages(console.node, principal, lifetime_s=30)
    assert (await anext(stream)).event == "inbox"
    pending = anext(stream)

    await exercise_from_peer(console)
    names = [str((await pending).event)] + [str((await anext(stream)).event) for _ in range(2)]

    assert names == sorted([f"channel-{console.channel}", "inbox", "map"])
    await stream.aclose()


# -- protected sites -----------------------------------------------------------------------------
async def test_the_sites_are_compact_rows_with_their_terms(
    console: Console, tmp_path: Path
) -> None:
    import_sites(
        console.node,
        tmp_path,
        ["33.123456789,34.5,Vasilikos refinery,refinery", "35.5,33.9,Beirut hospital,hospital"],
        agreement="Energy moratorium",
        valid_until="2026-03-18T00:00:00Z",
    )
    import_sites(console.node, tmp_path / "more", ["36.2,36.6,Water plant,water_supply"])
    await console.sign_in()

    document = await fetch(console, SITES)

    categories = document["categories"]
    assert {"refinery", "hospital", "water_supply", "other"} <= set(categories)
    assert document["terms"] == [
        {
            "party": "us-eucom",
            "agreement": "Energy moratorium",
            "start": None,
            "end": "2026-03-18T00:00:00.000Z",
        },
        {"party": "us-eucom", "agreement": "", "start": None, "end": None},
    ]
    assert document["sites"] == [
        [33.12346, 34.5, categories.index("refinery"), 0, "Vasilikos refinery"],
        [35.5, 33.9, categories.index("hospital"), 0, "Beirut hospital"],
        [36.2, 36.6, categories.index("water_supply"), 1, "Water plant"],
    ]


async def test_only_this_nodes_sites_are_on_its_map(console: Console, tmp_path: Path) -> None:
    import_sites(console.peer, tmp_path, ["37.6,55.7,Their site,dam"])
    import_sites(console.node, tmp_path / "ours", ["33.0,34.6,Our site,dam"])
    await console.sign_in()

    document = await fetch(console, SITES)

    assert [row[4] for row in document["sites"]] == ["Our site"]


async def test_sites_imported_after_a_fetch_are_in_the_next(
    console: Console, tmp_path: Path
) -> None:
    import_sites(console.node, tmp_path, ["33.0,34.6,First,dam"])
    await console.sign_in()
    assert len((await fetch(console, SITES))["sites"]) == 1

    import_sites(console.node, tmp_path / "later", ["35.0,34.0,Second,school"])

    assert [row[4] for row in (await fetch(console, SITES))["sites"]] == ["First", "Second"]


async def test_many_sites_come_compressed_when_the_browser_takes_it(
    console: Console, tmp_path: Path
) -> None:
    rows = [f"{i % 360 - 180 + 0.5},{i % 170 - 85 + 0.5},Site {i},hospital" for i in range(2000)]
    import_sites(console.node, tmp_path, rows)
    await console.sign_in()

    response = await console.client.get(SITES, headers={"Accept-Encoding": "gzip"})
    raw = await console.client.get(SITES, headers={"Accept-Encoding": "identity"})

    assert response.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in raw.headers
    assert len(response.json()["sites"]) == 2000  # httpx undoes the gzip
    assert int(response.headers["content-length"]) < len(raw.content) / 3


async def test_the_map_is_behind_the_console_headers(console: Console) -> None:
    await console.sign_in()

    for path in ("/console/map", SITUATION, SITES, "/console/static/map.js"):
        response: httpx.Response = await console.client.get(path)
        assert "script-src 'self'" in response.headers["content-security-policy"], path
        assert response.headers["x-content-type-options"] == "nosniff", path
