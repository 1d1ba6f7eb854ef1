"""The live stream over a real HTTP server on loopback (SSE needs a streaming transport)."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
from httpx_sse import connect_sse

from tests.conftest import PASSWORD


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
