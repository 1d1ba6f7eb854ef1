"""Secrets stay out of the logs, the audit trail and the data folder.

A scripted session on one node: operators made at the console and through the API, wrong
guesses until the throttle answers, logins, a message, an exchange list naming people, an
export. Then every log line of every logger (SQL statements included) and every entry of the
audit trail is searched for the passwords, the bearer tokens, the node key's private bytes
and the names on the list; every file of the data folder, read as raw bytes, for the
passwords and tokens, and every file but the key file for the key. The names are in the
event store, where the list must be: the folder is not searched for them.
"""

from __future__ import annotations

import base64
import json
import logging
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from parley.api import create_app
from parley.clock import ManualClock
from parley.services import KEY_FILE, Node, Role
from tests.conftest import as_role, pin_all
from tests.forms.examples import EXCHANGE_LIST

pytestmark = pytest.mark.anyio

PASSWORDS = {
    "admin": "admin secret Qv7-quartz-lantern",
    "watch1": "watch secret Kp2-marble-heron",
    "duty2": "duty secret Zx9-copper-willow",
}
GUESSES = ["guess Wq4-velvet-falcon", "guess Lm8-amber-otter"]
NAMES = ["Mykola Zaporozhets-Kvitka", "Oksana Berezhna-Solovei", "Ivan Dubovyk-Lisovyi"]


def key_material(data: Path) -> list[bytes]:
    """The node key's private bytes: raw, base64 (alone and as the PEM carries it), the PEM."""
    pem = (data / KEY_FILE).read_bytes()
    private = serialization.load_pem_private_key(pem, password=None)
    raw = private.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    der_base64 = b"".join(line for line in pem.splitlines() if not line.startswith(b"-----"))
    return [raw, base64.b64encode(raw), base64.urlsafe_b64encode(raw), der_base64, pem]


async def session(node: Node, peer: Node, clock: ManualClock, tokens: list[str]) -> str:
    """The scripted session through the API; the hotline's id."""
    app = create_app(node, run_background_tasks=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://node") as client:

        async def login(username: str, password: str) -> httpx.Response:
            answer = await client.post(
                "/api/v1/auth/token", json={"username": username, "password": password}
            )
            if answer.status_code == 201:
                tokens.append(answer.json()["token"])
            return answer

        def bearer(token: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {token}"}

        for guess in GUESSES * 3:  # five failures, then the throttle
            assert (await login("watch1", guess)).status_code in (401, 429)
        assert (await login("nobody", GUESSES[0])).status_code == 401
        admin = (await login("admin", PASSWORDS["admin"])).json()["token"]
        made = await client.post(
            "/api/v1/operators",
            headers=bearer(admin),
            json={
                "username": "duty2",
                "role": "operator",
                "password": PASSWORDS["duty2"],
                "person": "SN-7001",
            },
        )
        assert made.status_code == 201, made.text
        assert (await login("duty2", PASSWORDS["duty2"])).status_code == 403  # pending
        clock.advance(timedelta(seconds=node.settings.login_window_s))  # past the throttle
        watch = (await login("watch1", PASSWORDS["watch1"])).json()["token"]
        approved = await client.post("/api/v1/operators/duty2/approve", headers=bearer(watch))
        assert approved.status_code == 200, approved.text
        duty = (await login("duty2", PASSWORDS["duty2"])).json()["token"]

        opened = await client.post(
            "/api/v1/channels",
            headers=bearer(admin),
            json={"name": "hotline", "members": {peer.party: "party"}},
        )
        channel = str(opened.json()["id"])
        await peer.ingest.receive(node.store.chain(channel, node.party))
        accepted = await peer.channels.accept(as_role(peer, Role.ADMIN), channel)
        await node.ingest.receive([accepted.event])
        message = await client.post(
            f"/api/v1/channels/{channel}/messages",
            headers=bearer(duty),
            json={"precedence": "flash", "text": "Line check", "lang": "en"},
        )
        assert message.status_code == 201, message.text
        persons = [
            {"name": name, "category": "military", "id": f"UA-{n:05d}"}
            for n, name in enumerate(NAMES, 1)
        ]
        listed = await client.post(
            f"/api/v1/channels/{channel}/notifications",
            headers=bearer(duty),
            json={"form": "exchange_list/1", "data": {**EXCHANGE_LIST, "persons": persons}},
        )
        assert listed.status_code == 201, listed.text
        denied = await client.get("/api/v1/audit", headers=bearer(duty))
        assert denied.status_code == 403
        trail = await client.get("/api/v1/audit", headers=bearer(admin), params={"limit": 1000})
        assert trail.status_code == 200
        for token in (admin, watch, duty):
            assert (await client.delete("/api/v1/auth/token", headers=bearer(token))).status_code
    return channel


async def test_no_secret_is_logged_audited_or_stored_in_the_clear(
    make_node, clock, tmp_path, caplog
):
    # Every logger at INFO: the node's own, the web stack's, and every SQL statement.
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    node, peer = make_node("us-eucom"), make_node("ru-genstaff")
    await pin_all(node, peer)
    await node.operators.add("admin", "admin", PASSWORDS["admin"])
    await node.operators.add("watch1", "supervisor", PASSWORDS["watch1"])
    tokens: list[str] = []

    channel = await session(node, peer, clock, tokens)
    await node.transparency.publish(as_role(node, Role.SUPERVISOR))
    summary = node.export(channel, tmp_path / "hotline.bundle")

    data = node.config.data_dir
    secrets = [p.encode() for p in (*PASSWORDS.values(), *GUESSES)] + [t.encode() for t in tokens]
    key = key_material(data)
    names = [n.encode() for n in NAMES]
    assert len(tokens) == 3
    assert summary.events >= 3
    lines = [record.getMessage().encode() for record in caplog.records]
    assert any(b"INSERT INTO" in line for line in lines)  # the SQL statements were logged
    assert any(b'"action": "bundle.export"' in line for line in lines)
    entries = [
        json.dumps(record.__dict__, default=str, ensure_ascii=False).encode()
        for record in node.store.list_audit(after=0, limit=1000)
    ]
    assert {"login", "operator.create", "operator.approve", "permission.denied"} <= {
        record.action for record in node.store.list_audit(after=0, limit=1000)
    }
    for text in lines + entries:
        found = [s for s in (*secrets, *key, *names) if s in text]
        assert found == [], text
    files = {path: path.read_bytes() for path in data.iterdir() if path.is_file()}
    assert {"parley.db", KEY_FILE} <= {path.name for path in files}
    for path, content in files.items():
        kept = [*secrets, *([] if path.name == KEY_FILE else key)]
        assert [s for s in kept if s in content] == [], path
    # Where the names must be, they are: the search would have seen them.
    assert all(any(name in content for content in files.values()) for name in names)
