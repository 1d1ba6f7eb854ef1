"""The maps of the console in a real browser (Debian's Chromium, driven by Playwright) against
two real nodes: the situation map on the shipped base map, with a notice, its alert and their
overlap arriving live; and an area field drawn on a map by area-input.js."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, expect

from parley.cli._cluster import LocalCluster
from parley.clock import format_ts
from parley.forms import validate_form
from tests.web.test_browser import (  # noqa: F401 - fixtures
    LIVE_TIMEOUT_MS,
    RU,
    US,
    browser,
    channel,
    cluster,
    context,
    sign_in,
)

SOUTH_OF_CYPRUS = {
    "type": "Polygon",
    "coordinates": [[[32.0, 33.0], [33.5, 33.0], [33.5, 34.2], [32.0, 34.2], [32.0, 33.0]]],
}


@pytest.fixture
def watched(context: BrowserContext) -> tuple[Page, list[str], list[str]]:  # noqa: F811
    """A page, the URLs it requests and the errors it logs (a blocked script, style or
    request is logged as an error)."""
    page = context.new_page()
    requested: list[str] = []
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("request", lambda request: requested.append(request.url))
    page.on("console", on_console)
    return page, requested, errors


def window(start: timedelta, end: timedelta) -> dict[str, str]:
    now = datetime.now(UTC)
    return {"start": format_ts(now + start), "end": format_ts(now + end)}


def notify(cluster: LocalCluster, party: str, channel: str, form: str, data: Any) -> str:  # noqa: F811
    sent = cluster.call(
        party,
        "POST",
        f"/channels/{channel}/notifications",
        json={"form": form, "precedence": "immediate", "data": data},
    )
    return str(sent["id"])


def open_map(page: Page, node_url: str) -> None:
    page.goto(f"{node_url}/console/map")
    expect(page.locator("#situation-map")).to_have_attribute("data-ready", "true")
    expect(page.locator("#live-state")).to_have_text("Live")


def test_the_map_draws_the_shipped_base_map_and_asks_no_other_host(
    cluster: LocalCluster,  # noqa: F811
    watched: tuple[Page, list[str], list[str]],
) -> None:
    page, requested, errors = watched
    sign_in(page, cluster, US)

    open_map(page, cluster.nodes[US].url)

    # The land of Natural Earth, on the base map's own canvas.
    painted = page.evaluate(
        """() => {
            const canvas = document.querySelector(".basemap-pane canvas");
            const { width, height } = canvas;
            const pixels = canvas.getContext("2d").getImageData(0, 0, width, height).data;
            let land = 0;
            for (let i = 3; i < pixels.length; i += 4 * 97) if (pixels[i] > 0) land++;
            return land;
        }"""
    )
    assert painted > 100
    assert any(url.endswith("/world-atlas/countries-50m.json") for url in requested)
    expect(page.get_by_title("Zoom in")).to_be_visible()
    origins = {urlsplit(url)._replace(path="", query="", fragment="").geturl() for url in requested}
    assert origins == {cluster.nodes[US].url}
    assert errors == []


def test_a_notice_and_its_deconfliction_alert_appear_live_with_the_overlap(
    cluster: LocalCluster,  # noqa: F811
    channel: str,  # noqa: F811
    watched: tuple[Page, list[str], list[str]],
) -> None:
    page, _, errors = watched
    sign_in(page, cluster, US)
    open_map(page, cluster.nodes[US].url)
    presences = page.locator("path.notice.kind-presence")
    before = presences.count()

    exercise = {
        "activity": "naval_exercise",
        "description": "Naval exercise south of Cyprus",
        "area": {"type": "NamedArea", "name": "eastern_mediterranean"},
        "window": window(timedelta(minutes=5), timedelta(days=2)),
    }
    notify(cluster, RU, channel, "military_activity/1", exercise)
    presence = {
        "units": [{"kind": "ship", "count": 2}],
        "area": SOUTH_OF_CYPRUS,
        "window": window(timedelta(0), timedelta(days=3)),
    }
    notify(cluster, US, channel, "declared_presence/1", presence)

    # Now the presence only; the exercise and the alert from the slider's next step on.
    expect(presences).to_have_count(before + 1, timeout=LIVE_TIMEOUT_MS)
    page.fill("#map-time", "1")
    expect(page.locator("path.notice.kind-activity").first).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    alert = page.locator(".map-alert.severity-high").filter(has_text="Declared presence")
    expect(alert.first).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    expect(alert.first).to_contain_text("Overlap:")
    expect(page.locator("path.overlap.severity-high").first).to_be_attached()
    alert.first.get_by_role("button", name="Show on the map").click()
    expect(page.locator(".leaflet-popup")).to_contain_text("High")
    assert errors == []


def test_a_polygon_drawn_beside_an_area_field_fills_it_with_a_valid_area(
    cluster: LocalCluster,  # noqa: F811
    channel: str,  # noqa: F811
    watched: tuple[Page, list[str], list[str]],
) -> None:
    page, _, errors = watched
    field, box = drawing_map(page, cluster, channel)

    page.get_by_title("Draw a polygon").click()
    left, top, width, height = bounds(box)
    corners = [(0.3, 0.3), (0.7, 0.35), (0.6, 0.7), (0.3, 0.3)]
    for x, y in corners:
        page.mouse.click(left + x * width, top + y * height)

    area = json.loads(field.input_value())
    assert area["type"] == "Polygon"
    [ring] = area["coordinates"]
    assert len(ring) == 4
    assert ring[0] == ring[-1]
    assert_valid(area)
    assert errors == []


def test_a_circle_drawn_is_a_point_with_its_radius_and_a_typed_area_is_drawn(
    cluster: LocalCluster,  # noqa: F811
    channel: str,  # noqa: F811
    watched: tuple[Page, list[str], list[str]],
) -> None:
    page, _, errors = watched
    field, box = drawing_map(page, cluster, channel)

    page.get_by_title("Draw a circle: centre, then radius").click()
    left, top, width, height = bounds(box)
    page.mouse.click(left + width / 2, top + height / 2)
    page.mouse.move(left + width / 2 + 60, top + height / 2, steps=5)
    page.mouse.click(left + width / 2 + 60, top + height / 2)

    area = json.loads(field.input_value())
    assert area["type"] == "Point"
    assert area["radius_km"] > 0
    assert_valid(area)

    field.fill(json.dumps(SOUTH_OF_CYPRUS))
    expect(box.locator("path.leaflet-interactive")).to_have_count(1)
    field.fill('{"type": "NamedArea", "name": "eastern_mediterranean"}')
    expect(page.locator(".area-hint")).to_contain_text("named area")
    assert errors == []


def drawing_map(page: Page, cluster: LocalCluster, channel: str) -> tuple[Any, Any]:  # noqa: F811
    """Signed in, the area field of the compose page of a declared presence and the map
    beside it, once the map is ready to draw on."""
    sign_in(page, cluster, US)
    page.goto(f"{cluster.nodes[US].url}/console/channels/{channel}/compose/declared_presence/1")
    box = page.locator(".area-map")
    expect(box).to_have_attribute("data-ready", "true")
    return page.locator("textarea[data-area-input]"), box


def bounds(box: Any) -> tuple[float, float, float, float]:
    found = box.bounding_box()
    assert found is not None
    return found["x"], found["y"], found["width"], found["height"]


def assert_valid(area: dict[str, Any]) -> None:
    """The node takes it as the area of a notice (parley.forms, as the API checks it)."""
    data = {
        "units": [{"kind": "ship", "count": 1}],
        "area": area,
        "window": window(timedelta(hours=1), timedelta(hours=2)),
    }
    validate_form("declared_presence/1", data, now=datetime.now(UTC))


def test_an_activity_drawn_in_compose_meets_a_presence_and_both_maps_draw_the_alert(
    cluster: LocalCluster,  # noqa: F811
    channel: str,  # noqa: F811
    watched: tuple[Page, list[str], list[str]],
    browser: Browser,  # noqa: F811
) -> None:
    page, _, errors = watched
    presence = {
        "units": [{"kind": "ship", "count": 2}],
        "area": SOUTH_OF_CYPRUS,
        "window": window(timedelta(0), timedelta(days=3)),
    }
    notify(cluster, RU, channel, "declared_presence/1", presence)
    sign_in(page, cluster, US)
    page.goto(f"{cluster.nodes[US].url}/console/channels/{channel}/compose/military_activity/1")
    box = page.locator(".area-map")
    expect(box).to_have_attribute("data-ready", "true")

    # The middle of the world view the map opens on: the eastern Mediterranean is inside.
    box.scroll_into_view_if_needed()
    page.get_by_title("Draw a polygon").click()
    left, top, width, height = bounds(box)
    for x, y in [(0.25, 0.25), (0.75, 0.25), (0.75, 0.75), (0.25, 0.75), (0.25, 0.25)]:
        page.mouse.click(left + x * width, top + y * height)
    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=10)
    page.select_option("#f-data-activity", "naval_exercise")
    page.fill("#f-data-description", "Naval exercise drawn on the map")
    page.fill("#f-data-window-start", f"{start:%Y-%m-%dT%H:%M}")
    page.fill("#f-data-window-end", f"{start + timedelta(hours=6):%Y-%m-%dT%H:%M}")
    page.click("button.send")
    expect(page).to_have_url(f"{cluster.nodes[US].url}/console/channels/{channel}")

    other_context = browser.new_context(viewport={"width": 1280, "height": 720})
    other = other_context.new_page()
    sign_in(other, cluster, RU)
    for console in (page, other):
        open_map(console, cluster.nodes[US if console is page else RU].url)
        console.fill("#map-time", "1")  # the exercise starts within the slider's first step
        alert = console.locator(".map-alert").filter(has_text="Declared presence")
        expect(alert.first).to_be_visible(timeout=LIVE_TIMEOUT_MS)
        expect(console.locator("path.overlap").first).to_be_attached()
    other_context.close()
    assert errors == []
