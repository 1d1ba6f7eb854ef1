"""The deconfliction API: what an area would meet (sending nothing), the alerts per pair,
and cancelling or amending a notification."""

from __future__ import annotations

import pytest

from parley.services import Role
from tests.api.conftest import assert_problem
from tests.conftest import as_role
from tests.services.test_notify import EXERCISE

pytestmark = pytest.mark.anyio

INSIDE = {
    "type": "Polygon",
    "coordinates": [[[32.0, 33.0], [33.5, 33.0], [33.5, 34.2], [32.0, 34.2], [32.0, 33.0]]],
}
WINDOW = {"start": "2026-02-07T00:00:00Z", "end": "2026-02-08T00:00:00Z"}
PRESENCE = {"units": [{"kind": "ship", "count": 2}], "area": INSIDE, "window": WINDOW}


async def peer_exercise(api) -> str:
    """ru-genstaff notifies its exercise; the node under test stores and indexes it."""
    sent = await api.peer.notifications.send(
        as_role(api.peer, Role.OPERATOR, "duty1"), api.channel, "military_activity/1", EXERCISE
    )
    await api.node.ingest.receive(api.peer.store.chain(api.channel, api.peer.party))
    await api.node.deconfliction.flush()
    return sent.event.id


async def check(api, **body):
    return await api.client.post(
        "/api/v1/deconfliction/check",
        headers=api.auth("duty1"),
        json={"area": INSIDE, "window": WINDOW, **body},
    )


async def test_check_answers_what_an_area_meets_and_sends_nothing(api):
    exercise = await peer_exercise(api)
    before = api.node.store.count_events()

    response = await check(api, kind="presence")

    assert response.status_code == 200, response.text
    [found] = response.json()["items"]
    assert found["item"] == {
        "key": exercise,
        "event": exercise,
        "party": "ru-genstaff",
        "kind": "activity",
    }
    assert found["severity"] == "high"
    assert found["area_km2"] == pytest.approx(1.5 * 1.2 * 111.2 * 92.7, rel=0.05)
    assert found["window"] == {
        "start": "2026-02-07T00:00:00.000Z",
        "end": "2026-02-08T00:00:00.000Z",
    }
    assert api.node.store.count_events() == before
    assert (await check(api)).json()["items"][0]["severity"] == "medium"  # as an activity


async def test_check_finds_a_site_near_a_point_with_a_margin(api, tmp_path):
    sites = tmp_path / "sites.csv"
    sites.write_text("lon,lat,name,category\n33.0,34.0,Power station,power_plant\n", "utf-8")
    api.node.sites.import_file(as_role(api.node, Role.ADMIN), sites, agreement="moratorium")
    point = {"type": "Point", "coordinates": [33.1, 34.0]}

    far = (await check(api, area=point)).json()
    near = (await check(api, area=point, margin_km=15)).json()

    assert far["count"] == 0
    [found] = near["items"]
    assert found["item"]["site"]["name"] == "Power station"
    assert found["distance_km"] == pytest.approx(9.2, abs=0.3)
    assert found["severity"] == "low"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"area": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]}},
            "area.coordinates.0",
        ),
        ({"area": {"type": "NamedArea", "name": "atlantis"}}, "area.name"),
        ({"area": {"type": "Point", "coordinates": [10, 95]}}, "area.coordinates.1"),
        ({"area": {"type": "Circle"}}, "area.type"),
        (
            {"window": {"start": "2026-02-08T00:00:00Z", "end": "2026-02-07T00:00:00Z"}},
            "window.end",
        ),
        ({"window": {"start": "tomorrow", "end": "2026-02-07T00:00:00Z"}}, "window.start"),
        ({"margin_km": -1}, "margin_km"),
        ({"kind": "submarine"}, "kind"),
    ],
)
async def test_check_refuses_bad_input_naming_the_field(api, body, field):
    response = await check(api, **body)
    problem = assert_problem(response, 422)
    assert problem["errors"][0]["field"] == field, problem


async def test_alerts_list_one_per_pair_and_a_cancel_withdraws_it(api):
    await peer_exercise(api)
    sent = await api.client.post(
        f"/api/v1/channels/{api.channel}/notifications",
        headers=api.auth("duty1"),
        json={"form": "declared_presence/1", "data": PRESENCE},
    )
    assert sent.status_code == 201, sent.text
    await api.node.deconfliction.flush()
    listed = await api.client.get("/api/v1/deconfliction/alerts", headers=api.auth("duty1"))
    [alert] = listed.json()
    assert (alert["severity"], alert["raised_by"]) == ("high", "us-eucom")
    assert [
        a["kind"]
        for a in (await api.client.get("/api/v1/alerts", headers=api.auth("watch1"))).json()
    ] == ["deconfliction"]

    cancelled = await api.client.post(
        f"/api/v1/channels/{api.channel}/notifications/{sent.json()['id']}/cancel",
        headers=api.auth("duty1"),
        json={"reason": "ships left the area"},
    )
    assert cancelled.status_code == 201, cancelled.text
    assert cancelled.json()["event"]["type"] == "cancellation"
    await api.node.deconfliction.flush()

    active = await api.client.get("/api/v1/deconfliction/alerts", headers=api.auth("duty1"))
    every = await api.client.get(
        "/api/v1/deconfliction/alerts", params={"all": "true"}, headers=api.auth("duty1")
    )
    assert active.json() == []
    [withdrawn] = every.json()
    assert withdrawn["withdrawn_event"] is not None


async def test_an_amendment_names_what_it_supersedes(api):
    url = f"/api/v1/channels/{api.channel}/notifications"
    first = await api.client.post(
        url, headers=api.auth("duty1"), json={"form": "declared_presence/1", "data": PRESENCE}
    )
    second = await api.client.post(
        url,
        headers=api.auth("duty1"),
        json={"form": "declared_presence/1", "data": PRESENCE, "supersedes": first.json()["id"]},
    )
    assert second.status_code == 201, second.text
    assert second.json()["event"]["body"]["supersedes"] == first.json()["id"]


async def test_only_the_author_cancels_and_an_unknown_notice_is_404(api):
    exercise = await peer_exercise(api)
    base = f"/api/v1/channels/{api.channel}/notifications"
    theirs = await api.client.post(
        f"{base}/{exercise}/cancel", headers=api.auth("duty1"), json={"reason": "not ours"}
    )
    missing = await api.client.post(
        f"{base}/{'0' * 64}/cancel", headers=api.auth("duty1"), json={"reason": "x"}
    )
    amend = await api.client.post(
        base,
        headers=api.auth("duty1"),
        json={"form": "declared_presence/1", "data": PRESENCE, "supersedes": exercise},
    )
    assert_problem(theirs, 403)
    assert_problem(missing, 404)
    assert_problem(amend, 403)


async def test_cancelling_a_cancelled_notice_is_a_conflict_naming_the_first_cancellation(api):
    sent = await api.client.post(
        f"/api/v1/channels/{api.channel}/notifications",
        headers=api.auth("duty1"),
        json={"form": "declared_presence/1", "data": PRESENCE},
    )
    url = f"/api/v1/channels/{api.channel}/notifications/{sent.json()['id']}/cancel"
    first = await api.client.post(url, headers=api.auth("duty1"), json={"reason": "left"})
    assert first.status_code == 201, first.text
    stored = api.node.store.count_events(api.channel)

    again = await api.client.post(url, headers=api.auth("duty1"), json={"reason": "left again"})

    problem = assert_problem(again, 409)
    assert first.json()["id"] in problem["detail"]
    assert api.node.store.count_events(api.channel) == stored
