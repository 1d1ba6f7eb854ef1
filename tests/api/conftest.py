"""The API harness: a node with an operator of every role, logged in, and a hotline."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from parley.api import PROBLEM_TYPE_BASE, create_app
from parley.services import Role
from tests.api.processes import ServedNode, make_served_node
from tests.conftest import PASSWORD, as_role, pin_all

USERS = {
    "admin": Role.ADMIN,
    "duty1": Role.OPERATOR,
    "watch1": Role.SUPERVISOR,
    "audit1": Role.AUDITOR,
}


class Api:
    def __init__(self, node, peer, client: httpx.AsyncClient) -> None:
        self.node, self.peer, self.client = node, peer, client
        self.tokens: dict[str, str] = {}
        self.channel = ""

    def auth(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    async def post_message(self, username: str = "duty1", **fields):
        body = {"precedence": "immediate", "text": "Line check", "lang": "en", **fields}
        return await self.client.post(
            f"/api/v1/channels/{self.channel}/messages", json=body, headers=self.auth(username)
        )


@pytest.fixture
async def api(make_node):
    node, peer = make_node("us-eucom"), make_node("ru-genstaff")
    await pin_all(node, peer)
    for username, role in USERS.items():
        await node.operators.add(username, role.value, PASSWORD)
    transport = httpx.ASGITransport(app=create_app(node, run_background_tasks=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://node") as client:
        harness = Api(node, peer, client)
        for username in USERS:
            response = await client.post(
                "/api/v1/auth/token", json={"username": username, "password": PASSWORD}
            )
            assert response.status_code == 201, response.text
            harness.tokens[username] = response.json()["token"]
        created = await client.post(
            "/api/v1/channels",
            headers=harness.auth("admin"),
            json={"name": "hotline", "members": {"ru-genstaff": "party"}},
        )
        assert created.status_code == 201, created.text
        harness.channel = created.json()["id"]
        await peer.ingest.receive(node.store.chain(harness.channel, node.party))
        accepted = await peer.channels.accept(as_role(peer, Role.ADMIN), harness.channel)
        await node.ingest.receive([accepted.event])
        yield harness


async def create_approved(api: Api, username: str, role: Role, person: str) -> str:
    """An account made by the admin through the API and approved by the supervisor, as a
    second person must; its bearer token."""
    made = await api.client.post(
        "/api/v1/operators",
        headers=api.auth("admin"),
        json={"username": username, "role": role.value, "password": PASSWORD, "person": person},
    )
    assert made.status_code == 201, made.text
    if made.json()["pending"]:
        approved = await api.client.post(
            f"/api/v1/operators/{username}/approve", headers=api.auth("watch1")
        )
        assert approved.status_code == 200, approved.text
    login = await api.client.post(
        "/api/v1/auth/token", json={"username": username, "password": PASSWORD}
    )
    assert login.status_code == 201, login.text
    api.tokens[username] = login.json()["token"]
    return api.tokens[username]


def assert_problem(response: httpx.Response, status: int, field: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert set(body) == {"type", "title", "status", "detail", "instance", "code", "errors"}
    assert body["status"] == status
    assert body["type"] == PROBLEM_TYPE_BASE + body["code"]
    if field is not None:
        assert [e["field"] for e in body["errors"]] == [field], body
        assert field in body["detail"]
    return body


# The nonce of every signed federation request is kept once its signature holds, whatever
# its body: a refused request may not be replayed either. It is what was seen, not stored.
_SEEN_ONLY = ("federation_nonces",)


def stored_rows(node) -> dict[str, int]:
    """The number of rows of every table of the node's SQLite store, read beside the node."""
    with contextlib.closing(sqlite3.connect(node.config.data_dir / "parley.db")) as db:
        tables = [
            r[0]
            for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")
            if r[0] not in _SEEN_ONLY
        ]
        count = 'SELECT count(*) FROM "{}"'  # names read from sqlite_master, not from a request
        return {name: db.execute(count.format(name)).fetchone()[0] for name in tables}


@pytest.fixture
def served_node(tmp_path: Path) -> Iterator[ServedNode]:
    """``parley serve`` processes of one node's folder; every one is killed at the end."""
    node = make_served_node(tmp_path)
    try:
        yield node
    finally:
        node.kill_all()
