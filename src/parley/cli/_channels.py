"""``parley channel``: open, accept, list, suspend and resume channels, through your node's API.

Each of these but ``list`` signs a channel event, so it goes through the running node that
holds the channel, logged in as an admin (``list``: any operator).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from ._client import (
    AsJson,
    ChannelId,
    NodeUrl,
    PasswordFile,
    Username,
    segment,
    session,
)
from ._main import app, console, print_json, printable, run_or_exit

__all__ = ["CHANNEL_PAGE", "channel_app"]

CHANNEL_PAGE = 1000  # the most the node gives in one page

channel_app = typer.Typer(
    no_args_is_help=True,
    help="Channels between parties: an admin opens one, each invited party's admin accepts it.",
)
app.add_typer(channel_app, name="channel")


@channel_app.command("create")
@run_or_exit
def channel_create(
    node_url: NodeUrl,
    username: Username,
    name: Annotated[str, typer.Option(help="The channel's name, e.g. hotline.")],
    member: Annotated[
        list[str],
        typer.Option(
            metavar="PARTY[=ROLE]",
            help="A party to invite, with its role: party (default), mediator or observer; "
            "repeat for each. Its key must be pinned ('parley peer add').",
        ),
    ],
    two_person: Annotated[
        bool, typer.Option(help="Every notification needs a supervisor's release.")
    ] = False,
    password_file: PasswordFile = None,
    as_json: AsJson = False,
) -> None:
    """Open a channel and invite other parties; each party's admin accepts it on its node."""
    members = dict(_member(option) for option in member)
    payload = {"name": name, "members": members, "two_person": two_person}
    with session(node_url, username, password_file) as node:
        created = node.call("POST", "/channels", payload).body
    if as_json:
        print_json(created)
        return
    console.print(f"Channel {created['id']} ({escape(printable(name))}) created")
    console.print(
        f"Invited: {', '.join(created['invited'])}; each one's admin runs "
        f"'parley channel accept --channel {created['id']}' on its own node"
    )


def _member(option: str) -> tuple[str, str]:
    party, _, role = option.partition("=")
    return party, role or "party"


@channel_app.command("accept")
@run_or_exit
def channel_accept(
    node_url: NodeUrl,
    username: Username,
    channel: ChannelId,
    password_file: PasswordFile = None,
) -> None:
    """Accept an invitation: your party becomes an active member, with a signed event."""
    with session(node_url, username, password_file) as node:
        accepted = node.call("POST", f"/channels/{segment(channel)}/accept").body
    console.print(f"Accepted {channel} as {accepted['event']['author']}")


@channel_app.command("list")
@run_or_exit
def channel_list(
    node_url: NodeUrl,
    username: Username,
    password_file: PasswordFile = None,
    as_json: AsJson = False,
) -> None:
    """Your party's channels: id, name, status and members (invited: not accepted yet)."""
    with session(node_url, username, password_file) as node:
        channels = node.every_page("/channels", {}, CHANNEL_PAGE)
    if as_json:
        print_json(channels)
        return
    table = Table("id", "name", "status", "members", "created by")
    for c in channels:
        table.add_row(
            c["id"], escape(printable(c["name"])), c["status"], _members(c), c["created_by"]
        )
    console.print(table)


def _members(channel: dict[str, Any]) -> str:
    invited = set(channel["invited"])
    return ", ".join(
        f"{party} ({role}{', invited' if party in invited else ''})"
        for party, role in channel["members"].items()
    )


def _status_command(status: str) -> Callable[..., None]:
    def set_status(
        node_url: NodeUrl,
        username: Username,
        channel: ChannelId,
        reason: Annotated[str, typer.Option(help="Why, for every member to read.")],
        password_file: PasswordFile = None,
    ) -> None:
        body = {"status": status, "reason": reason}
        with session(node_url, username, password_file) as node:
            node.call("POST", f"/channels/{segment(channel)}/status", body)
        console.print(f"Channel {channel} is {status}: {escape(printable(reason))}")

    return run_or_exit(set_status)


channel_app.command(
    "suspend", help="Suspend a channel: nothing can be sent on it until it is resumed."
)(_status_command("suspended"))
channel_app.command("resume", help="Resume a suspended channel.")(_status_command("active"))
