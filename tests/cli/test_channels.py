"""``parley channel``, ``events`` and ``ack`` against a node served on loopback, with the peer's
node pushing to it as it would over federation."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from parley.cli import _channels as cli_channels
from parley.services import Node, Role
from tests.cli.test_cli import invoke
from tests.conftest import PASSWORD, as_role

US, RU = "us-eucom", "ru-genstaff"


class Desk:
    """The served us-eucom node as its operators reach it with the CLI, and ru-genstaff's node."""

    def __init__(self, url: str, secret: Path, peer: Node, loop: asyncio.Runner) -> None:
        self.url, self.secret, self.peer, self.loop = url, secret, peer, loop

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

    def json(self, *command: str, username: str = "admin"):
        code, out, err = self.run(*command, "--json", username=username)
        assert code == 0, err
        return json.loads(out)

    def create(self) -> str:
        created = self.json("channel", "create", "--name", "hotline", "--member", RU)
        return str(created["id"])

    def from_peer(self, step) -> str:
        """On ru-genstaff's node: pull what us-eucom's node has, run ``step``, push back."""

        async def done() -> str:
            await self.peer.replicator.sync(US)
            value = await step(self.peer)
            await self.peer.replicator.push(US)
            return str(value)

        return self.loop.run(done())


@pytest.fixture
def desk(served, tmp_path: Path, clock) -> Iterator[Desk]:
    _node, url = served
    secret = tmp_path / "password"
    secret.write_text(PASSWORD + "\n", "utf-8")
    peer = Node.open(tmp_path / RU, clock=clock)
    with asyncio.Runner() as loop:  # one loop for the peer's node and its HTTP client
        loop.run(peer.set_peer_urls(as_role(peer, Role.ADMIN), US, [url]))
        yield Desk(url, secret, peer, loop)
        loop.run(peer.aclose())


def peer_invites(desk: Desk) -> str:
    async def invite(peer: Node) -> str:
        view = await peer.channels.create(as_role(peer, Role.ADMIN), "line", {US: "party"})
        return view.event.channel

    return desk.from_peer(invite)


# -- channel create / list ---------------------------------------------------------------------
def test_an_admin_creates_a_channel_and_lists_it_with_the_invited_party(desk: Desk) -> None:
    code, out, err = desk.run(
        "channel", "create", "--name", "hotline", "--member", f"{RU}=party", "--two-person"
    )
    assert code == 0, err
    channel = out.split()[1]
    assert out.startswith(f"Channel {channel} (hotline) created\n")
    assert (
        f"Invited: {RU}; each one's admin runs 'parley channel accept --channel {channel}'" in out
    )

    listed = desk.json("channel", "list", username="duty1")
    assert listed == [
        {
            "id": channel,
            "name": "hotline",
            "created_by": US,
            "status": "active",
            "members": {US: "party", RU: "party"},
            "invited": [RU],
            "two_person": True,
            "deadlines": {},
        }
    ]
    code, table, _ = desk.run("channel", "list", username="duty1")
    assert code == 0
    assert f"{RU} (party, invited), {US} (party)" in table


def test_create_as_json_answers_with_the_channel_and_its_signed_event(desk: Desk) -> None:
    created = desk.json("channel", "create", "--name", "hotline", "--member", RU)
    assert created["invited"] == [RU]
    assert created["event"]["event"]["type"] == "channel"


@pytest.mark.parametrize(
    ("username", "member", "says"),
    [
        ("duty1", RU, "Forbidden: role operator may not manage channels (the node answered 403)"),
        (
            "admin",
            "xx-nobody",
            "Unknown party: members.xx-nobody: unknown party: pin its key with 'parley peer add' "
            "first (the node answered 422)",
        ),
        (
            "admin",
            f"{RU}=chair",
            "Invalid input: members.ru-genstaff: Input should be 'party', 'mediator' or "
            "'observer' (the node answered 422)",
        ),
    ],
    ids=["not-an-admin", "unknown-party", "unknown-role"],
)
def test_a_refused_channel_is_one_line_with_the_nodes_reason(
    desk: Desk, username: str, member: str, says: str
) -> None:
    code, _, err = desk.run(
        "channel", "create", "--name", "x", "--member", member, username=username
    )
    assert (code, err) == (2, says)
    assert desk.json("channel", "list") == []


# -- accept, suspend, resume ---------------------------------------------------------------------
def test_an_invited_partys_admin_accepts_and_the_channel_shows_no_one_invited(desk: Desk) -> None:
    channel = peer_invites(desk)
    assert desk.json("channel", "list")[0]["invited"] == [US]

    code, out, err = desk.run("channel", "accept", "--channel", channel)

    assert code == 0, err
    assert out == f"Accepted {channel} as {US}\n"
    assert desk.json("channel", "list")[0]["invited"] == []
    code, _, err = desk.run("channel", "accept", "--channel", channel)
    assert (code, err) == (
        2,
        f"Conflict: {US} is already an active member of {channel} (the node answered 409)",
    )


def test_a_suspended_channel_takes_no_message_until_it_is_resumed(desk: Desk) -> None:
    channel = desk.create()
    line = ("send", "--channel", channel, "--text", "Line check")

    code, out, _ = desk.run("channel", "suspend", "--channel", channel, "--reason", "talks off")
    assert (code, out) == (0, f"Channel {channel} is suspended: talks off\n")
    code, _, err = desk.run(*line, username="duty1")
    assert (code, err) == (
        2,
        f"Conflict: channel {channel} is suspended; nothing can be sent on it "
        "(the node answered 409)",
    )
    code, out, _ = desk.run("channel", "resume", "--channel", channel, "--reason", "talks on")
    assert (code, out) == (0, f"Channel {channel} is active: talks on\n")
    code, out, err = desk.run(*line, username="duty1")
    assert code == 0, err
    assert out.startswith("Sent message ")


# -- events and ack ------------------------------------------------------------------------------
def test_a_duty_officer_reads_the_peers_message_and_acknowledges_it_once(desk: Desk) -> None:
    channel = peer_invites(desk)
    desk.run("channel", "accept", "--channel", channel)

    async def say(peer: Node) -> str:
        view, _ = await peer.channels.post_message(
            as_role(peer, Role.OPERATOR, "ivanov"),
            channel,
            precedence="flash",
            text="Exercise\nnotice",  # control characters never get stored at all
            lang="en",
        )
        return view.event.id

    message = desk.from_peer(say)

    code, out, err = desk.run("events", "--channel", channel, username="duty1")
    assert code == 0, err
    (line,) = [row for row in out.splitlines() if f"id {message}" in row]
    assert f"{RU} message (flash): Exercise\\nnotice [" in line  # one line

    code, out, err = desk.run("ack", "--channel", channel, "--event", message, username="duty1")
    assert code == 0, err
    assert out.startswith(f"Acknowledged {message}: ack ")
    assert out.endswith(" by duty1\n")
    code, again, _ = desk.run("ack", "--channel", channel, "--event", message, username="watch1")
    assert again.startswith(f"Already acknowledged {message}: ack ")
    assert again.endswith(" by duty1\n")  # the first acknowledgement, not a second one

    page = desk.json("events", "--channel", channel, username="duty1")
    shown = {item["id"]: item for item in page["items"]}
    assert shown[message]["status"] == "acknowledged"


def test_events_leave_out_receipts_and_link_tests_unless_asked(desk: Desk) -> None:
    channel = desk.create()

    async def receipt(peer: Node) -> str:
        view = await peer.channels.append_system(channel, "receipt")
        return view.event.id

    desk.from_peer(lambda peer: peer.channels.accept(as_role(peer, Role.ADMIN), channel))
    receipt_id = desk.from_peer(receipt)

    code, out, _ = desk.run("events", "--channel", channel, username="duty1")
    assert code == 0
    assert receipt_id not in out
    assert out.splitlines()[-1].endswith(" receipts and link tests left out; --all shows them)")
    code, everything, _ = desk.run("events", "--channel", channel, "--all", username="duty1")
    assert f"{RU} receipt [" in everything
    assert receipt_id in everything


def test_channel_list_follows_the_pages_of_the_node(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = []
    for name in ("hotline", "incidents", "exchanges"):
        code, out, err = desk.run("channel", "create", "--name", name, "--member", f"{RU}=party")
        assert code == 0, err
        opened.append(out.split()[1])
    monkeypatch.setattr(cli_channels, "CHANNEL_PAGE", 2)

    listed = desk.json("channel", "list", username="duty1")

    assert sorted(c["id"] for c in listed) == sorted(opened)
