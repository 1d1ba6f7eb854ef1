"""``parley demo``: a node of us-eucom with seeded operators and the restored hotline."""

from __future__ import annotations

import asyncio
import json
import secrets
import tempfile
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any

import typer

from parley.services import Node, Principal, Role, init_node

from ._main import app, console, console_principal, run_or_exit

__all__ = ["seed_demo"]

ROLES = (
    ("admin", Role.ADMIN),
    ("duty1", Role.OPERATOR),
    ("watch1", Role.SUPERVISOR),
    ("audit1", Role.AUDITOR),
)


def _scenario() -> dict[str, Any]:
    text = files("parley.cli").joinpath("demo_scenario.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


async def seed_demo(root: Path) -> dict[str, str]:
    """Create both parties' nodes under ``root``, open the hotline and play the messages.

    Returns the operators' passwords of the us-eucom node. The ru-genstaff node signs
    its own events, which us-eucom verifies and stores the way federation will deliver
    them.
    """
    scenario = _scenario()
    nodes = {}
    for party, name in scenario["parties"].items():
        init_node(root / party, party, name)
        nodes[party] = Node.open(root / party)
    try:
        for party, node in nodes.items():
            for other, peer in nodes.items():
                if other != party:
                    await node.pin_party(
                        console_principal(node), other, scenario["parties"][other], peer.public_key
                    )
        passwords = {}
        for username, role in ROLES:
            passwords[username] = secrets.token_urlsafe(12)
            for node in nodes.values():
                await node.operators.add(username, role.value, passwords[username])
        await _play(nodes, scenario)
        return passwords
    finally:
        for node in nodes.values():
            node.close()


async def _play(nodes: dict[str, Node], scenario: dict[str, Any]) -> None:
    us, ru = nodes["us-eucom"], nodes["ru-genstaff"]
    opened = await us.channels.create(
        Principal("admin", Role.ADMIN, us.party), scenario["channel"], {ru.party: "party"}
    )
    channel = opened.event.channel
    await ru.channels.ingest([opened.event])
    accepted = await ru.channels.accept(console_principal(ru), channel)
    await us.channels.ingest([accepted.event])
    received = []
    for message in scenario["messages"]:
        author = nodes[message["author"]]
        duty = Principal("duty1", Role.OPERATOR, author.party)
        view, _ = await author.channels.post_message(
            duty,
            channel,
            precedence=message["precedence"],
            text=message["text"],
            lang=message["lang"],
        )
        other = ru if author is us else us
        await other.channels.ingest([view.event])
        if other is us:
            received.append(view.event)
    # The exercise notice is acknowledged; the flash line test is left for the operator.
    ack, _ = await us.channels.acknowledge(
        Principal("duty1", Role.OPERATOR, us.party), channel, received[0].id
    )
    await ru.channels.ingest([ack.event])


@app.command()
@run_or_exit
def demo(
    data: Annotated[
        Path | None, typer.Option("--data", help="Folder for the demo's nodes (default: new).")
    ] = None,
    port: Annotated[int, typer.Option(help="Port of the us-eucom node.")] = 8701,
    serve: Annotated[bool, typer.Option(help="Serve the node after seeding it.")] = True,
) -> None:
    """Seed a us-eucom node with the restored hotline to ru-genstaff, then serve it."""
    root = data or Path(tempfile.mkdtemp(prefix="parley-demo-"))
    passwords = asyncio.run(seed_demo(root))
    url = f"http://127.0.0.1:{port}"
    console.print(f"[bold]Parley demo[/] in {root}")
    console.print(f"Node us-eucom: {url}/api/v1   (OpenAPI: {url}/docs)")
    for username, role in ROLES:
        console.print(f"  {role.value:<10} {username:<7} password {passwords[username]}")
    console.print(
        "Log in:  curl -s -X POST " + url + "/api/v1/auth/token -H 'content-type: application/json'"
        ' -d \'{"username":"duty1","password":"' + passwords["duty1"] + "\"}'"
    )
    if serve:
        from ._main import serve as serve_command

        serve_command(root / "us-eucom", host="127.0.0.1", port=port)
