"""Deconfliction between in-process nodes: alerts on both sides, once per pair, withdrawn
when an item is cancelled or amended away, and the same after a restart."""

from __future__ import annotations

import asyncio
import contextlib
import tomllib
from datetime import timedelta
from pathlib import Path

import anyio
import pytest
import tomli_w

from parley.clock import format_ts
from parley.errors import Conflict, Forbidden, InvalidInput
from parley.services import (
    MORATORIUM_CATEGORIES,
    AlertRecord,
    DeconflictionAlert,
    Node,
    Role,
)
from tests.cli.test_cli import invoke
from tests.conftest import START, as_role
from tests.services.test_replication import open_hotline, settle, trio  # noqa: F401

pytestmark = pytest.mark.anyio


@pytest.fixture
def nodes(trio):  # noqa: F811 - the fixture imported above
    """us-eucom, ru-genstaff and ae-mediator, replicating in-process."""
    return trio


EAST_MED = {"type": "NamedArea", "name": "eastern_mediterranean"}
INSIDE = {  # a box south of Cyprus, inside the eastern Mediterranean area
    "type": "Polygon",
    "coordinates": [[[32.0, 33.0], [33.5, 33.0], [33.5, 34.2], [32.0, 34.2], [32.0, 33.0]]],
}
BLACK_SEA_POINT = {"type": "Point", "coordinates": [34.0, 43.0], "radius_km": 50}


def window(start_h: float, end_h: float) -> dict[str, str]:
    return {
        "start": format_ts(START + timedelta(hours=start_h)),
        "end": format_ts(START + timedelta(hours=end_h)),
    }


def exercise(area=EAST_MED, start_h=24, end_h=120) -> dict:
    return {
        "activity": "naval_exercise",
        "description": "Naval exercise",
        "area": area,
        "window": window(start_h, end_h),
    }


def presence(area=INSIDE, start_h=1, end_h=240) -> dict:
    return {"units": [{"kind": "ship", "count": 3}], "area": area, "window": window(start_h, end_h)}


async def notify(node: Node, channel: str, form: str, data: dict, **extra) -> str:
    sent = await node.notifications.send(
        as_role(node, Role.OPERATOR, "duty1"), channel, form, data, "immediate", **extra
    )
    return sent.event.id


async def converge(nodes: dict[str, Node], rounds: int = 2) -> None:
    """Replicate, and let every node take in what it stored, until nothing moves."""
    for _ in range(rounds):
        await settle(nodes, rounds=1)
        for node in nodes.values():
            await node.deconfliction.flush()
    await settle(nodes, rounds=1)


async def alerted(nodes: dict[str, Node], channel: str) -> tuple[str, str]:
    """ru-genstaff's exercise, then us-eucom's presence inside it: us-eucom's alert."""
    activity = await notify(nodes["ru-genstaff"], channel, "military_activity/1", exercise())
    await converge(nodes)
    declared = await notify(nodes["us-eucom"], channel, "declared_presence/1", presence())
    assert await nodes["us-eucom"].deconfliction.flush() == 1
    await converge(nodes)
    return activity, declared


def pairs(node: Node, *, include_withdrawn: bool = False) -> list[DeconflictionAlert]:
    return node.deconfliction.alerts(
        as_role(node, Role.OPERATOR), include_withdrawn=include_withdrawn
    )


def events_of(node: Node, channel: str, kind: str) -> list:
    return [s.event for s in node.store.list_events(channel, limit=1000) if s.event.type == kind]


async def test_exercise_notice_raises_one_alert_on_both_nodes_against_a_declared_presence(nodes):
    us, ru = nodes["us-eucom"], nodes["ru-genstaff"]
    channel = await open_hotline(nodes)
    activity, declared = await alerted(nodes, channel)

    for node in (us, ru):
        [alert] = pairs(node)
        assert {alert.a["key"], alert.b["key"]} == {activity, declared}
        assert alert.severity == "high"
        assert alert.area_km2 == pytest.approx(1.5 * 1.2 * 111.2 * 92.7, rel=0.05)
        assert alert.window == window(24, 120)
        [row] = [a for a in node.store.list_alerts() if a.kind == "deconfliction"]
        assert (row.severity, row.resolved_ms) == ("high", None)
    assert len(events_of(us, channel, "deconfliction_alert")) == 1


async def test_the_running_duty_takes_in_a_notice_as_soon_as_it_is_stored(nodes):
    us, ru = nodes["us-eucom"], nodes["ru-genstaff"]
    channel = await open_hotline(nodes)
    await notify(ru, channel, "military_activity/1", exercise())
    await converge(nodes)
    running = asyncio.create_task(us.deconfliction.run())
    try:
        await notify(us, channel, "declared_presence/1", presence())
        with anyio.fail_after(2):  # well before the next poll (deconfliction_site_poll_s)
            while not pairs(us):
                await asyncio.sleep(0.01)
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    stats = us.deconfliction.duty.stats()
    assert (stats.name, stats.failures) == ("deconfliction", 0)


async def test_both_nodes_detecting_at_once_still_list_one_alert_per_pair(nodes):
    us, ru = nodes["us-eucom"], nodes["ru-genstaff"]
    channel = await open_hotline(nodes)
    await notify(ru, channel, "military_activity/1", exercise())
    await notify(us, channel, "declared_presence/1", presence())
    await settle(nodes)  # both hold both items before either checks

    await us.deconfliction.flush()
    await ru.deconfliction.flush()
    await converge(nodes)

    assert len(events_of(us, channel, "deconfliction_alert")) == 2  # one each, sent at once
    for node in (us, ru):
        assert len(pairs(node)) == 1
        assert len([a for a in node.store.list_alerts() if a.kind == "deconfliction"]) == 1


async def test_a_mediator_on_the_channel_shows_the_alert_but_never_sends_one(nodes):
    us, ru, ae = nodes["us-eucom"], nodes["ru-genstaff"], nodes["ae-mediator"]
    channel = await open_hotline(nodes, roles={"ru-genstaff": "party", "ae-mediator": "mediator"})
    await notify(ru, channel, "military_activity/1", exercise())
    await notify(us, channel, "declared_presence/1", presence())
    await converge(nodes)

    [alert] = pairs(ae)
    assert alert.raised_by in ("us-eucom", "ru-genstaff")
    assert all(e.author != "ae-mediator" for e in events_of(ae, channel, "deconfliction_alert"))
    assert ae.deconfliction.indexed() == 2


async def test_cancelling_the_notice_withdraws_the_alert_on_both_nodes(nodes):
    us, ru = nodes["us-eucom"], nodes["ru-genstaff"]
    channel = await open_hotline(nodes)
    activity, _ = await alerted(nodes, channel)

    await ru.notifications.cancel(as_role(ru, Role.OPERATOR), channel, activity, "called off")
    await converge(nodes)

    for node in (us, ru):
        assert pairs(node) == []
        [withdrawn] = pairs(node, include_withdrawn=True)
        assert withdrawn.withdrawn_event is not None
        assert all(a.resolved_ms is not None for a in node.store.list_alerts())
        assert node.deconfliction.knows(activity) is None
    [event] = events_of(us, channel, "deconfliction_withdrawn")
    assert event.body["reason"] == "cancelled: called off"


async def test_an_amendment_moving_the_area_away_withdraws_the_alert_and_raises_none(nodes):
    us, ru = nodes["us-eucom"], nodes["ru-genstaff"]
    channel = await open_hotline(nodes)
    activity, _ = await alerted(nodes, channel)

    amended = await notify(
        ru, channel, "military_activity/1", exercise(area=BLACK_SEA_POINT), supersedes=activity
    )
    await converge(nodes)

    for node in (us, ru):
        assert pairs(node) == []
        assert node.deconfliction.knows(amended) is not None
        assert node.deconfliction.knows(activity) is None
    [event] = events_of(ru, channel, "deconfliction_withdrawn")
    assert event.body["reason"] == f"amended by {amended}"


async def test_an_amendment_still_overlapping_replaces_the_alert(nodes):
    us, ru = nodes["us-eucom"], nodes["ru-genstaff"]
    channel = await open_hotline(nodes)
    activity, declared = await alerted(nodes, channel)

    amended = await notify(
        ru, channel, "military_activity/1", exercise(end_h=48), supersedes=activity
    )
    await converge(nodes)

    for node in (us, ru):
        [alert] = pairs(node)
        assert {alert.a["key"], alert.b["key"]} == {amended, declared}
        assert alert.window == window(24, 48)


async def test_only_the_author_may_cancel_or_amend_a_notification(nodes):
    us, ru = nodes["us-eucom"], nodes["ru-genstaff"]
    channel = await open_hotline(nodes)
    activity = await notify(ru, channel, "military_activity/1", exercise())
    await converge(nodes)

    with pytest.raises(Forbidden):
        await us.notifications.cancel(as_role(us, Role.OPERATOR), channel, activity, "no")
    with pytest.raises(Forbidden):
        await notify(us, channel, "declared_presence/1", presence(), supersedes=activity)


async def test_a_cancellation_by_another_party_is_refused_and_changes_nothing(nodes):
    us, ru = nodes["us-eucom"], nodes["ru-genstaff"]
    channel = await open_hotline(nodes)
    activity, _ = await alerted(nodes, channel)

    record = us.channels.writable(channel)  # past the API's check: the rule book refuses it
    body = {"event": activity, "reason": "x", "by": "duty1"}
    with pytest.raises(Forbidden, match="its author"):
        await us.channels.append(record, "cancellation", body)
    await converge(nodes)

    assert events_of(us, channel, "cancellation") == []

    for node in (us, ru):
        assert node.deconfliction.knows(activity) is not None
        assert len(pairs(node)) == 1


async def test_no_alert_for_a_partys_own_items(nodes):
    us = nodes["us-eucom"]
    channel = await open_hotline(nodes)
    await notify(us, channel, "military_activity/1", exercise())
    await notify(us, channel, "declared_presence/1", presence())
    await converge(nodes)

    assert all(pairs(node) == [] for node in nodes.values())


async def test_windows_are_half_open_so_touching_windows_do_not_meet(nodes):
    us, ru = nodes["us-eucom"], nodes["ru-genstaff"]
    channel = await open_hotline(nodes)
    await notify(ru, channel, "military_activity/1", exercise(start_h=24, end_h=120))
    before = await notify(us, channel, "declared_presence/1", presence(start_h=1, end_h=24))
    after = await notify(us, channel, "declared_presence/1", presence(start_h=120, end_h=200))
    overlapping = await notify(us, channel, "declared_presence/1", presence(start_h=1, end_h=25))
    await converge(nodes)

    [alert] = pairs(us)
    assert overlapping in (alert.a["key"], alert.b["key"])
    assert alert.window == window(24, 25)
    assert {before, after}.isdisjoint({alert.a["key"], alert.b["key"]})


async def test_a_launch_alerts_for_its_impact_area_only(nodes):
    us, ru = nodes["us-eucom"], nodes["ru-genstaff"]
    channel = await open_hotline(nodes)
    launch = {
        "missile_type": "test",
        "launch_area": {"type": "Point", "coordinates": [45.8, 48.6], "radius_km": 15},
        "impact_area": {"type": "Point", "coordinates": [32.7, 33.6], "radius_km": 20},
        "window": window(30, 33),
    }
    sent = await notify(ru, channel, "missile_launch/1", launch)
    await notify(us, channel, "declared_presence/1", presence())
    await converge(nodes)

    [alert] = pairs(us)
    keys = {alert.a["key"], alert.b["key"]}
    assert f"{sent}#impact_area" in keys
    side = alert.a if alert.a["kind"] == "launch" else alert.b
    assert side["event"] == sent


async def test_after_a_restart_the_index_is_the_same_and_no_alert_is_sent_twice(
    nodes, tmp_path: Path, clock
):
    us, ru = nodes["us-eucom"], nodes["ru-genstaff"]
    channel = await open_hotline(nodes)
    await notify(ru, channel, "military_activity/1", exercise())
    await notify(us, channel, "declared_presence/1", presence())
    await converge(nodes)
    size, events = us.deconfliction.indexed(), us.store.count_events(channel)

    us.close()
    again = Node.open(tmp_path / "us-eucom", clock=clock)
    try:
        assert await again.deconfliction.flush() == 0
        assert again.deconfliction.indexed() == size
        assert again.store.count_events(channel) == events
        assert len(pairs(again)) == 1
    finally:
        again.close()


async def test_an_alert_not_sent_before_the_node_stopped_is_sent_at_its_next_start(
    nodes, tmp_path: Path, clock
):
    us, ru = nodes["us-eucom"], nodes["ru-genstaff"]
    channel = await open_hotline(nodes)
    await notify(ru, channel, "military_activity/1", exercise())
    await settle(nodes)
    await notify(us, channel, "declared_presence/1", presence())  # us stops before checking

    us.close()
    again = Node.open(tmp_path / "us-eucom", clock=clock)
    try:
        assert await again.deconfliction.flush() == 1
        assert len(pairs(again)) == 1
    finally:
        again.close()


async def test_a_notice_over_many_protected_sites_sends_capped_alerts_and_one_summary(
    nodes, tmp_path: Path
):
    us, ru = nodes["us-eucom"], nodes["ru-genstaff"]
    channel = await open_hotline(nodes)
    sites = tmp_path / "grid.csv"
    rows = [
        f"{32 + i % 10 * 0.2},{33 + i // 10 * 0.2},Site {i},{MORATORIUM_CATEGORIES[i % 6]}"
        for i in range(60)
    ]
    sites.write_text("lon,lat,name,category\n" + "\n".join(rows) + "\n", "utf-8")
    us.sites.import_file(as_role(us, Role.ADMIN), sites, agreement="energy moratorium")
    await notify(ru, channel, "military_activity/1", exercise())
    await converge(nodes)

    alerts = pairs(ru)
    summaries = [a for a in alerts if a.summary]
    assert len(alerts) == 51
    assert len(summaries) == 1
    assert summaries[0].summary == {
        "total": 60,
        "alerted": 50,
        "by_category": {
            "dam": 10,
            "nuclear_plant": 10,
            "pipeline": 10,
            "power_plant": 10,
            "refinery": 10,
            "substation": 10,
        },
    }
    site = next(a for a in alerts if not a.summary)
    side = site.a if site.a["kind"] == "protected_site" else site.b
    assert site.severity == "critical"
    assert side["site"]["agreement"] == "energy moratorium"
    assert side["party"] == "us-eucom"
    assert len(side["site"]["coordinates"]) == 2


async def test_sites_are_indexed_for_the_term_of_their_agreement(nodes, tmp_path: Path):
    us, ru = nodes["us-eucom"], nodes["ru-genstaff"]
    channel = await open_hotline(nodes)
    sites = tmp_path / "one.csv"
    sites.write_text("lon,lat,name,category\n32.5,33.5,Plant,power_plant\n", "utf-8")
    us.sites.import_file(
        as_role(us, Role.ADMIN), sites, valid_until=format_ts(START + timedelta(hours=24))
    )
    await notify(ru, channel, "military_activity/1", exercise(start_h=24))
    await converge(nodes)

    assert pairs(us) == []


async def test_the_check_refuses_a_bad_area_naming_the_field(make_node):
    node = make_node("us-eucom")
    with pytest.raises(InvalidInput) as caught:
        await node.deconfliction.check(
            as_role(node, Role.OPERATOR),
            {"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]},
            window(1, 2),
        )
    assert caught.value.errors[0].field == "area.coordinates.0"


async def test_a_notice_cancelled_before_it_was_checked_raises_nothing(nodes):
    us, ru = nodes["us-eucom"], nodes["ru-genstaff"]
    channel = await open_hotline(nodes)
    await converge(nodes)  # the indexes are loaded: what follows arrives in one batch
    await notify(us, channel, "declared_presence/1", presence())
    activity = await notify(ru, channel, "military_activity/1", exercise())
    await ru.notifications.cancel(as_role(ru, Role.OPERATOR), channel, activity, "called off")
    await converge(nodes)

    assert all(pairs(node, include_withdrawn=True) == [] for node in nodes.values())
    assert ru.deconfliction.knows(activity) is None


def write_sites(path: Path, rows: list[tuple[float, float, str, str]]) -> Path:
    lines = [f"{lon},{lat},{name},{category}" for lon, lat, name, category in rows]
    path.write_text("lon,lat,name,category\n" + "\n".join(lines) + "\n", "utf-8")
    return path


def grid(n: int) -> list[tuple[float, float, str, str]]:
    """``n`` sites 0.2° apart south of Cyprus, inside the exercise area."""
    return [
        (32 + i % 10 * 0.2, 33 + i // 10 * 0.2, f"Site {i}", MORATORIUM_CATEGORIES[i % 6])
        for i in range(n)
    ]


def import_while_running(data: Path, sites: Path) -> None:
    """``parley sites import`` from another process: it writes to the running node's store."""
    code, out, err = invoke("sites", "import", str(sites), "--data", str(data))
    assert code == 0, err
    assert "within deconfliction_site_poll_s seconds" in " ".join(out.split())


async def test_sites_imported_while_the_node_runs_alert_at_its_next_poll(nodes, tmp_path: Path):
    us, ru = nodes["us-eucom"], nodes["ru-genstaff"]
    channel = await open_hotline(nodes)
    activity = await notify(ru, channel, "military_activity/1", exercise())
    await notify(ru, channel, "military_activity/1", exercise(area=BLACK_SEA_POINT))
    await converge(nodes)
    indexed = us.deconfliction.indexed()

    import_while_running(
        tmp_path / "us-eucom",
        write_sites(tmp_path / "plant.csv", [(32.5, 33.5, "Power plant", "power_plant")]),
    )
    assert await us.deconfliction.flush() == 1  # one poll
    await converge(nodes)

    assert us.deconfliction.indexed() == indexed + 1
    for node in (us, ru):
        [alert] = pairs(node)
        site = alert.a if alert.a["kind"] == "protected_site" else alert.b
        assert activity in (alert.a["key"], alert.b["key"])
        assert (site["site"]["name"], alert.severity) == ("Power plant", "critical")
    assert await us.deconfliction.flush() == 0  # once per pair
    assert us.deconfliction.indexed() == indexed + 1


async def test_a_large_import_while_running_is_taken_in_at_once_with_capped_alerts(
    nodes, tmp_path: Path, clock
):
    ru = nodes["ru-genstaff"]
    channel = await open_hotline(nodes)
    await notify(ru, channel, "military_activity/1", exercise())
    await converge(nodes)
    data = tmp_path / "us-eucom"
    nodes["us-eucom"].close()
    config = tomllib.loads((data / "parley.toml").read_text("utf-8"))
    config["settings"]["deconfliction_rebuild_threshold"] = 10  # 60 sites: one bulk load
    (data / "parley.toml").write_text(tomli_w.dumps(config), "utf-8")
    us = Node.open(data, clock=clock)
    try:
        await us.deconfliction.flush()
        import_while_running(data, write_sites(tmp_path / "grid.csv", grid(60)))
        assert await us.deconfliction.flush() == 51
        assert us.deconfliction.indexed() == 61
        alerts = pairs(us)
        [summary] = [a for a in alerts if a.summary]
        assert (len(alerts), summary.summary["total"]) == (51, 60)
    finally:
        us.close()


def alerts_in(stream) -> list[AlertRecord]:
    """The alert messages a live stream (SSE) has been given so far."""
    found = []
    while not stream.empty():
        item = stream.get_nowait()
        if item is not None and item.kind == "alert":
            found.append(item.payload)
    return found


async def test_an_alert_and_its_withdrawal_reach_the_live_stream_of_both_nodes(nodes):
    us, ru = nodes["us-eucom"], nodes["ru-genstaff"]
    channel = await open_hotline(nodes)
    with us.bus.subscribe() as us_stream, ru.bus.subscribe() as ru_stream:
        activity, _ = await alerted(nodes, channel)
        raised = {
            party: alerts_in(stream) for party, stream in (("us", us_stream), ("ru", ru_stream))
        }
        await ru.notifications.cancel(as_role(ru, Role.OPERATOR), channel, activity, "off")
        await converge(nodes)
        resolved = {
            party: alerts_in(stream) for party, stream in (("us", us_stream), ("ru", ru_stream))
        }

    [event] = events_of(us, channel, "deconfliction_alert")
    for party in ("us", "ru"):
        [alert] = raised[party]
        assert (alert.kind, alert.severity) == ("deconfliction", "high")
        assert (alert.event_id, alert.resolved_ms) == (event.id, None)
        [again] = resolved[party]
        assert again.id == alert.id
        assert again.resolved_ms is not None


async def test_a_notice_is_cancelled_once_and_a_second_cancellation_names_the_first(nodes):
    ru = nodes["ru-genstaff"]
    channel = await open_hotline(nodes)
    activity = await notify(ru, channel, "military_activity/1", exercise())
    operator = as_role(ru, Role.OPERATOR)
    first = await ru.notifications.cancel(operator, channel, activity, "called off")
    stored = ru.store.count_events(channel)

    with pytest.raises(Conflict) as caught:
        await ru.notifications.cancel(operator, channel, activity, "again")

    assert first.event.id in caught.value.detail
    assert ru.store.count_events(channel) == stored
