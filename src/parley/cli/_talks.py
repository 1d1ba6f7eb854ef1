"""``parley talks``: rounds of talks and their minutes, through your node's API.

A duty officer records a round and drafts its minutes; a supervisor signs or declines the
minutes for the party, once; the minutes are signed when every delegation has signed. An
admin opens a round's working groups, each on a channel of its own.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from parley.errors import InvalidInput

from ._client import AsJson, ChannelId, NodeUrl, PasswordFile, Username, segment, session
from ._main import app, console, print_json, printable, run_or_exit

__all__ = ["talks_app"]

talks_app = typer.Typer(
    no_args_is_help=True,
    help="Talks: rounds, their working groups and minutes, signed by every delegation.",
)
app.add_typer(talks_app, name="talks")

RoundId = Annotated[str, typer.Option("--round", help="The round's id (its event's id).")]
MinutesId = Annotated[str, typer.Option("--minutes", help="The minutes' id (their event's id).")]


def _pairs(options: list[str], option: str) -> list[tuple[str, str]]:
    pairs = []
    for value in options:
        key, sep, text = value.partition("=")
        if not sep or not key or not text:
            raise InvalidInput.for_field(option, f"{value!r} is not KEY=TEXT")
        pairs.append((key, text))
    return pairs


@talks_app.command("round")
@run_or_exit
def talks_round(
    node_url: NodeUrl,
    username: Username,
    channel: ChannelId,
    title: Annotated[str, typer.Option(help="What the round is, e.g. its format and number.")],
    start: Annotated[str, typer.Option(help="When it starts, UTC: 2026-02-04T08:00:00Z.")],
    venue: Annotated[str, typer.Option(help="Where it meets, e.g. Abu Dhabi.")],
    host: Annotated[str, typer.Option(help="The host's party id.")],
    delegation: Annotated[
        list[str],
        typer.Option(
            metavar="PARTY=NAME",
            help="A member of a party's delegation; repeat for each person and party.",
        ),
    ],
    agenda: Annotated[list[str], typer.Option(help="An item of the agenda; repeat for each.")],
    end: Annotated[str | None, typer.Option(help="When it ends, UTC.")] = None,
    outcome: Annotated[str | None, typer.Option(help="What it came to.")] = None,
    next_round: Annotated[str | None, typer.Option(help="When and where it meets next.")] = None,
    supersedes: Annotated[
        str | None, typer.Option(help="The id of a round of yours this one corrects.")
    ] = None,
    password_file: PasswordFile = None,
    as_json: AsJson = False,
) -> None:
    """Record a round of talks on a channel, as its host or one of its delegations."""
    delegations: dict[str, list[str]] = {}
    for party, name in _pairs(delegation, "--delegation"):
        delegations.setdefault(party, []).append(name)
    payload: dict[str, Any] = {
        "title": title,
        "start": start,
        "end": end,
        "venue": venue,
        "host": host,
        "delegations": delegations,
        "agenda": agenda,
        "outcome": outcome,
        "next_round": next_round,
        "supersedes": supersedes,
    }
    payload = {k: v for k, v in payload.items() if v is not None}
    with session(node_url, username, password_file) as node:
        made = node.call("POST", f"/channels/{segment(channel)}/rounds", payload).body
    if as_json:
        print_json(made)
        return
    console.print(f"Round {made['id']} recorded on {channel}")


@talks_app.command("group")
@run_or_exit
def talks_group(
    node_url: NodeUrl,
    username: Username,
    channel: ChannelId,
    round_id: RoundId,
    name: Annotated[str, typer.Option(help="The group's name, e.g. its subject.")],
    password_file: PasswordFile = None,
    as_json: AsJson = False,
) -> None:
    """Open a working group of a round (an admin): a channel of its own with the round's
    delegations as members, recorded on the round's channel."""
    path = f"/channels/{segment(channel)}/rounds/{segment(round_id)}/working-groups"
    with session(node_url, username, password_file) as node:
        made = node.call("POST", path, {"name": name}).body
    if as_json:
        print_json(made)
        return
    opened = made["channel"]["event"]
    invited = ", ".join(sorted(set(opened["body"]["members"]) - {opened["author"]}))
    console.print(
        f"Working group {escape(printable(name))} of round {round_id} opened on channel "
        f"{opened['channel']}; invited: {invited}, each one's admin runs 'parley channel accept "
        f"--channel {opened['channel']}'"
    )


@talks_app.command("minutes")
@run_or_exit
def talks_minutes(
    node_url: NodeUrl,
    username: Username,
    channel: ChannelId,
    round_id: RoundId,
    text: Annotated[
        list[str],
        typer.Option(metavar="LANG=TEXT", help="The minutes in one language; repeat for each."),
    ],
    password_file: PasswordFile = None,
    as_json: AsJson = False,
) -> None:
    """Draft the minutes of a round, for every delegation to sign or decline."""
    payload = {"texts": dict(_pairs(text, "--text"))}
    path = f"/channels/{segment(channel)}/rounds/{segment(round_id)}/minutes"
    with session(node_url, username, password_file) as node:
        made = node.call("POST", path, payload).body
    if as_json:
        print_json(made)
        return
    console.print(f"Minutes {made['id']} of round {round_id} drafted")


@talks_app.command("sign")
@run_or_exit
def talks_sign(
    node_url: NodeUrl,
    username: Username,
    channel: ChannelId,
    minutes: MinutesId,
    password_file: PasswordFile = None,
) -> None:
    """Sign minutes for your party (a supervisor): once, and not after declining them."""
    path = f"/channels/{segment(channel)}/minutes/{segment(minutes)}/signatures"
    with session(node_url, username, password_file) as node:
        signed = node.call("POST", path).body
    console.print(f"Minutes {minutes} signed for {signed['event']['author']}")


@talks_app.command("decline")
@run_or_exit
def talks_decline(
    node_url: NodeUrl,
    username: Username,
    channel: ChannelId,
    minutes: MinutesId,
    reason: Annotated[str, typer.Option(help="Why, for every delegation to read.")],
    password_file: PasswordFile = None,
) -> None:
    """Decline to sign minutes for your party (a supervisor), giving the reason."""
    path = f"/channels/{segment(channel)}/minutes/{segment(minutes)}/declines"
    with session(node_url, username, password_file) as node:
        declined = node.call("POST", path, {"reason": reason}).body
    console.print(f"Minutes {minutes} declined for {declined['event']['author']}")


@talks_app.command("list")
@run_or_exit
def talks_list(
    node_url: NodeUrl,
    username: Username,
    channel: ChannelId,
    password_file: PasswordFile = None,
    as_json: AsJson = False,
) -> None:
    """The rounds of a channel, oldest first: id, start, venue, host, delegations."""
    with session(node_url, username, password_file) as node:
        rounds = node.call("GET", f"/channels/{segment(channel)}/rounds").body
    if as_json:
        print_json(rounds)
        return
    table = Table("id", "start", "title", "venue", "host", "delegations", "corrected by")
    for item in rounds:
        body = item["body"]
        table.add_row(
            item["id"],
            body["start"],
            escape(printable(body["title"])),
            escape(printable(body["venue"])),
            body["host"],
            ", ".join(sorted(body["delegations"])),
            item["superseded_by"] or "",
        )
    console.print(table)


@talks_app.command("show")
@run_or_exit
def talks_show(
    node_url: NodeUrl,
    username: Username,
    channel: ChannelId,
    round_id: RoundId,
    password_file: PasswordFile = None,
    as_json: AsJson = False,
) -> None:
    """A round: its agenda, delegations, outcome, working groups, and who signed its minutes."""
    path = f"/channels/{segment(channel)}/rounds/{segment(round_id)}"
    with session(node_url, username, password_file) as node:
        detail = node.call("GET", path).body
    if as_json:
        print_json(detail)
        return
    for line in round_lines(detail):
        console.print(escape(line))


def round_lines(detail: dict[str, Any]) -> list[str]:
    body = detail["round"]["body"]
    when = body["start"] + (f" to {body['end']}" if "end" in body else "")
    lines = [
        f"{printable(body['title'])}: {printable(body['venue'])}, {when}, hosted by {body['host']}",
        *(
            f"  delegation of {party}: {', '.join(printable(n) for n in names)}"
            for party, names in sorted(body["delegations"].items())
        ),
        *(f"  agenda: {printable(item)}" for item in body["agenda"]),
    ]
    if "outcome" in body:
        lines.append(f"  outcome: {printable(body['outcome'])}")
    if "next_round" in body:
        lines.append(f"  next round: {printable(body['next_round'])}")
    for group in detail["working_groups"]:
        lines.append(
            f"  working group {printable(group['body']['name'])} on {group['body']['channel']}"
        )
    for minutes in detail["minutes"]:
        lines.extend(minutes_lines(minutes))
    return lines


def minutes_lines(minutes: dict[str, Any]) -> list[str]:
    lines = [
        f"  minutes {minutes['id']} ({', '.join(sorted(minutes['texts']))}): {minutes['status']}"
    ]
    for party, answer in sorted(minutes["signatures"].items()):
        lines.append(f"    signed by {party} ({answer['by']}) at {answer['ts']}")
    for party, answer in sorted(minutes["declines"].items()):
        lines.append(
            f"    declined by {party} ({answer['by']}) at {answer['ts']}: "
            f"{printable(answer['reason'])}"
        )
    if minutes["waiting"]:
        lines.append(f"    waiting for {', '.join(minutes['waiting'])}")
    return lines
