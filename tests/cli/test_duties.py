"""``parley operator approve`` and ``parley audit list`` against a node served on loopback:
a second person approves an account the admin made, and the trail shows who did what."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from parley.services import Node, Role
from tests.cli.test_cli import init, invoke, table_rows
from tests.conftest import PASSWORD, as_role, pin_all


class Desk:
    """The served us-eucom node (duty1, watch1, admin) as its operators reach it."""

    def __init__(self, url: str, secret: Path) -> None:
        self.url, self.secret = url, secret

    def run(self, *command: str, username: str = "admin") -> tuple[int, str, str]:
        return invoke(
            *command,
            "--node",
            self.url,
            "--username",
            username,
            "--password-file",
            str(self.secret),
        )

    def admin_makes(self, username: str, role: str, person: str) -> None:
        """Through the API, as no command makes an account there."""
        with httpx.Client(base_url=self.url, trust_env=False) as http:
            login = {"username": "admin", "password": PASSWORD}
            token = http.post("/api/v1/auth/token", json=login).json()["token"]
            made = http.post(
                "/api/v1/operators",
                headers={"Authorization": f"Bearer {token}"},
                json={"username": username, "role": role, "password": PASSWORD, "person": person},
            )
            assert made.status_code == 201, made.text


@pytest.fixture
def desk(served, tmp_path: Path) -> Desk:
    _node, url = served
    secret = tmp_path / "password"
    secret.write_text(PASSWORD + "\n", "utf-8")
    return Desk(url, secret)


def test_a_supervisor_approves_the_account_an_admin_made_and_the_trail_shows_it(
    desk: Desk,
) -> None:
    desk.admin_makes("duty2", "operator", "SN-3001")
    code, _, err = desk.run("channel", "list", username="duty2")
    assert code == 2
    assert err.startswith("Forbidden: operator duty2 waits for approval by a supervisor")

    code, _, err = desk.run("operator", "approve", "--operator", "duty2")
    assert code == 2
    assert err == (
        "Forbidden: admin made operator duty2: a second person must approve it "
        "(the node answered 403)"
    )
    code, out, err = desk.run("operator", "approve", "--operator", "duty2", username="watch1")
    assert code == 0, err
    assert out == "Operator duty2 (operator) approved by watch1; it may now log in\n"
    assert desk.run("channel", "list", username="duty2")[0] == 0

    code, out, err = desk.run("audit", "list", "--action", "operator.approve", "--json")
    assert code == 0, err
    assert [(e["actor"], e["target"], e["outcome"]) for e in json.loads(out)] == [
        ("admin", "duty2", "denied"),
        ("watch1", "duty2", "ok"),
    ]


def test_the_trail_as_a_table_names_actor_action_target_address_and_outcome(desk: Desk) -> None:
    code, out, err = desk.run("audit", "list", "--actor", "admin")

    assert code == 0, err
    rows = table_rows(out)
    assert [row[2:7] for row in rows] == [
        ["admin", "peer.pin", "ru-genstaff", "local", "ok"],  # as the fixture pinned it
        ["admin", "login", "admin", "127.0.0.1", "ok"],  # to read the trail
    ]
    assert json.loads(rows[0][7])["urls"] == []
    assert rows[1][7] == "{}"


def test_only_auditors_and_admins_read_the_trail(desk: Desk) -> None:
    code, _, err = desk.run("audit", "list", username="duty1")

    assert code == 2
    assert err == "Forbidden: role operator may not read audit (the node answered 403)"


def test_an_export_at_the_console_is_in_the_trail_and_on_its_standard_error(
    tmp_path: Path,
) -> None:
    data, peer = tmp_path / "us-eucom", tmp_path / "ru-genstaff"
    init(data)
    init(peer, "ru-genstaff", "Russian General Staff")
    us, ru = Node.open(data), Node.open(peer)
    try:

        async def opened() -> str:
            await pin_all(us, ru)
            view = await us.channels.create(as_role(us, Role.ADMIN), "hotline", {ru.party: "party"})
            await us.transparency.publish_checkpoint()
            return view.event.channel

        channel = asyncio.run(opened())
    finally:
        us.close()
        ru.close()

    code, _, err = invoke(
        "export", "--data", str(data), "--channel", channel, "--out", str(tmp_path / "b.jsonl")
    )

    assert code == 0, err
    line = json.loads(err.split(" parley.audit ", 1)[1])
    assert line == {
        "action": "bundle.export",
        "operator": "console",
        "node": "us-eucom",
        "target": channel,
        "address": "local",
        "outcome": "ok",
        "events": 1,
        "size": 1,
    }
    node = Node.open(data)
    try:
        [entry] = node.store.list_audit(after=0, limit=10, action="bundle.export")
    finally:
        node.close()
    assert (entry.actor, entry.target, entry.details) == (
        "console",
        channel,
        {"events": 1, "size": 1},
    )
