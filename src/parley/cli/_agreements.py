"""``parley agreement``: propose, sign, amend or extend, list and show agreements, through
your node's API."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from parley.clock import format_ts, parse_ts
from parley.errors import InvalidInput

from ._client import (
    AgreementId,
    AsJson,
    ChannelId,
    NodeSession,
    NodeUrl,
    PasswordFile,
    Username,
    segment,
    session,
)
from ._main import app, console, print_json, printable, run_or_exit

__all__ = ["agreement_app"]

agreement_app = typer.Typer(
    no_args_is_help=True,
    help="Agreements between parties: proposed, signed by every party, amended or extended.",
)
app.add_typer(agreement_app, name="agreement")

JsonFile = Annotated[
    Path | None, typer.Option(exists=True, dir_okay=False, help="The request's body (JSON).")
]


@agreement_app.command("propose")
@run_or_exit
def propose(
    node_url: NodeUrl,
    username: Username,
    channel: ChannelId,
    file: JsonFile = None,
    kind: Annotated[
        str, typer.Option(help="moratorium, ceasefire, exchange, treaty or other.")
    ] = "moratorium",
    title: Annotated[str | None, typer.Option(help="Its title (without --file).")] = None,
    party: Annotated[
        list[str] | None, typer.Option("--party", help="A party to it; give it once per party.")
    ] = None,
    mediator: Annotated[str | None, typer.Option(help="Its mediator, if any.")] = None,
    category: Annotated[
        list[str] | None, typer.Option("--category", help="A category of sites it protects.")
    ] = None,
    start: Annotated[
        str | None, typer.Option(help="Start of its term, e.g. 2026-03-18T00:00:00Z (now).")
    ] = None,
    days: Annotated[
        float | None, typer.Option(min=0, help="Length of its term (none: open-ended).")
    ] = None,
    text: Annotated[str | None, typer.Option(help="Its text (without --file).")] = None,
    lang: Annotated[str, typer.Option(help="Language of --text.")] = "en",
    password_file: PasswordFile = None,
    as_json: AsJson = False,
) -> None:
    """Propose an agreement on a channel: from --file (the API's body), or from the options.

    Your proposal counts as your party's signature; it is in force once every party signed.
    """
    if file is not None:
        proposal = _read_json(file)
    else:
        if title is None or text is None:
            raise InvalidInput.for_field("title", "give --title and --text, or --file")
        begins = _moment(start, "--start") if start else datetime.now(UTC)
        ends = None if days is None else format_ts(begins + timedelta(days=days))
        proposal = {
            "kind": kind,
            "title": title,
            "parties": party or [],
            "mediator": mediator,
            "scope": {"categories": category} if category else {},
            "term": {"start": format_ts(begins), "end": ends},
            "texts": {lang: text},
        }
    with session(node_url, username, password_file) as node:
        shown = node.call("POST", f"/channels/{segment(channel)}/agreements", proposal).body
    _answer(shown, "Proposed", as_json)


@agreement_app.command("sign")
@run_or_exit
def sign(
    node_url: NodeUrl,
    username: Username,
    agreement: AgreementId,
    version: Annotated[
        str | None, typer.Option(help="The version you sign; it must be the latest (default).")
    ] = None,
    password_file: PasswordFile = None,
    as_json: AsJson = False,
) -> None:
    """Sign the latest version of an agreement for your party."""
    with session(node_url, username, password_file) as node:
        path = f"/agreements/{segment(agreement)}/signatures"
        shown = node.call("POST", path, {"version": version}).body
    _answer(shown, "Signed", as_json)


@agreement_app.command("amend")
@run_or_exit
def amend(
    node_url: NodeUrl,
    username: Username,
    agreement: AgreementId,
    file: JsonFile = None,
    until: Annotated[str | None, typer.Option(help="A new end of its term.")] = None,
    extend_days: Annotated[
        float | None, typer.Option(min=0, help="Extend its term by this many days.")
    ] = None,
    reason: Annotated[str | None, typer.Option(help="Why, as every party reads it.")] = None,
    password_file: PasswordFile = None,
    as_json: AsJson = False,
) -> None:
    """A new version of an agreement: from --file (term, scope, texts), or an extension of
    its term (--until or --extend-days). Every party signs it again before it applies."""
    if (file is None) == (until is None and extend_days is None):
        raise InvalidInput.for_field("file", "give --file, or --until or --extend-days")
    with session(node_url, username, password_file) as node:
        if file is None:
            change = _extension(node, agreement, until, extend_days)
        else:
            change = _read_json(file)
        if reason is not None:
            change["reason"] = reason
        shown = node.call("POST", f"/agreements/{segment(agreement)}/amendments", change).body
    _answer(shown, "Amended", as_json)


@agreement_app.command("list")
@run_or_exit
def list_agreements(
    node_url: NodeUrl,
    username: Username,
    channel: ChannelId,
    password_file: PasswordFile = None,
    as_json: AsJson = False,
) -> None:
    """The agreements proposed on a channel, each with its status and who signed it."""
    with session(node_url, username, password_file) as node:
        listed = node.call("GET", f"/channels/{segment(channel)}/agreements").body
    if as_json:
        print_json(listed)
        return
    table = Table("id", "kind", "title", "status", "term", "signed by")
    for shown in listed:
        table.add_row(
            shown["id"],
            shown["kind"],
            escape(printable(shown["title"], 60)),
            shown["status"],
            _term(shown["term"]),
            ", ".join(s["party"] for s in shown["signatures"]),
        )
    console.print(table)


@agreement_app.command("show")
@run_or_exit
def show(
    node_url: NodeUrl,
    username: Username,
    agreement: AgreementId,
    password_file: PasswordFile = None,
    as_json: AsJson = False,
) -> None:
    """An agreement: its term, its status, and who signed each version when."""
    with session(node_url, username, password_file) as node:
        shown = node.call("GET", f"/agreements/{segment(agreement)}").body
    if as_json:
        print_json(shown)
        return
    console.print(escape(f"{printable(shown['title'])} ({shown['kind']}), {shown['status']}"))
    console.print(f"id {shown['id']} on {shown['channel']}")
    mediator = f", mediator {shown['mediator']}" if shown["mediator"] else ""
    console.print(f"parties {', '.join(shown['parties'])}{mediator}")
    console.print(f"term {_term(shown['term'])}; in force from {shown['in_force_from'] or '-'}")
    for number, version in enumerate(shown["versions"], 1):
        what = "proposal" if number == 1 else f"amendment {number - 1}"
        why = f": {printable(version['reason'])}" if version["reason"] else ""
        console.print(escape(f"{what} {version['id']} by {version['author']}{why}"))
        for signature in version["signatures"]:
            console.print(f"  signed by {signature['party']} at {signature['at']}")
    for lang, text in shown["texts"].items():
        console.print(escape(f"[{lang}] {printable(text, 400)}"))


def _answer(shown: dict[str, Any], done: str, as_json: bool) -> None:
    if as_json:
        print_json(shown)
        return
    waiting = sorted(set(shown["parties"]) - {s["party"] for s in shown["signatures"]})
    status = shown["status"] + (f", waiting for {', '.join(waiting)}" if waiting else "")
    console.print(f"{done} agreement {shown['id']} ({status}); term {_term(shown['term'])}")


def _extension(
    node: NodeSession, agreement: str, until: str | None, extend_days: float | None
) -> dict[str, Any]:
    """The term of the latest version, with its end moved."""
    shown = node.call("GET", f"/agreements/{segment(agreement)}").body
    latest = shown["versions"][-1]["term"]
    if until is not None:
        end = format_ts(_moment(until, "--until"))
    elif latest["end"] is None:
        raise InvalidInput.for_field("--extend-days", "the term is open-ended; give --until")
    else:
        end = format_ts(parse_ts(latest["end"]) + timedelta(days=extend_days or 0))
    return {"term": {"start": latest["start"], "end": end}}


def _term(term: dict[str, Any]) -> str:
    return f"{term['start']} to {term['end'] or 'open-ended'}"


def _moment(text: str, where: str) -> datetime:
    try:
        return parse_ts(text)
    except ValueError as exc:
        raise InvalidInput.for_field(where, "must be a UTC time ending in Z") from exc


def _read_json(file: Path) -> dict[str, Any]:
    try:
        value = json.loads(file.read_text("utf-8"))
    except ValueError as exc:
        raise InvalidInput.for_field("--file", f"{file} is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise InvalidInput.for_field("--file", f"{file} must hold a JSON object")
    return value
