"""Replication, receipts, link tests and channel lifecycle between in-process nodes.

Each node reaches the others through its real HTTP transport and the others' real
federation API, carried by httpx's ASGI transport instead of sockets; the process tests
in tests/federation do the same over loopback with faults.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from parley.clock import to_ms
from parley.errors import Conflict, PeerUnreachable, StoreUnavailable
from parley.services import LinkStatus, Node, Role
from parley.services import _replicator as replicator_module
from tests.conftest import as_role, linked, pin_all, replicating

pytestmark = pytest.mark.anyio


@pytest.fixture
async def trio(make_node, tmp_path):
    """us-eucom, ru-genstaff and ae-mediator, each reaching the others at https://<party>."""
    nodes = {p: make_node(p) for p in ("us-eucom", "ru-genstaff", "ae-mediator")}
    async with linked(nodes, replicating) as linked_nodes:
        yield linked_nodes


async def settle(nodes: dict[str, Node], rounds: int = 3) -> None:
    """Every node syncs with every peer and sends the receipts it owes, a few times over."""
    for _ in range(rounds):
        for node in nodes.values():
            await node.receipts.flush()
            for peer in nodes:
                if peer != node.party:
                    await node.replicator.sync(peer)


async def open_hotline(nodes, members=("ru-genstaff",), roles=None) -> str:
    us = nodes["us-eucom"]
    roles = roles or dict.fromkeys(members, "party")
    opened = await us.channels.create(as_role(us, Role.ADMIN), "hotline", roles)
    channel = opened.event.channel
    await settle(nodes)
    for party in roles:
        await nodes[party].channels.accept(as_role(nodes[party], Role.ADMIN), channel)
    await settle(nodes)
    return channel


async def test_push_delivers_a_message_and_the_receipt_shows_delivery(trio, clock):
    us, ru = trio["us-eucom"], trio["ru-genstaff"]
    channel = await open_hotline(trio)
    sent, _ = await us.channels.post_message(
        as_role(us, Role.OPERATOR), channel, precedence="flash", text="x", lang="en"
    )
    pushed = await us.replicator.push("ru-genstaff")
    assert pushed == 1
    assert ru.store.get_event(sent.event.id) is not None

    clock.advance(timedelta(seconds=1))
    assert await ru.receipts.flush() == 1
    await ru.replicator.push("us-eucom")
    view = us.channels.event(as_role(us, Role.OPERATOR), channel, sent.event.id)
    assert view.status == "delivered"
    assert view.members[0].delivered_at == "2026-02-05T14:00:01.000Z"


async def test_receipts_are_not_answered_with_receipts(trio):
    us, ru = trio["us-eucom"], trio["ru-genstaff"]
    await open_hotline(trio)
    await settle(trio, rounds=5)
    assert await us.receipts.flush() == 0
    assert await ru.receipts.flush() == 0


async def test_a_failed_receipt_pass_owes_its_receipts_again(trio, monkeypatch):
    us, ru = trio["us-eucom"], trio["ru-genstaff"]
    channel = await open_hotline(trio)
    await us.channels.post_message(
        as_role(us, Role.OPERATOR), channel, precedence="flash", text="x", lang="en"
    )
    await us.replicator.push("ru-genstaff")

    async def store_down(*_: object) -> None:
        raise StoreUnavailable("the store is down")

    with monkeypatch.context() as patch:
        patch.setattr(ru.channels, "append_system", store_down)
        with pytest.raises(StoreUnavailable):
            await ru.receipts.flush()
    assert await ru.receipts.flush() == 1


async def test_journals_converge_and_each_event_is_stored_once(trio):
    us, ru = trio["us-eucom"], trio["ru-genstaff"]
    channel = await open_hotline(trio)
    for n in range(5):
        await us.channels.post_message(
            as_role(us, Role.OPERATOR), channel, precedence="routine", text=f"us {n}", lang="en"
        )
        await ru.channels.post_message(
            as_role(ru, Role.OPERATOR), channel, precedence="routine", text=f"ru {n}", lang="ru"
        )
    await settle(trio)
    ids = {
        p: [s.event.id for s in trio[p].store.list_events(channel, limit=1000)]
        for p in ("us-eucom", "ru-genstaff")
    }
    assert sorted(ids["us-eucom"]) == sorted(ids["ru-genstaff"])
    assert len(set(ids["us-eucom"])) == len(ids["us-eucom"])


async def test_anti_entropy_follows_the_heads_a_page_at_a_time(trio, monkeypatch):
    us, ru = trio["us-eucom"], trio["ru-genstaff"]
    monkeypatch.setattr(replicator_module, "_HEADS_PAGE", 2)
    for n in range(5):
        await us.channels.create(as_role(us, Role.ADMIN), f"hotline{n}", {"ru-genstaff": "party"})
    opened = [record.id for record in us.store.list_channels(ru.party)]
    asked: list[str] = []
    call = ru.transport.call

    async def recorded(peer, method, path, payload=None):
        asked.append(path)
        return await call(peer, method, path, payload)

    monkeypatch.setattr(ru.transport, "call", recorded)
    await ru.replicator.sync(us.party)

    assert [record.id for record in ru.store.list_channels(ru.party)] == opened
    assert [path for path in asked if path.startswith("/federation/v1/heads")] == [
        "/federation/v1/heads?limit=2",
        f"/federation/v1/heads?limit=2&after={opened[1]}",
        f"/federation/v1/heads?limit=2&after={opened[3]}",
    ]


class EndlessHeads:
    """A peer whose heads never end: each page names two channels nobody opened."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def call(self, peer, method, path, payload=None):
        self.asked.append(path)
        if not path.startswith("/federation/v1/heads"):
            return {"events": []}
        page = len(self.asked)
        made_up = [f"ch_madeup{page:04d}{n}" for n in range(2)]
        heads = {channel: {"ru-genstaff": 1} for channel in made_up}
        return {"heads": heads, "next_after": made_up[-1]}

    async def close(self) -> None:
        pass


async def test_a_peer_whose_heads_never_end_is_asked_a_bounded_number_of_times(make_node):
    us, ru = make_node("us-eucom", max_channels_opened_by_peer=3), make_node("ru-genstaff")
    await pin_all(us, ru)
    peer = EndlessHeads()
    us.replicator._transport = peer

    await us.replicator.sync(ru.party)

    asked_heads = [path for path in peer.asked if path.startswith("/federation/v1/heads")]
    asked_pulls = [path for path in peer.asked if path == "/federation/v1/pull"]
    # Two pages hold the three channels it may have opened; the third adds none and ends it.
    assert (len(asked_heads), len(asked_pulls)) == (3, 3)


async def test_events_reach_a_party_through_the_mediator_when_the_direct_link_is_down(trio):
    us, ru = trio["us-eucom"], trio["ru-genstaff"]
    channel = await open_hotline(trio, roles={"ru-genstaff": "party", "ae-mediator": "mediator"})
    dead = ["http://127.0.0.1:9"]  # nothing listens on the discard port
    await us.set_peer_urls(as_role(us, Role.ADMIN), "ru-genstaff", dead)
    await ru.set_peer_urls(as_role(ru, Role.ADMIN), "us-eucom", dead)
    sent, _ = await us.channels.post_message(
        as_role(us, Role.OPERATOR), channel, precedence="immediate", text="via Abu Dhabi", lang="en"
    )
    ae = trio["ae-mediator"]
    await us.replicator.sync("ae-mediator")
    await ae.replicator.sync("ru-genstaff")
    assert ru.store.get_event(sent.event.id) is not None
    await ru.receipts.flush()
    await ru.replicator.sync("ae-mediator")
    await ae.replicator.sync("us-eucom")
    view = us.channels.event(as_role(us, Role.OPERATOR), channel, sent.event.id)
    delivered = {m.party: m.delivered_at for m in view.members}
    assert delivered["ru-genstaff"] is not None


def link_to(node: Node, peer: str) -> LinkStatus:
    (link,) = [s for s in node.links.links(as_role(node, Role.AUDITOR)) if s.party == peer]
    return link


def link_alerts(node: Node) -> list[tuple[str, dict, bool]]:
    """The node's link_test_missed alerts: severity, detail and whether still open."""
    return [
        (a.severity, json.loads(a.detail), a.resolved_ms is None)
        for a in node.alerts.list_alerts(as_role(node, Role.SUPERVISOR))
        if a.kind == "link_test_missed"
    ]


async def test_link_test_measures_the_round_trip_over_the_direct_path_and_marks_the_link_up(
    trio, clock
):
    us, ru = trio["us-eucom"], trio["ru-genstaff"]
    await open_hotline(trio)
    await us.links.test_links()
    clock.advance(timedelta(milliseconds=120))
    await us.replicator.push("ru-genstaff")  # ru-genstaff's node says it holds the test
    await ru.receipts.flush()
    await ru.replicator.push("us-eucom")
    await us.links.recorded()
    link = link_to(us, "ru-genstaff")
    assert (link.direct, link.rtt_ms, link.missed_tests) == ("up", 120, 0)
    assert (link.state, link.reachable, link.via) == ("up", True, "ru-genstaff")
    assert (link.last_ok_ms, link.heard_via) == (to_ms(clock.now()), "ru-genstaff")


async def test_a_slow_round_trip_over_the_direct_path_degrades_the_link(trio, clock):
    us = trio["us-eucom"]
    await open_hotline(trio)
    await us.links.test_links()
    clock.advance(timedelta(milliseconds=us.settings.link_degraded_rtt_ms + 1))
    await us.replicator.push("ru-genstaff")
    link = link_to(us, "ru-genstaff")
    assert (link.state, link.direct, link.via) == ("degraded", "degraded", "ru-genstaff")


async def test_unanswered_link_tests_degrade_then_bring_the_link_down_with_an_alert(trio, clock):
    us = trio["us-eucom"]
    await open_hotline(trio)

    async def tick() -> None:
        clock.advance(timedelta(seconds=us.settings.link_test_interval_s))
        await us.links.test_links()

    await tick()
    await tick()
    assert us.store.get_link("ru-genstaff").direct == "degraded"
    assert link_to(us, "ru-genstaff").reachable  # heard from while the channel opened
    await tick()
    link = link_to(us, "ru-genstaff")
    assert (link.direct, link.missed_tests) == ("down", 2)
    assert (link.state, link.reachable, link.via) == ("down", False, None)
    alerts = link_alerts(us)
    assert [(severity, detail["peer"], detail["reachable"]) for severity, detail, _ in alerts] == [
        ("medium", "ru-genstaff", True),
        ("high", "ru-genstaff", False),
    ]


async def test_a_push_with_nothing_to_send_asks_nothing_and_reports_no_contact(trio, clock):
    us = trio["us-eucom"]
    await open_hotline(trio)
    answered_ms = us.store.get_link("ru-genstaff").last_ok_ms
    clock.advance(timedelta(seconds=30))
    assert await us.replicator.push("ru-genstaff") == 0
    assert us.store.get_link("ru-genstaff").last_ok_ms == answered_ms


async def relay_round(nodes: dict[str, Node], clock) -> None:
    """One link-test interval with the direct link of us-eucom and ru-genstaff down: the
    tests go out, us-eucom fails to reach ru-genstaff, and everything crosses ae-mediator."""
    us, ru, ae = nodes["us-eucom"], nodes["ru-genstaff"], nodes["ae-mediator"]
    clock.advance(timedelta(seconds=us.settings.link_test_interval_s))
    await us.links.test_links()
    with pytest.raises(PeerUnreachable):
        await us.replicator.sync("ru-genstaff")
    await us.replicator.sync("ae-mediator")
    await ae.replicator.sync("ru-genstaff")
    clock.advance(timedelta(seconds=1))
    await ru.receipts.flush()
    await ru.replicator.sync("ae-mediator")
    await ae.replicator.sync("us-eucom")
    await us.links.recorded()


async def test_with_the_direct_link_down_the_party_is_reachable_via_the_mediator_and_it_alarms(
    trio, clock
):
    us, ru = trio["us-eucom"], trio["ru-genstaff"]
    await open_hotline(trio, roles={"ru-genstaff": "party", "ae-mediator": "mediator"})
    dead = ["http://127.0.0.1:9"]  # nothing listens on the discard port
    await us.set_peer_urls(as_role(us, Role.ADMIN), "ru-genstaff", dead)
    await ru.set_peer_urls(as_role(ru, Role.ADMIN), "us-eucom", dead)

    seen = []
    for _ in range(4):
        await relay_round(trio, clock)
        link = link_to(us, "ru-genstaff")
        seen.append((link.state, link.direct, link.reachable, link.via, link.rtt_ms))
        assert link.heard_ms is not None
        assert to_ms(clock.now()) - link.heard_ms < us.settings.link_test_interval_s * 1000
    assert set(seen) == {("degraded", "down", True, "ae-mediator", None)}
    assert "ConnectError" in link.detail
    assert link.missed_tests == 3  # the first test had no test before it to miss
    alerts = link_alerts(us)
    assert [(s, d["missed"], d["reachable"], d["via"], open_) for s, d, open_ in alerts] == [
        ("medium", n, True, "ae-mediator", True) for n in (1, 2, 3)
    ]
    mediator = link_to(us, "ae-mediator")
    assert (mediator.state, mediator.direct, mediator.via) == ("up", "up", "ae-mediator")

    # The direct link is back: the next exchange carries the test pending since the last round.
    await us.set_peer_urls(as_role(us, Role.ADMIN), "ru-genstaff", ["https://ru-genstaff"])
    await us.replicator.sync("ru-genstaff")
    link = link_to(us, "ru-genstaff")
    assert (link.state, link.direct, link.rtt_ms, link.missed_tests) == ("up", "up", 1000, 0)
    assert (link.detail, link.reachable, link.via) == ("", True, "ru-genstaff")
    assert [open_ for _, _, open_ in link_alerts(us)] == [False, False, False]


async def test_suspension_reaches_every_member_and_stops_messages_until_resumed(trio):
    us, ru = trio["us-eucom"], trio["ru-genstaff"]
    channel = await open_hotline(trio)
    await us.channels.set_status(
        as_role(us, Role.ADMIN), channel, "suspended", "military channels suspended, autumn 2021"
    )
    await settle(trio)
    assert ru.store.get_channel(channel).status == "suspended"
    with pytest.raises(Conflict, match="suspended"):
        await ru.channels.post_message(
            as_role(ru, Role.OPERATOR), channel, precedence="routine", text="x", lang="ru"
        )
    await ru.channels.set_status(
        as_role(ru, Role.ADMIN), channel, "active", "dialogue restored in Abu Dhabi, 2026-02-05"
    )
    await settle(trio)
    assert us.store.get_channel(channel).status == "active"


async def test_invited_party_cannot_send_before_its_admin_accepts(trio):
    us, ru = trio["us-eucom"], trio["ru-genstaff"]
    opened = await us.channels.create(as_role(us, Role.ADMIN), "hotline", {"ru-genstaff": "party"})
    await settle(trio)
    with pytest.raises(Conflict, match="has not accepted"):
        await ru.channels.post_message(
            as_role(ru, Role.OPERATOR),
            opened.event.channel,
            precedence="routine",
            text="x",
            lang="ru",
        )
    assert us.store.get_channel(opened.event.channel).invited == frozenset({"ru-genstaff"})


async def test_lag_counts_the_events_a_peer_lacks_by_the_heads_it_told(trio):
    us = trio["us-eucom"]
    assert us.replicator.lag("ru-genstaff") is None  # it has told no heads yet
    channel = await open_hotline(trio)
    assert us.replicator.lag("ru-genstaff") == 0
    for text in ("one", "two"):
        await us.channels.post_message(
            as_role(us, Role.OPERATOR), channel, precedence="routine", text=text, lang="en"
        )
    assert us.replicator.lag("ru-genstaff") == 2
    assert us.replicator.lag("ae-mediator") == 0  # not a member of the hotline
    await us.replicator.push("ru-genstaff")
    assert us.replicator.lag("ru-genstaff") == 0
