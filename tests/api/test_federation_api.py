"""The federation endpoints against a hostile or careless peer: each request refused, and why."""

from __future__ import annotations

import json
import logging
import secrets
from datetime import timedelta

import httpx
import pytest

from parley.api import ACCESS_LOGGER
from parley.clock import to_ms
from parley.errors import PeerUnreachable
from parley.protocol import Ed25519Signer, sign_event, sign_request
from parley.services import Node, Role
from tests.api.conftest import stored_rows
from tests.conftest import as_role, pin_all

pytestmark = pytest.mark.anyio


class Peer:
    """ru-genstaff speaking to us-eucom's federation API, with its real key or another."""

    def __init__(self, us: Node, ru: Node, client: httpx.AsyncClient) -> None:
        self.us, self.ru, self.client = us, ru, client

    async def send(
        self,
        method: str,
        path: str,
        payload=None,
        *,
        body: bytes | None = None,
        signer=None,
        sender="ru-genstaff",
        receiver="us-eucom",
        nonce=None,
        timestamp_ms=None,
        headers=None,
    ):
        raw = (
            body if body is not None else (b"" if payload is None else json.dumps(payload).encode())
        )
        signature = sign_request(
            signer or self.ru.signer,
            method=method,
            target=path,
            body=raw,
            sender=sender,
            receiver=receiver,
            timestamp_ms=timestamp_ms or to_ms(self.us.clock.now()),
            nonce=nonce or secrets.token_hex(12),
        )
        return await self.client.request(
            method,
            path,
            content=raw,
            headers={
                **signature.headers(),
                "content-type": "application/json",
                **(headers or {}),  # what a hostile peer sends in place of a signed header
            },
        )

    async def push(self, *events, **kwargs):
        return await self.send(
            "POST", "/federation/v1/events", {"events": [e.to_dict() for e in events]}, **kwargs
        )


@pytest.fixture
async def peer(make_node):
    from parley.api import create_app

    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    await pin_all(us, ru)
    app = create_app(us, run_background_tasks=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://us"
    ) as client:
        harness = Peer(us, ru, client)
        harness.app = app
        opened = await us.channels.create(
            as_role(us, Role.ADMIN), "hotline", {"ru-genstaff": "party"}
        )
        harness.channel = opened.event.channel
        await ru.ingest.receive([opened.event])
        yield harness


async def ru_event(peer: Peer, **overrides):
    """The next event of ru-genstaff's chain, signed with its key unless told otherwise."""
    chain = peer.ru.store.chain(peer.channel, "ru-genstaff")
    fields = {
        "channel": peer.channel,
        "author": "ru-genstaff",
        "seq": len(chain) + 1,
        "prev": chain[-1].id if chain else None,
        "seen": {"us-eucom": 1},
        "ts": "2026-02-05T14:00:01.000Z",
        "type": "accept",
        "body": {"by": "admin"},
    }
    fields.update(overrides)
    return sign_event(fields.pop("signer", peer.ru.signer), **fields)


def assert_refused(response: httpx.Response, status: int, code: str, text: str) -> None:
    assert response.status_code == status, response.text
    problem = response.json()
    assert problem["code"] == code
    assert text in problem["detail"]


async def test_signed_push_of_a_valid_event_is_stored(peer):
    event = await ru_event(peer)
    response = await peer.push(event)
    assert response.status_code == 200, response.text
    assert response.json()["stored"] == 1
    assert response.json()["heads"] == {peer.channel: {"us-eucom": 1, "ru-genstaff": 1}}


async def test_heads_list_only_channels_shared_with_the_peer(peer):
    response = await peer.send("GET", "/federation/v1/heads")
    assert response.json() == {"heads": {peer.channel: {"us-eucom": 1}}, "next_after": None}


async def test_the_access_line_names_the_peer_whose_node_signed_the_request(peer, caplog):
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        await peer.send("GET", "/federation/v1/heads")
        await peer.send("GET", "/federation/v1/heads", signer=Ed25519Signer.generate())
    signed, forged = [r.__dict__["context"] for r in caplog.records if r.name == ACCESS_LOGGER]
    assert (signed["peer"], signed["status"]) == ("ru-genstaff", 200)
    assert "peer" not in forged
    assert forged["status"] == 401


async def test_heads_come_a_page_at_a_time_and_only_the_pages_channels_are_read(
    peer, make_node, clock, monkeypatch
):
    mediator = make_node("ae-mediator")
    await pin_all(peer.us, mediator)
    admin = as_role(peer.us, Role.ADMIN)
    for n in range(3):
        await peer.us.channels.create(admin, f"elsewhere{n}", {"ae-mediator": "party"})
    shared = [peer.channel]
    for n in range(4):
        clock.advance(timedelta(seconds=1))  # pages follow the order channels were opened in
        opened = await peer.us.channels.create(admin, f"hotline{n}", {"ru-genstaff": "party"})
        shared.append(opened.event.channel)
    read: list[str] = []
    channel_heads = peer.us.store.channel_heads
    monkeypatch.setattr(
        peer.us.store,
        "channel_heads",
        lambda channel: read.append(channel) or channel_heads(channel),
    )

    pages, after = [], None
    while True:
        query = "?limit=2" + (f"&after={after}" if after else "")
        answer = (await peer.send("GET", "/federation/v1/heads" + query)).json()
        pages.append(list(answer["heads"]))
        after = answer["next_after"]
        if after is None:
            break

    assert pages == [shared[0:2], shared[2:4], shared[4:5]]
    assert read == shared


@pytest.mark.parametrize(
    ("query", "field"),
    [("limit=0", "limit"), ("limit=1001", "limit"), ("after=..%2F", "after")],
)
async def test_heads_page_past_the_bounds_is_refused(peer, query, field):
    response = await peer.send("GET", f"/federation/v1/heads?{query}")
    assert_refused(response, 422, "invalid-input", field)


async def test_pull_returns_what_the_peer_lacks_in_causal_order(peer):
    response = await peer.send(
        "POST", "/federation/v1/pull", {"channel": peer.channel, "heads": {}}
    )
    events = response.json()["events"]
    assert [(e["author"], e["seq"]) for e in events] == [("us-eucom", 1)]


async def test_unsigned_request_is_refused(peer):
    response = await peer.client.get("/federation/v1/heads")
    assert_refused(response, 401, "unauthenticated", "unsigned federation request")


async def test_a_refused_federation_request_is_not_asked_for_a_bearer_token(peer):
    """Federation authenticates requests by a node's signature: its 401 names that scheme."""
    unsigned = await peer.client.get("/federation/v1/heads")
    stranger = sign_request(
        Ed25519Signer.generate(),
        method="POST",
        target="/federation/v1/events",
        body=b"",
        sender="ua-nsdc",
        receiver="us-eucom",
        timestamp_ms=to_ms(peer.us.clock.now()),
        nonce=secrets.token_hex(12),
    )
    before_body = await call_with_unread_body(peer.app, "/federation/v1/events", stranger.headers())

    _, headers = before_body.status_and_headers()
    for challenge in (unsigned.headers["www-authenticate"], headers[b"www-authenticate"].decode()):
        assert challenge.startswith("Parley-Signature "), challenge
        assert "bearer" not in challenge.lower()


async def test_request_from_an_unknown_party_is_refused(peer):
    response = await peer.send(
        "GET", "/federation/v1/heads", sender="ua-nsdc", signer=Ed25519Signer.generate()
    )
    assert_refused(response, 401, "unauthenticated", "ua-nsdc is not a pinned peer")


async def test_request_signed_with_another_key_is_refused(peer):
    response = await peer.send("GET", "/federation/v1/heads", signer=Ed25519Signer.generate())
    assert_refused(response, 401, "unauthenticated", "does not verify with the pinned key")


async def test_request_with_a_changed_body_is_refused(peer):
    event = await ru_event(peer)
    signature = sign_request(
        peer.ru.signer,
        method="POST",
        target="/federation/v1/events",
        body=b"{}",
        sender="ru-genstaff",
        receiver="us-eucom",
        timestamp_ms=to_ms(peer.us.clock.now()),
        nonce="0123456789abcdef",
    )
    response = await peer.client.post(
        "/federation/v1/events", json={"events": [event.to_dict()]}, headers=signature.headers()
    )
    assert_refused(response, 401, "unauthenticated", "does not verify")
    assert peer.us.store.count_events() == 1


async def test_stale_request_is_refused(peer):
    old = to_ms(peer.us.clock.now()) - 301_000
    response = await peer.send("GET", "/federation/v1/heads", timestamp_ms=old)
    assert_refused(response, 401, "unauthenticated", "stale federation request")


async def test_replayed_request_is_refused(peer):
    first = await peer.send("GET", "/federation/v1/heads", nonce="replayed-nonce-1")
    again = await peer.send("GET", "/federation/v1/heads", nonce="replayed-nonce-1")
    assert first.status_code == 200
    assert_refused(again, 401, "unauthenticated", "replayed federation request")


class Unread:
    """What a server hands the application: a request head, and a body nobody asked for."""

    def __init__(self) -> None:
        self.receive_calls = 0
        self.sent: list[dict] = []

    async def receive(self) -> dict:
        self.receive_calls += 1
        return {"type": "http.disconnect"}

    async def send(self, message: dict) -> None:
        self.sent.append(message)

    def status_and_headers(self) -> tuple[int, dict[bytes, bytes]]:
        start = self.sent[0]
        return start["status"], dict(start["headers"])


async def call_with_unread_body(app, path: str, headers: dict[str, str]) -> Unread:
    """POST ``path`` declaring 8 MiB of body (max_federation_bytes) and sending none of it."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"content-length", str(8 * 1024 * 1024).encode()),
            (b"content-type", b"application/json"),
            *((k.encode(), v.encode()) for k, v in headers.items()),
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8701),
    }
    unread = Unread()
    await app(scope, unread.receive, unread.send)
    return unread


PRE_BODY_REFUSALS = {
    "unknown party": ({"sender": "ua-nsdc"}, {}, "ua-nsdc is not a pinned peer"),
    "stale timestamp": ({"timestamp_ms": 1}, {}, "stale federation request"),
    "another receiver": ({"receiver": "ae-mediator"}, {}, "signed for ae-mediator"),
    "short nonce": ({"nonce": "short"}, {}, "8 to 64 characters"),
    "replayed nonce": ({"nonce": "replayed-nonce-2"}, {}, "replayed federation request"),
    "no signature": ({}, {"x-parley-signature": ""}, "no x-parley-signature header"),
    "signature not base64": ({}, {"x-parley-signature": "?not base64?"}, "not base64"),
}


@pytest.mark.parametrize("case", PRE_BODY_REFUSALS)
async def test_request_headers_are_checked_before_the_body_is_read(peer, case):
    """A request from nobody in particular is refused at its headers: the 8 MiB it declares
    are not waited for, and the connection is closed rather than drained."""
    signed, replaced, text = PRE_BODY_REFUSALS[case]
    assert (await peer.send("GET", "/federation/v1/heads", nonce="replayed-nonce-2")).is_success
    fields = {
        "sender": "ru-genstaff",
        "receiver": "us-eucom",
        "timestamp_ms": to_ms(peer.us.clock.now()),
        "nonce": secrets.token_hex(12),
        **signed,
    }
    signature = sign_request(
        peer.ru.signer, method="POST", target="/federation/v1/events", body=b"", **fields
    )
    headers = {**signature.headers(), **replaced}

    unread = await call_with_unread_body(peer.app, "/federation/v1/events", headers)

    status, answer_headers = unread.status_and_headers()
    assert status == 401
    assert text in json.loads(unread.sent[1]["body"])["detail"]
    assert unread.receive_calls == 0
    assert answer_headers[b"connection"] == b"close"


async def test_federation_body_of_undeclared_length_is_refused(peer):
    async def chunks():
        yield b'{"events": []}'

    response = await peer.client.post(
        "/federation/v1/events", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_refused(response, 411, "length-required", "Content-Length")


async def test_request_signed_for_another_node_is_refused(peer):
    response = await peer.send("GET", "/federation/v1/heads", receiver="ae-mediator")
    assert_refused(response, 401, "unauthenticated", "signed for ae-mediator")


async def test_event_with_a_forged_signature_is_refused_and_not_stored(peer):
    response = await peer.push(await ru_event(peer, signer=Ed25519Signer.generate()))
    assert_refused(response, 422, "bad-signature", "events[0]")
    assert peer.us.store.count_events() == 1


async def test_out_of_order_seq_is_refused_and_not_stored(peer):
    response = await peer.push(await ru_event(peer, seq=3, prev="a" * 64))
    assert_refused(response, 422, "missing-dependency", "arrived before #1")
    assert peer.us.store.count_events() == 1


async def test_wrong_prev_is_refused_and_not_stored(peer):
    first = await ru_event(peer)
    assert (await peer.push(first)).status_code == 200
    response = await peer.push(await ru_event(peer, seq=2, prev="b" * 64, type="receipt", body={}))
    assert_refused(response, 422, "broken-chain", "does not match")
    assert peer.us.store.count_events() == 2


async def test_equivocation_is_refused_kept_as_proof_and_raises_a_critical_alert(peer):
    honest = await ru_event(peer)
    twin = await ru_event(peer, ts="2026-02-05T14:00:02.000Z")
    assert (await peer.push(honest)).status_code == 200
    response = await peer.push(twin)
    assert_refused(response, 409, "equivocation", "signed two different events at seq 1")
    (alert,) = peer.us.alerts.list_alerts(as_role(peer.us, Role.SUPERVISOR))
    assert (alert.kind, alert.severity) == ("equivocation", "critical")
    assert peer.us.store.chain(peer.channel, "ru-genstaff") == [honest]


async def test_oversize_batch_is_refused(peer):
    event = await ru_event(peer)
    response = await peer.push(*([event] * 201))
    assert_refused(response, 422, "invalid-input", "at most 200")
    assert peer.us.store.count_events() == 1


async def test_oversize_body_is_refused_before_it_is_read(peer):
    response = await peer.send("POST", "/federation/v1/events", body=b"[" + b" " * 9_000_000)
    assert_refused(response, 413, "payload-too-large", "over")


async def test_malformed_json_is_refused(peer):
    response = await peer.send("POST", "/federation/v1/events", body=b'{"events": [')
    assert_refused(response, 422, "invalid-input", "body: is not valid JSON")


async def test_malformed_event_names_its_field(peer):
    event = (await ru_event(peer)).to_dict()
    event["seq"] = "one"
    response = await peer.send("POST", "/federation/v1/events", {"events": [event]})
    assert_refused(response, 422, "event-rejected", "events[0]: event.seq")


async def test_pull_of_a_channel_not_shared_is_forbidden(peer):
    response = await peer.send(
        "POST", "/federation/v1/pull", {"channel": "ch_notsharedwithyou", "heads": {}}
    )
    assert_refused(response, 403, "forbidden", "share no channel")


async def test_links_show_the_direct_path_down_and_the_party_reaching_this_node_itself(api):
    us, ru = api.node, api.peer
    with pytest.raises(PeerUnreachable):
        await us.replicator.sync("ru-genstaff")  # no URL of it is pinned here
    sent, _ = await ru.channels.post_message(
        as_role(ru, Role.OPERATOR), api.channel, precedence="routine", text="x", lang="ru"
    )
    pushed = await Peer(us, ru, api.client).push(sent.event)
    assert pushed.status_code == 200, pushed.text
    await us.links.recorded()

    answer = await api.client.get("/api/v1/links", headers=api.auth("audit1"))

    assert answer.status_code == 200, answer.text
    assert answer.json() == [
        {
            "party": "ru-genstaff",
            "state": "degraded",
            "direct": "down",
            "rtt_ms": None,
            "last_ok_at": None,
            "last_test_at": None,
            "missed_tests": 0,
            "detail": "no URL is known for ru-genstaff",
            "reachable": True,
            "via": "ru-genstaff",
            "heard_at": "2026-02-05T14:00:00.000Z",
            "urls": [],
        }
    ]


# -- hostile input from a signed peer: a 4xx naming the field, and nothing stored ----------------
DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize("stamp", ["²".encode("latin-1"), b"9" * 5000])
async def test_timestamp_header_that_is_no_number_is_refused(peer, stamp):
    response = await peer.send("GET", "/federation/v1/heads", headers={"x-parley-timestamp": stamp})
    assert_refused(response, 401, "unauthenticated", "x-parley-timestamp")
    assert response.json()["errors"] == [
        {"field": "x-parley-timestamp", "message": "must be milliseconds since the epoch"}
    ]


@pytest.mark.parametrize(
    ("heads", "field", "text"),
    [
        ({"us-eucom": 10**30}, "heads.us-eucom", "must be an integer"),
        ({f"p{n:04d}": 1 for n in range(1200)}, "heads", "names 1200 authors"),
        ({"us-eucom": -1}, "heads.us-eucom", "must be a sequence number"),
        ({"US EUCOM": 1}, "heads", "a party id"),
    ],
)
async def test_pull_heads_past_what_the_channel_can_have_are_refused(peer, heads, field, text):
    before = stored_rows(peer.us)
    response = await peer.send(
        "POST", "/federation/v1/pull", {"channel": peer.channel, "heads": heads}
    )
    assert_refused(response, 422, "invalid-input", text)
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert stored_rows(peer.us) == before


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/federation/v1/events", DEEP, "body"),
        ("/federation/v1/cosignature", b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "body"),
        (
            "/federation/v1/cosignature",
            b'{"size": 1' + b"0" * 30 + b', "cosignature": "x\\n"}',
            "size",
        ),
        ("/federation/v1/pull", b'{"channel": "\\ud800", "heads": {}}', "channel"),
        ("/federation/v1/events", b'{"events": ["\xff\xfe"]}', "body"),  # not UTF-8
        ("/federation/v1/pull", '{"channel": "ch_é", "heads": {}}'.encode("latin-1"), "body"),
    ],
)
async def test_hostile_federation_body_is_refused_naming_it(peer, path, body, field):
    before = stored_rows(peer.us)
    response = await peer.send("POST", path, body=body)
    assert_refused(response, 422, "invalid-input", field)
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert stored_rows(peer.us) == before


async def test_pushed_event_with_a_lone_surrogate_is_refused_and_not_stored(peer):
    event = (await ru_event(peer)).to_dict()
    event["body"]["by"] = "\ud800"
    before = stored_rows(peer.us)
    body = json.dumps({"events": [event]}).encode()  # ensure_ascii: the escape \ud800
    response = await peer.send("POST", "/federation/v1/events", body=body)
    assert_refused(response, 422, "invalid-input", "events.0.body.by")
    assert stored_rows(peer.us) == before
