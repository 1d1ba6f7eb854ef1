from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest

from parley.services import Role
from tests.api.conftest import PASSWORD, USERS, Api, assert_problem
from tests.conftest import as_role

pytestmark = pytest.mark.anyio


async def test_error_shape_is_rfc9457_problem_details(api):
    response = await api.client.get("/api/v1/channels/ch_nosuchchannel1", headers=api.auth("duty1"))
    body = assert_problem(response, 404)
    assert body == {
        "type": "https://parley.dev/problems/not-found",
        "title": "Not found",
        "status": 404,
        "detail": "no channel ch_nosuchchannel1 of which us-eucom is a member",
        "instance": "/api/v1/channels/ch_nosuchchannel1",
        "code": "not-found",
        "errors": [],
    }


async def test_post_is_201_and_the_message_is_listed_with_its_status(api):
    response = await api.post_message(text="Уведомление", lang="ru")
    assert response.status_code == 201
    posted = response.json()
    assert posted["status"] == "sent"
    assert posted["event"]["body"]["by"] == "duty1"
    assert posted["members"] == [
        {
            "party": "ru-genstaff",
            "role": "party",
            "delivered_at": None,
            "acknowledged_at": None,
            "acknowledged_by": None,
        }
    ]

    listed = await api.client.get(
        f"/api/v1/channels/{api.channel}/events", headers=api.auth("audit1")
    )
    assert listed.status_code == 200
    items = listed.json()["items"]
    assert [i["event"]["type"] for i in items] == ["channel", "accept", "message"]
    assert items[-1]["id"] == posted["id"]


async def test_events_are_paged_by_position(api):
    for n in range(4):
        assert (await api.post_message(text=f"m{n}")).status_code == 201
    url = f"/api/v1/channels/{api.channel}/events"
    first = (await api.client.get(url, params={"limit": 3}, headers=api.auth("duty1"))).json()
    rest = (
        await api.client.get(
            url, params={"after": first["next_after"], "limit": 3}, headers=api.auth("duty1")
        )
    ).json()
    texts = [i["event"]["body"].get("text") for i in first["items"] + rest["items"]]
    assert texts == [None, None, "m0", "m1", "m2", "m3"]  # channel, accept, messages
    assert rest["next_after"] is None


async def test_idempotency_key_makes_a_retry_return_the_same_event(api):
    headers = {**api.auth("duty1"), "Idempotency-Key": "retry-1"}
    url = f"/api/v1/channels/{api.channel}/messages"
    body = {"precedence": "flash", "text": "x", "lang": "en"}
    first = await api.client.post(url, json=body, headers=headers)
    again = await api.client.post(url, json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]


async def test_an_idempotency_key_reused_for_another_message_is_a_422_naming_it(api):
    headers = {**api.auth("duty1"), "Idempotency-Key": "retry-2"}
    url = f"/api/v1/channels/{api.channel}/messages"
    body = {"precedence": "flash", "text": "Launch at 06:00", "lang": "en"}
    first = await api.client.post(url, json=body, headers=headers)
    before = api.node.store.count_events()

    other = await api.client.post(url, json={**body, "text": "Launch at 07:00"}, headers=headers)

    problem = assert_problem(other, 422, "Idempotency-Key")
    assert first.json()["id"] in problem["detail"]
    assert api.node.store.count_events() == before
    again = await api.client.post(url, json=body, headers=headers)
    assert (again.status_code, again.json()["id"]) == (200, first.json()["id"])


@pytest.mark.parametrize(
    ("fields", "status", "field"),
    [
        ({"precedence": "urgent"}, 422, "precedence"),
        ({"lang": "english"}, 422, "lang"),
        ({"lang": "qq"}, 422, "lang"),
        ({"text": "я" * 9000}, 413, "text"),
        ({"text": 5}, 422, "text"),
        ({"precedence": None}, 422, "precedence"),
        ({"colour": "red"}, 422, "colour"),
        ({"text": "Exercise \u202ecancelled"}, 422, "text"),
        ({"text": "\u2066Line check\u2069"}, 422, "text"),
    ],
)
async def test_bad_message_is_refused_naming_the_field_and_nothing_is_written(
    api, fields, status, field
):
    before = api.node.store.count_events()
    assert_problem(await api.post_message(**fields), status, field)
    assert api.node.store.count_events() == before


async def test_missing_field_is_named(api):
    response = await api.client.post(
        f"/api/v1/channels/{api.channel}/messages",
        json={"precedence": "flash", "lang": "en"},
        headers=api.auth("duty1"),
    )
    assert_problem(response, 422, "text")


async def test_malformed_json_is_a_400(api):
    response = await api.client.post(
        f"/api/v1/channels/{api.channel}/messages",
        content=b'{"precedence": "flash",',
        headers={**api.auth("duty1"), "content-type": "application/json"},
    )
    assert_problem(response, 400, "body")


async def test_oversized_request_body_is_refused_before_parsing(api):
    huge = json.dumps({"precedence": "flash", "text": "x" * 300_000, "lang": "en"})
    response = await api.client.post(
        f"/api/v1/channels/{api.channel}/messages",
        content=huge,
        headers={**api.auth("duty1"), "content-type": "application/json"},
    )
    assert_problem(response, 413)


async def test_unknown_channel_is_404(api):
    before = api.node.store.count_events()
    api.channel = "ch_belongstoothers"
    assert_problem(await api.post_message(), 404)
    assert api.node.store.count_events() == before


async def test_missing_token_is_401_with_a_bearer_challenge(api):
    response = await api.client.get("/api/v1/channels")
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_garbage_token_is_401(api):
    response = await api.client.get(
        "/api/v1/channels", headers={"Authorization": "Bearer nonsense"}
    )
    assert "unknown bearer token" in assert_problem(response, 401)["detail"]


async def test_expired_token_is_401(api, clock):
    clock.advance(timedelta(hours=12, seconds=1))
    response = await api.client.get("/api/v1/channels", headers=api.auth("duty1"))
    assert "expired" in assert_problem(response, 401)["detail"]


async def test_logged_out_token_is_revoked(api):
    assert (
        await api.client.delete("/api/v1/auth/token", headers=api.auth("duty1"))
    ).status_code == 204
    response = await api.client.get("/api/v1/channels", headers=api.auth("duty1"))
    assert "revoked" in assert_problem(response, 401)["detail"]


async def test_disabled_operator_loses_its_tokens(api):
    response = await api.client.delete("/api/v1/operators/duty1", headers=api.auth("admin"))
    assert response.status_code == 204
    assert_problem(await api.client.get("/api/v1/me", headers=api.auth("duty1")), 401)


async def test_wrong_password_is_401_and_names_nobody(api):
    response = await api.client.post(
        "/api/v1/auth/token", json={"username": "duty1", "password": "wrong password"}
    )
    assert "wrong username or password" in assert_problem(response, 401)["detail"]


async def test_peer_acknowledgement_is_shown_to_the_sender(api):
    posted = (await api.post_message()).json()
    from parley.protocol import event_from_dict

    peer = api.peer
    await peer.ingest.receive([event_from_dict(posted["event"])])
    ack, _ = await peer.channels.acknowledge(
        as_role(peer, Role.OPERATOR, "officer2"), api.channel, posted["id"]
    )
    await api.node.ingest.receive([ack.event])
    shown = (
        await api.client.get(
            f"/api/v1/channels/{api.channel}/events/{posted['id']}", headers=api.auth("duty1")
        )
    ).json()
    assert shown["status"] == "acknowledged"
    assert shown["members"][0]["acknowledged_by"] == "officer2"


async def test_openapi_document_lists_the_api(api):
    spec = (await api.client.get("/openapi.json")).json()
    assert "/api/v1/channels/{channel}/messages" in spec["paths"]
    assert "/api/v1/stream" in spec["paths"]


# -- authorization matrix ----------------------------------------------------------------------
ALLOWED = {
    "list channels": {"admin", "duty1", "watch1", "audit1"},
    "read events": {"admin", "duty1", "watch1", "audit1"},
    "post message": {"duty1", "watch1"},
    "ack": {"duty1", "watch1"},
    "alerts": {"admin", "watch1", "audit1"},
    "create channel": {"admin"},
    "list operators": {"admin"},
    "create operator": {"admin"},
    "approve operator": {"admin", "watch1"},
    "read audit": {"admin", "audit1"},
    "pin party": {"admin"},
    "list parties": {"admin", "duty1", "watch1", "audit1"},
    "node": {"admin", "duty1", "watch1", "audit1"},
    "list forms": {"admin", "duty1", "watch1", "audit1"},
    "send notification": {"duty1", "watch1"},
    "release draft": {"watch1"},
    "links": {"admin", "duty1", "watch1", "audit1"},
}


async def _call(api: Api, action: str, username: str) -> httpx.Response:
    c, h, ch = api.client, api.auth(username), api.channel
    if action == "list channels":
        return await c.get("/api/v1/channels", headers=h)
    if action == "read events":
        return await c.get(f"/api/v1/channels/{ch}/events", headers=h)
    if action == "post message":
        return await api.post_message(username)
    if action == "ack":
        incoming, _ = await api.peer.channels.post_message(
            _principal(api.peer, Role.OPERATOR), ch, precedence="routine", text="x", lang="ru"
        )
        await api.node.ingest.receive([incoming.event])
        return await c.post(f"/api/v1/channels/{ch}/events/{incoming.event.id}/ack", headers=h)
    if action == "alerts":
        return await c.get("/api/v1/alerts", headers=h)
    if action == "create channel":
        return await c.post(
            "/api/v1/channels",
            headers=h,
            json={"name": "second", "members": {"ru-genstaff": "party"}},
        )
    if action == "list operators":
        return await c.get("/api/v1/operators", headers=h)
    if action == "create operator":
        return await c.post(
            "/api/v1/operators",
            headers=h,
            json={
                "username": f"new-{username}",
                "role": "operator",
                "password": PASSWORD,
                "person": f"SN-{username}",
            },
        )
    if action == "approve operator":
        # Made by an admin who is not under test, so that every admin under test may approve.
        await api.node.operators.create(
            as_role(api.node, Role.ADMIN, "admin2"), "pending1", "operator", PASSWORD, "SN-1"
        )
        return await c.post("/api/v1/operators/pending1/approve", headers=h)
    if action == "read audit":
        return await c.get("/api/v1/audit", headers=h)
    if action == "pin party":
        from parley.protocol import Ed25519Signer, encode_public_key

        key = encode_public_key(Ed25519Signer.generate().public_key)
        return await c.post(
            "/api/v1/parties",
            headers=h,
            json={"party": f"p-{username}", "name": "Another", "key": key},
        )
    if action == "list parties":
        return await c.get("/api/v1/parties", headers=h)
    if action == "list forms":
        return await c.get("/api/v1/forms", headers=h)
    if action == "send notification":
        return await c.post(
            f"/api/v1/channels/{ch}/notifications",
            headers=h,
            json={"form": "free_text/1", "data": {"text": "Line check", "lang": "en"}},
        )
    if action == "release draft":
        return await c.post(f"/api/v1/drafts/{await _draft(api)}/release", headers=h)
    if action == "links":
        return await c.get("/api/v1/links", headers=h)
    assert action == "node"
    return await c.get("/api/v1/node", headers=h)


async def _draft(api: Api) -> int:
    """A draft on a two-person channel, written by an operator who is not under test."""
    created = await api.client.post(
        "/api/v1/channels",
        headers=api.auth("admin"),
        json={"name": "two-person", "members": {"ru-genstaff": "party"}, "two_person": True},
    )
    await api.node.operators.add("drafter", Role.OPERATOR.value, PASSWORD)
    login = await api.client.post(
        "/api/v1/auth/token", json={"username": "drafter", "password": PASSWORD}
    )
    drafted = await api.client.post(
        f"/api/v1/channels/{created.json()['id']}/notifications",
        headers={"Authorization": f"Bearer {login.json()['token']}"},
        json={"form": "free_text/1", "data": {"text": "x", "lang": "en"}},
    )
    return int(drafted.json()["draft"]["id"])


def _principal(node, role):
    return as_role(node, role)


@pytest.mark.parametrize("username", sorted(USERS))
@pytest.mark.parametrize("action", sorted(ALLOWED))
async def test_authorization_matrix(api, action, username):
    response = await _call(api, action, username)
    if username in ALLOWED[action]:
        assert response.status_code in (200, 201), response.text
    else:
        assert_problem(response, 403)


@pytest.mark.parametrize("key", ["incident_reprot", "request_for_explanation/1"])
async def test_a_channel_agreeing_a_deadline_for_no_form_is_a_422_naming_the_key(api, key):
    response = await api.client.post(
        "/api/v1/channels",
        headers=api.auth("admin"),
        json={"name": "fast", "members": {"ru-genstaff": "party"}, "deadlines": {key: 60}},
    )
    assert_problem(response, 422, f"deadlines.{key}")
    assert [
        c["id"]
        for c in (await api.client.get("/api/v1/channels", headers=api.auth("admin"))).json()
    ] == [api.channel]


async def test_channels_are_listed_in_pages_with_a_link_to_the_next(api):
    admin = api.auth("admin")
    for name in ("second", "third"):
        opened = await api.client.post(
            "/api/v1/channels",
            headers=admin,
            json={"name": name, "members": {"ru-genstaff": "party"}},
        )
        assert opened.status_code == 201
    everything = (await api.client.get("/api/v1/channels", headers=admin)).json()
    assert "link" not in (await api.client.get("/api/v1/channels", headers=admin)).headers
    first = await api.client.get("/api/v1/channels?limit=2", headers=admin)
    link = first.headers["link"]
    assert link.endswith('; rel="next"')
    second = await api.client.get(link[1 : link.index(">")], headers=admin)
    assert "link" not in second.headers
    assert len(everything) == 3
    assert first.json() + second.json() == everything
    assert_problem(await api.client.get("/api/v1/channels?limit=0", headers=admin), 422, "limit")
    assert_problem(await api.client.get("/api/v1/channels?limit=1001", headers=admin), 422, "limit")
