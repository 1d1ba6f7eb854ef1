"""``parley talks`` and ``parley excerpt`` against a node served on loopback, with the peer's
node signing the minutes and cosigning the checkpoint as it would over federation."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from parley.services import Node, Role
from tests.cli.test_channels import Desk, desk  # noqa: F401
from tests.cli.test_cli import invoke
from tests.conftest import PASSWORD, as_role

US, RU = "us-eucom", "ru-genstaff"


def talks(desk: Desk) -> tuple[str, str, str]:  # noqa: F811 - the fixture imported above
    """An accepted hotline with the Abu Dhabi round and its minutes: their ids."""
    channel = desk.create()

    async def accept(peer: Node) -> object:
        return await peer.channels.accept(as_role(peer, Role.ADMIN), channel)

    desk.from_peer(accept)
    made = desk.json(
        "talks", "round", "--channel", channel,
        "--title", "Trilateral talks", "--start", "2026-02-04T08:00:00Z",
        "--end", "2026-02-05T18:00:00Z", "--venue", "Abu Dhabi", "--host", "ae-mediator",
        "--delegation", f"{US}=Steve Witkoff", "--delegation", f"{US}=Jared Kushner",
        "--delegation", f"{RU}=Igor Kostyukov",
        "--agenda", "Mechanisms to implement a ceasefire",
        "--next-round", "in the coming weeks",
        username="duty1",
    )  # fmt: skip
    round_id = made["id"]
    minutes = desk.json(
        "talks", "minutes", "--channel", channel, "--round", round_id,
        "--text", "en=Both delegations will meet again.", "--text", "ru=Делегации встретятся.",
        username="duty1",
    )  # fmt: skip
    return channel, round_id, minutes["id"]


def test_minutes_signed_by_both_delegations_and_shown(desk: Desk) -> None:  # noqa: F811
    channel, round_id, minutes_id = talks(desk)
    code, out, err = desk.run(
        "talks", "sign", "--channel", channel, "--minutes", minutes_id, username="watch1"
    )
    assert code == 0, err
    assert out == f"Minutes {minutes_id} signed for {US}\n"
    code, _, err = desk.run(
        "talks", "sign", "--channel", channel, "--minutes", minutes_id, username="watch1"
    )
    assert code == 2
    assert err.startswith(f"Conflict: {US} has already signed the minutes {minutes_id}")

    async def sign(peer: Node) -> object:
        return await peer.talks.sign(as_role(peer, Role.SUPERVISOR, "chief"), channel, minutes_id)

    desk.from_peer(sign)
    shown = desk.json("talks", "show", "--channel", channel, "--round", round_id)
    assert shown["minutes"][0]["status"] == "signed"
    code, out, _ = desk.run("talks", "show", "--channel", channel, "--round", round_id)
    assert code == 0
    assert "Trilateral talks: Abu Dhabi, 2026-02-04T08:00:00Z to 2026-02-05T18:00:00Z" in out
    assert f"delegation of {US}: Steve Witkoff, Jared Kushner" in out
    assert f"signed by {RU} (chief) at" in out
    listed = desk.json("talks", "list", "--channel", channel, username="duty1")
    assert [r["id"] for r in listed] == [round_id]


def test_a_decline_and_bad_input_are_one_line(desk: Desk) -> None:  # noqa: F811
    channel, _, minutes_id = talks(desk)
    code, out, err = desk.run(
        "talks", "decline", "--channel", channel, "--minutes", minutes_id,
        "--reason", "Territory is left out", username="watch1",
    )  # fmt: skip
    assert code == 0, err
    assert out == f"Minutes {minutes_id} declined for {US}\n"
    code, _, err = desk.run(
        "talks", "minutes", "--channel", channel, "--round", "f" * 64, "--text", "en",
        username="duty1",
    )  # fmt: skip
    assert (code, err) == (2, "Invalid input: --text: 'en' is not KEY=TEXT")


def test_an_admin_opens_a_working_group_on_a_channel_of_its_own(desk: Desk) -> None:  # noqa: F811
    channel, round_id, _ = talks(desk)
    code, out, err = desk.run(
        "talks", "group", "--channel", channel, "--round", round_id,
        "--name", "Ceasefire mechanisms",
    )  # fmt: skip
    assert code == 0, err
    group = out.split("opened on channel ")[1].split(";")[0]
    assert group.startswith("ch_")
    assert group != channel
    assert f"invited: {RU}, each one's admin runs 'parley channel accept --channel {group}'" in out
    shown = desk.json("talks", "show", "--channel", channel, "--round", round_id)
    assert shown["working_groups"][0]["body"] == {
        "round": round_id,
        "name": "Ceasefire mechanisms",
        "channel": group,
        "by": "admin",
    }
    code, _, err = desk.run(
        "talks", "group", "--channel", channel, "--round", round_id, "--name", "x",
        username="duty1",
    )  # fmt: skip
    assert code == 2
    assert err.startswith("Forbidden: ")


def _cosigned(desk: Desk, node: Node) -> None:  # noqa: F811
    """Publish a checkpoint holding every stored event, and have ru-genstaff cosign it."""
    deadline = time.monotonic() + 10
    while node.store.log_size() < node.store.count_events():
        assert time.monotonic() < deadline, "the sequencer did not log every event"
        time.sleep(0.02)
    with httpx.Client(base_url=desk.url, trust_env=False) as http:
        login = {"username": "watch1", "password": PASSWORD}
        token = http.post("/api/v1/auth/token", json=login).json()["token"]
        published = http.post(
            "/api/v1/log/checkpoints", headers={"Authorization": f"Bearer {token}"}
        )
        assert published.status_code in (200, 201), published.text

    async def witness(peer: Node) -> object:
        return await peer.witness.witness_all()

    desk.from_peer(witness)


def test_an_excerpt_is_written_and_verifies_offline(
    desk: Desk,  # noqa: F811
    served: tuple[Node, str],
    tmp_path: Path,
) -> None:
    channel, round_id, minutes_id = talks(desk)
    _cosigned(desk, served[0])
    out = tmp_path / "for-nato.jsonl"
    released = desk.json(
        "excerpt", "--channel", channel, "--event", round_id, "--event", minutes_id,
        "--to", "nato", "--marking", "REL NATO", "--out", str(out), username="watch1",
    )  # fmt: skip
    assert released["cosigners"] == [RU]
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    code, text, err = invoke("verify", str(out), "--workers", "1")
    assert code == 0, err
    assert text.startswith(f"Excerpt of channel {channel}, released by {US} ")
    assert "to nato, marked REL NATO" in text
    assert "round Trilateral talks, Abu Dhabi" in text
    assert "VERDICT: VALID: 2 events" in text
    code, verdict, _ = invoke("verify", str(out), "--workers", "1", "--json")
    assert json.loads(verdict)["excerpt"] == {"to": "nato", "marking": "REL NATO"}

    tampered = tmp_path / "tampered.jsonl"
    tampered.write_bytes(out.read_bytes().replace(b"Abu Dhabi", b"Abu Dhabx"))
    code, text, _ = invoke("verify", str(tampered), "--workers", "1")
    assert code == 1
    assert text.startswith("VERDICT: INVALID: line ")
    code, _, err = desk.run(
        "excerpt", "--channel", channel, "--event", round_id, "--to", "nato",
        "--marking", "REL NATO", "--out", str(out), username="watch1",
    )  # fmt: skip
    assert code == 2
    assert "already exists" in err
