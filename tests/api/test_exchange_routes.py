"""Exchanges through the API: 403 and an audit entry without the permission, per-row
problems for a broken file, a list submitted, read and summarised without persons."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest

from parley.api import create_app
from parley.exchange import render_csv
from parley.services import Node
from tests.api.conftest import assert_problem
from tests.conftest import PASSWORD
from tests.services.test_exchanges import US, exchange_in_force, listed
from tests.services.test_replication import settle, trio  # noqa: F401

pytestmark = pytest.mark.anyio


@contextlib.asynccontextmanager
async def client_of(node: Node, username: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(node, run_background_tasks=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://node") as client:
        login = await client.post(
            "/api/v1/auth/token", json={"username": username, "password": PASSWORD}
        )
        assert login.status_code == 201, login.text
        client.headers["Authorization"] = f"Bearer {login.json()['token']}"
        yield client


def payload(data: bytes, **more: object) -> dict:
    return {"format": "csv", "data": base64.b64encode(data).decode(), **more}


async def test_exchange_lists_through_the_api(trio: dict[str, Node]) -> None:  # noqa: F811
    scene = await exchange_in_force(trio)
    us = trio[US]
    await us.operators.add("clerk", "operator", PASSWORD)
    base = f"/api/v1/exchanges/{scene.agreement}"
    async with client_of(us, "officer1") as officer, client_of(us, "clerk") as clerk:
        refused = await clerk.post(f"{base}/lists", json=payload(b"x"))
        assert_problem(refused, 403)
        denied = us.store.list_audit(after=0, limit=100, action="permission.denied")
        assert [(d.actor, d.details["permission"]) for d in denied] == [("clerk", "exchange")]

        rows = render_csv(listed(0)).replace("Андреев".encode(), "Андреев".encode("cp1251"), 1)
        checked = await officer.post(f"{base}/lists", json=payload(rows, check_only=True))
        assert checked.status_code == 200, checked.text
        found = [(p["row"], p["field"], p["code"]) for p in checked.json()["problems"]]
        assert (2, "name", "encoding") in found  # row 1 is an Arabic name

        future = render_csv(listed(0)).replace(b"1960-01-01", b"2099-01-01")
        bad = await officer.post(f"{base}/lists", json=payload(future))
        body = assert_problem(bad, 422)
        assert body["errors"][0] == {
            "field": "rows.1.born",
            "message": "date_future: 2099-01-01 is in the future",
        }

        sent = await officer.post(f"{base}/lists", json=payload(render_csv(listed(0))))
        assert sent.status_code == 201, sent.text
        list_id = sent.json()["list_id"]
        summary = (await clerk.get(base)).json()
        assert summary["status"] == "open"
        assert [(li["id"], li["rows"], li["counts"]) for li in summary["lists"]] == [
            (list_id, 157, {"civilian": 7, "military": 150})
        ]
        assert_problem(await clerk.get(f"{base}/lists/{list_id}"), 403)
        opened = await officer.get(f"{base}/lists/{list_id}")
        assert opened.status_code == 200, opened.text
        assert len(opened.json()["persons"]) == 157
        assert us.store.list_audit(after=0, limit=100, action="exchange.read")
