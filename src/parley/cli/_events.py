"""``parley send``, ``events`` and ``ack``: a duty officer's work, through your node's API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from parley.errors import InvalidInput

from ._client import AsJson, ChannelId, NodeUrl, PasswordFile, Username, segment, session
from ._main import app, console, print_json, printable, run_or_exit

__all__: list[str] = []

# Events a node signs on its own, many a day: left out of 'parley events' unless --all.
_ROUTINE = frozenset({"receipt", "link_test"})


@app.command()
@run_or_exit
def send(
    node_url: NodeUrl,
    username: Username,
    channel: ChannelId,
    form: Annotated[
        str | None, typer.Option(help="Form id, e.g. military_activity/1; data from --file.")
    ] = None,
    file: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="The form's data (JSON).")
    ] = None,
    text: Annotated[str | None, typer.Option(help="A hotline message instead of a form.")] = None,
    lang: Annotated[str, typer.Option(help="Language of --text.")] = "en",
    precedence: Annotated[str, typer.Option(help="flash, immediate, priority, routine.")] = (
        "routine"
    ),
    password_file: PasswordFile = None,
    as_json: AsJson = False,
) -> None:
    """Send a message or a formatted notification through your node's API."""
    if (form is None) == (text is None):
        raise InvalidInput.for_field("form", "give either --form with --file, or --text")
    if form is not None:
        if file is None:
            raise InvalidInput.for_field("file", "--form needs --file with the form's data")
        try:
            data = json.loads(file.read_text("utf-8"))
        except ValueError as exc:
            raise InvalidInput.for_field("file", f"{file} is not valid JSON: {exc}") from exc
        path = f"/channels/{segment(channel)}/notifications"
        payload: dict[str, Any] = {"form": form, "data": data, "precedence": precedence}
    else:
        path = f"/channels/{segment(channel)}/messages"
        payload = {"text": text, "lang": lang, "precedence": precedence}
    with session(node_url, username, password_file) as node:
        answer = node.call("POST", path, payload)
    sent = answer.body
    if as_json:
        print_json(sent)
    elif answer.status == 202:
        console.print(f"Draft {sent['draft']['id']} kept until a supervisor releases it")
    else:
        console.print(
            f"Sent {sent['event']['type']} {sent['id']} (seq {sent['event']['seq']}), "
            f"acknowledge by {sent.get('deadline') or '-'}"
        )
        rendered = sent.get("rendered")
        if rendered:
            console.print(escape(rendered["text"]))


@app.command()
@run_or_exit
def events(
    node_url: NodeUrl,
    username: Username,
    channel: ChannelId,
    after: Annotated[int, typer.Option(min=0, help="Only events after this position.")] = 0,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many.")] = 100,
    show_all: Annotated[
        bool, typer.Option("--all", help="Also the receipts and link tests nodes sign.")
    ] = False,
    password_file: PasswordFile = None,
    as_json: AsJson = False,
) -> None:
    """List a channel's events as your node holds them, oldest first.

    Each line: position, time, author, what, status (sent, delivered, acknowledged) and the
    id that 'parley ack' takes.
    """
    with session(node_url, username, password_file) as node:
        page = node.call(
            "GET",
            f"/channels/{segment(channel)}/events",
            params={"after": after, "limit": limit},
        ).body
    if as_json:
        print_json(page)
        return
    shown = [item for item in page["items"] if show_all or item["event"]["type"] not in _ROUTINE]
    for item in shown:
        console.print(escape(_line(item)))
    hidden = len(page["items"]) - len(shown)
    if hidden:
        console.print(f"({hidden} receipts and link tests left out; --all shows them)")
    if page["next_after"] is not None:
        console.print(f"More: --after {page['next_after']}")


def _line(item: dict[str, Any]) -> str:
    event = item["event"]
    status = item["status"] + (", OVERDUE" if item["overdue"] else "")
    return (
        f"#{item['pos']} {event['ts']} {event['author']} {_what(event)} [{status}] id {item['id']}"
    )


def _what(event: dict[str, Any]) -> str:
    body = event["body"]
    kind = event["type"]
    if kind == "message":
        return f"message ({body.get('precedence')}): {printable(str(body.get('text')), 100)}"
    if kind == "notification":
        return f"notification {printable(str(body.get('form')))}"
    if kind in ("ack", "cancellation"):
        return f"{kind} of {str(body.get('event'))[:12]}"
    if kind == "channel_status":
        return f"channel {printable(str(body.get('status')))}"
    return printable(kind)


@app.command()
@run_or_exit
def ack(
    node_url: NodeUrl,
    username: Username,
    channel: ChannelId,
    event: Annotated[str, typer.Option(help="The event's id, as 'parley events' shows it.")],
    password_file: PasswordFile = None,
    as_json: AsJson = False,
) -> None:
    """Acknowledge another party's event: you have read it and accept it.

    A party acknowledges an event once: doing it again shows the first acknowledgement.
    """
    with session(node_url, username, password_file) as node:
        answer = node.call("POST", f"/channels/{segment(channel)}/events/{segment(event)}/ack")
    signed = answer.body
    if as_json:
        print_json(signed)
        return
    done = "Acknowledged" if answer.status == 201 else "Already acknowledged"
    console.print(f"{done} {event}: ack {signed['id']} by {signed['event']['body']['by']}")
