"""The live stream over a real HTTP server on loopback (SSE needs a streaming transport)."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
from httpx_sse import connect_sse

from parley.api import _stream as stream_module
from parley.services import Role
from tests.conftest import PASSWORD, as_role, pin_all


def login(client: httpx.Client, username: str) -> dict[str, str]:
    token = client.post(
        "/api/v1/auth/token", json={"username": username, "password": PASSWORD}
    ).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def next_data(events, kind: str) -> dict:
    for sse in events:
        if sse.event == kind:
            return json.loads(sse.data)
    raise AssertionError(f"stream ended before a {kind!r} message")


def test_posted_message_reaches_the_stream(served):
    _node, url = served
    with httpx.Client(base_url=url, timeout=10) as client:
        headers = login(client, "duty1")
        channel_id = open_channel(client)
        with connect_sse(client, "GET", "/api/v1/stream", headers=headers) as source:
            events = source.iter_sse()
            assert next_data(events, "ready") == {"after": None}
            posted = client.post(
                f"/api/v1/channels/{channel_id}/messages",
                headers=headers,
                json={"precedence": "flash", "text": "خط ساخن", "lang": "ar"},
            )
            assert posted.status_code == 201
            received = next_data(events, "event")
    assert received["id"] == posted.json()["id"]
    assert received["event"]["body"]["text"] == "خط ساخن"


def test_reconnecting_with_last_event_id_replays_what_was_missed(served):
    _node, url = served
    with httpx.Client(base_url=url, timeout=10) as client:
        channel_id = open_channel(client)
        headers = login(client, "duty1")
        ids = [
            client.post(
                f"/api/v1/channels/{channel_id}/messages",
                headers=headers,
                json={"precedence": "routine", "text": f"m{n}", "lang": "en"},
            ).json()
            for n in range(3)
        ]
        with connect_sse(
            client,
            "GET",
            "/api/v1/stream",
            headers={**headers, "Last-Event-ID": str(ids[0]["pos"])},
        ) as source:
            events = source.iter_sse()
            replayed = [next_data(events, "event")["id"] for _ in range(2)]
    assert replayed == [ids[1]["id"], ids[2]["id"]]


def test_supervisor_stream_carries_the_overdue_alert(served, clock):
    _node, url = served
    with httpx.Client(base_url=url, timeout=10) as client:
        channel_id = open_channel(client)
        duty, watch = login(client, "duty1"), login(client, "watch1")
        posted = client.post(
            f"/api/v1/channels/{channel_id}/messages",
            headers=duty,
            json={"precedence": "flash", "text": "x", "lang": "en"},
        ).json()
        with connect_sse(client, "GET", "/api/v1/stream", headers=watch) as source:
            events = source.iter_sse()
            next_data(events, "ready")
            clock.advance(timedelta(minutes=10))
            alert = next_data(events, "alert")
    assert alert["event_id"] == posted["id"]
    assert alert["severity"] == "critical"


@pytest.mark.anyio
async def test_replay_reads_a_page_at_a_time_and_joins_live_events_without_gap_or_twice(
    make_node, monkeypatch
):
    node, peer = make_node("us-eucom"), make_node("ru-genstaff")
    await pin_all(node, peer)
    opened = await node.channels.create(as_role(node, Role.ADMIN), "hotline", {peer.party: "party"})
    await peer.ingest.receive([opened.event])
    accepted = await peer.channels.accept(as_role(peer, Role.ADMIN), opened.event.channel)
    await node.ingest.receive([accepted.event])
    duty = as_role(node, Role.OPERATOR)

    async def post(text: str) -> int:
        sent, _ = await node.channels.post_message(
            duty, opened.event.channel, precedence="routine", text=text, lang="en"
        )
        return sent.pos

    stored = [await post(f"m{n}") for n in range(12)]
    monkeypatch.setattr(stream_module, "_REPLAY_PAGE", 5)
    pages: list[int] = []
    events_after = node.channels.events_after
    monkeypatch.setattr(
        node.channels,
        "events_after",
        lambda principal, after, limit: (
            pages.append(after) or events_after(principal, after, limit)
        ),
    )
    messages = stream_module._messages(node, duty, stored[0])

    first = await anext(messages)
    assert pages == [stored[0]]  # the first event is out before the second page is read
    during = await post("stored while the stream replays")
    replayed = [first]
    while replayed[-1]["event"] != "ready":
        replayed.append(await anext(messages))
    after = await post("stored once the stream is live")
    live = await anext(messages)
    await messages.aclose()

    sent = [int(m["id"]) for m in [*replayed, live] if m["event"] == "event"]
    assert sent == [*stored[1:], during, after]
    assert len(pages) == 3


def test_stream_refuses_a_malformed_last_event_id(served):
    _node, url = served
    with httpx.Client(base_url=url, timeout=10) as client:
        headers = {**login(client, "duty1"), "Last-Event-ID": "yesterday"}
        response = client.get("/api/v1/stream", headers=headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "Last-Event-ID"


def open_channel(client: httpx.Client) -> str:
    created = client.post(
        "/api/v1/channels",
        headers=login(client, "admin"),
        json={"name": "hotline", "members": {"ru-genstaff": "party"}},
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])
