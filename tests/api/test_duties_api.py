"""Separation of duties over HTTP: an account the admin makes waits for a second person, and
the audit trail is read in pages by auditors and admins, every refusal in it."""

from __future__ import annotations

import re

import pytest

from parley.clock import parse_ts
from parley.services import Role
from tests.api.conftest import assert_problem, create_approved
from tests.conftest import PASSWORD

pytestmark = pytest.mark.anyio
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


async def make(api, username: str, role: str, person: str, by: str = "admin"):
    return await api.client.post(
        "/api/v1/operators",
        headers=api.auth(by),
        json={"username": username, "role": role, "password": PASSWORD, "person": person},
    )


async def login(api, username: str):
    return await api.client.post(
        "/api/v1/auth/token", json={"username": username, "password": PASSWORD}
    )


async def test_a_supervisor_the_admin_makes_logs_in_only_once_a_second_person_approves(api):
    made = await make(api, "watch2", "supervisor", "SN-2002")

    assert made.status_code == 201, made.text
    shown = made.json()
    assert {k: shown[k] for k in ("username", "role", "person", "pending", "created_by")} == {
        "username": "watch2",
        "role": "supervisor",
        "person": "SN-2002",
        "pending": True,
        "created_by": "admin",
    }
    assert RFC3339.match(shown["created_at"])
    assert (shown["approved_by"], shown["approved_at"], shown["changed_by"]) == (None, None, None)
    refused = assert_problem(await login(api, "watch2"), 403)
    assert refused["detail"] == (
        "operator watch2 waits for approval by a supervisor, or by an admin other than admin, "
        "before it may log in"
    )
    own = await api.client.post("/api/v1/operators/watch2/approve", headers=api.auth("admin"))
    assert "a second person must approve it" in assert_problem(own, 403)["detail"]

    approved = await api.client.post("/api/v1/operators/watch2/approve", headers=api.auth("watch1"))

    assert approved.status_code == 200, approved.text
    assert (approved.json()["pending"], approved.json()["approved_by"]) == (False, "watch1")
    assert parse_ts(approved.json()["approved_at"])
    assert (await login(api, "watch2")).status_code == 201
    again = await api.client.post("/api/v1/operators/watch2/approve", headers=api.auth("watch1"))
    assert_problem(again, 409)


async def test_the_operator_list_shows_who_made_approved_and_changed_each_account(api):
    await create_approved(api, "duty2", Role.OPERATOR, "SN-2003")
    await api.client.delete("/api/v1/operators/duty1", headers=api.auth("admin"))

    listed = await api.client.get("/api/v1/operators", headers=api.auth("admin"))

    rows = {o["username"]: o for o in listed.json()}
    assert (rows["duty2"]["created_by"], rows["duty2"]["approved_by"]) == ("admin", "watch1")
    assert (rows["duty1"]["created_by"], rows["duty1"]["disabled"]) == ("console", True)
    assert rows["duty1"]["changed_by"] == "admin"
    assert RFC3339.match(rows["duty1"]["changed_at"])
    assert rows["audit1"]["person"] == "audit1"  # added at the console: the username


async def test_an_admin_cannot_disable_its_own_account_a_second_admin_can(api):
    own = await api.client.delete("/api/v1/operators/admin", headers=api.auth("admin"))

    assert assert_problem(own, 409)["detail"] == (
        "admin cannot disable its own account: another admin may"
    )
    await create_approved(api, "admin2", Role.ADMIN, "SN-2010")
    by_another = await api.client.delete("/api/v1/operators/admin", headers=api.auth("admin2"))
    assert by_another.status_code == 204, by_another.text


async def test_an_account_approved_by_a_second_person_speaks_for_the_party(api):
    await create_approved(api, "duty2", Role.OPERATOR, "SN-2004")

    sent = await api.post_message("duty2")

    assert sent.status_code == 201, sent.text
    assert sent.json()["event"]["body"]["by"] == "duty2"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "duty2", "role": "operator", "password": PASSWORD}, "person"),
        (
            {"username": "duty2", "role": "operator", "password": PASSWORD, "person": "x" * 65},
            "person",
        ),
    ],
    ids=["missing", "too-long"],
)
async def test_an_account_names_its_person(api, body, field):
    response = await api.client.post("/api/v1/operators", headers=api.auth("admin"), json=body)
    assert_problem(response, 422, field)


async def test_a_second_account_of_one_person_is_refused(api):
    assert (await make(api, "duty2", "operator", "SN-2005")).status_code == 201

    assert_problem(await make(api, "duty3", "operator", "SN-2005"), 409)


async def test_the_trail_pages_like_channels_and_filters_by_action_and_actor(api):
    for _ in range(3):
        assert_problem(
            await api.client.post(
                "/api/v1/auth/token", json={"username": "duty1", "password": "wrong password"}
            ),
            401,
        )

    page = await api.client.get(
        "/api/v1/audit", headers=api.auth("audit1"), params={"action": "login", "limit": 3}
    )

    assert page.status_code == 200, page.text
    entries = page.json()
    assert [e["action"] for e in entries] == ["login"] * 3
    following = re.fullmatch(r'<(/api/v1/audit\?[^>]+)>; rel="next"', page.headers["link"])
    assert following is not None
    rest = (await api.client.get(following[1], headers=api.auth("audit1"))).json()
    assert [e["id"] for e in rest] > [entries[-1]["id"]]
    failed = await api.client.get(
        "/api/v1/audit", headers=api.auth("admin"), params={"actor": "duty1", "action": "login"}
    )
    assert [(e["outcome"], e["address"]) for e in failed.json()] == [("ok", "127.0.0.1")] + [
        ("failed", "127.0.0.1")
    ] * 3
    assert all(RFC3339.match(e["recorded_at"]) for e in failed.json())


@pytest.mark.parametrize("username", ["duty1", "watch1"])
async def test_a_permission_refused_is_a_403_and_an_entry_of_the_trail(api, username):
    refused = await api.client.get("/api/v1/audit", headers=api.auth(username))

    assert "may not read audit" in assert_problem(refused, 403)["detail"]
    denials = await api.client.get(
        "/api/v1/audit", headers=api.auth("audit1"), params={"action": "permission.denied"}
    )
    [entry] = denials.json()
    assert {k: entry[k] for k in ("actor", "target", "address", "outcome", "details")} == {
        "actor": username,
        "target": "GET /api/v1/audit",
        "address": "127.0.0.1",
        "outcome": "denied",
        "details": {"permission": "read_audit"},
    }
