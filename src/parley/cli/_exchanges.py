"""``parley exchange``: lists of persons of an exchange, through your node's API (operators
with the ``exchange`` permission), and ``parley operator grant`` at the node's console."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from parley.errors import InvalidInput, ParleyError

from ._admin import operator_app
from ._client import AgreementId, AsJson, NodeUrl, PasswordFile, Username, segment, session
from ._main import (
    DataDir,
    app,
    audit_shown,
    console,
    console_principal,
    err_console,
    print_json,
    run_or_exit,
    with_node,
)

__all__ = ["exchange_app"]

exchange_app = typer.Typer(
    no_args_is_help=True,
    help="Exchanges of persons: lists sealed to the parties and the mediator, verified by it.",
)
app.add_typer(exchange_app, name="exchange")

ListId = Annotated[str, typer.Option("--list", help="The list's id (its event's).")]


def _path(agreement: str, *rest: str) -> str:
    return "/".join([f"/exchanges/{segment(agreement)}", *map(segment, rest)])


def _call(
    node_url: str,
    username: str,
    password_file: Path | None,
    method: str,
    path: str,
    payload: Any = None,
) -> Any:
    with session(node_url, username, password_file) as node:
        return node.call(method, path, payload).body


@exchange_app.command("status")
@run_or_exit
def exchange_status(
    node_url: NodeUrl,
    username: Username,
    agreement: AgreementId,
    password_file: PasswordFile = None,
    as_json: AsJson = False,
) -> None:
    """Where an exchange stands: keys, lists, verifications, completion (no person)."""
    state = _call(node_url, username, password_file, "GET", _path(agreement))
    if as_json:
        print_json(state)
        return
    counts = ", ".join(f"{c} {n}" for c, n in state["counts"].items()) or "not set"
    console.print(f"Exchange {state['agreement']}: {escape(state['title'])}")
    console.print(
        f"  status {state['status']}; each side hands over {counts}; mediator {state['mediator']}"
    )
    console.print(
        f"  keys published by {', '.join(state['keys']) or 'nobody'}; ours {state['key']}"
    )
    for item in state["lists"]:
        mark = "current" if item["current"] else "superseded"
        verification = item["verification"]
        checked = "not verified"
        if verification is not None:
            queried = verification["queried"]
            checked = (
                f"verified by {verification['by']} at {verification['ts']}"
                if not queried
                else f"{len(queried)} rows queried by {verification['by']} at {verification['ts']}"
            )
        console.print(
            f"  list {item['id']} of {item['party']} ({mark}): {item['rows']} rows, "
            f"submitted by {item['by']} at {item['ts']}; {checked}"
        )
    done = state["completed"]
    if done is not None:
        console.print(f"  completed by {done['by']} at {done['ts']}")


@exchange_app.command("join")
@run_or_exit
def exchange_join(
    node_url: NodeUrl,
    username: Username,
    agreement: AgreementId,
    password_file: PasswordFile = None,
    as_json: AsJson = False,
) -> None:
    """Publish your node's key for the exchange, so that lists are sealed to it too."""
    answer = _call(node_url, username, password_file, "POST", _path(agreement, "key"))
    if as_json:
        print_json(answer)
    else:
        console.print("Key published" if answer["event"] else "The key was already published")


@exchange_app.command("submit")
@run_or_exit
def exchange_submit(
    node_url: NodeUrl,
    username: Username,
    agreement: AgreementId,
    file: Annotated[
        Path,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="The list: CSV with the columns name, latin, born, "
            "category, unit, or JSON; UTF-8.",
        ),
    ],
    check_only: Annotated[
        bool, typer.Option("--check-only", help="Report every problem; submit nothing.")
    ] = False,
    password_file: PasswordFile = None,
    as_json: AsJson = False,
) -> None:
    """Check a list row by row and submit it sealed to the parties and the mediator (it
    supersedes your party's earlier list). Any blocking problem refuses the list whole; each
    is printed on its own line."""
    fmt = "json" if file.suffix.lower() == ".json" else "csv"
    payload = {
        "format": fmt,
        "data": base64.b64encode(file.read_bytes()).decode("ascii"),
        "check_only": check_only,
    }
    try:
        answer = _call(
            node_url, username, password_file, "POST", _path(agreement, "lists"), payload
        )
    except InvalidInput as exc:
        _print_errors(exc, as_json)
        raise
    if as_json:
        print_json(answer)
        return
    for problem in answer["problems"]:
        where = "list" if problem["row"] is None else f"row {problem['row']}"
        console.print(f"{where}: {problem['field']}: {escape(problem['message'])}")
    if answer["list_id"] is None:
        console.print(f"{answer['rows']} rows read, {len(answer['problems'])} problems")
    else:
        console.print(f"List {answer['list_id']} submitted: {answer['rows']} rows")


def _print_errors(exc: ParleyError, as_json: bool) -> None:
    if as_json:
        print_json({"errors": [{"field": e.field, "message": e.message} for e in exc.errors]})
        return
    for error in exc.errors:
        err_console.print(f"{error.field}: {escape(error.message)}")


@exchange_app.command("read")
@run_or_exit
def exchange_read(
    node_url: NodeUrl,
    username: Username,
    agreement: AgreementId,
    list_id: ListId,
    password_file: PasswordFile = None,
    as_json: AsJson = False,
) -> None:
    """A list's persons, opened with your node's key (the read is in the audit trail)."""
    opened = _call(node_url, username, password_file, "GET", _path(agreement, "lists", list_id))
    if as_json:
        print_json(opened)
        return
    if opened["note"]:
        console.print(f"The mediator's note: {escape(opened['note'])}")
    for row, person in enumerate(opened["persons"], start=1):
        console.print(
            f"{row:>5}  {escape(person['name'])} ({escape(person['latin'])}), born "
            f"{person['born']}, {person['category']}, {escape(person['unit'])}"
        )


@exchange_app.command("verify")
@run_or_exit
def exchange_verify(
    node_url: NodeUrl,
    username: Username,
    agreement: AgreementId,
    list_id: ListId,
    query: Annotated[
        list[str] | None,
        typer.Option(
            metavar="ROW=REASON",
            help="A row the mediator queries and why (duplicate, already_exchanged, identity, "
            "date_of_birth, not_held, category, other); repeat. Every other row is verified.",
        ),
    ] = None,
    note: Annotated[
        str | None, typer.Option(help="Words to the parties, sealed to them like the list.")
    ] = None,
    password_file: PasswordFile = None,
    as_json: AsJson = False,
) -> None:
    """The mediator marks a list's rows verified or queried."""
    queried = dict(_query(option) for option in query or [])
    path = _path(agreement, "lists", list_id, "verification")
    payload = {"queried": queried, "note": note}
    event = _call(node_url, username, password_file, "POST", path, payload)
    if as_json:
        print_json(event)
    elif queried:
        console.print(f"List {list_id}: {len(queried)} rows queried, the others verified")
    else:
        console.print(f"List {list_id}: every row verified")


def _query(option: str) -> tuple[str, str]:
    row, sep, reason = option.partition("=")
    if not sep or not row.isdigit():
        raise InvalidInput.for_field("--query", f"{option!r} is not ROW=REASON")
    return row, reason


@exchange_app.command("complete")
@run_or_exit
def exchange_complete(
    node_url: NodeUrl,
    username: Username,
    agreement: AgreementId,
    password_file: PasswordFile = None,
    as_json: AsJson = False,
) -> None:
    """The mediator completes the exchange: every list verified, the counts as agreed."""
    event = _call(node_url, username, password_file, "POST", _path(agreement, "completion"))
    if as_json:
        print_json(event)
    else:
        console.print(f"Exchange {agreement} completed")


@exchange_app.command("shred")
@run_or_exit
def exchange_shred(
    node_url: NodeUrl,
    username: Username,
    agreement: AgreementId,
    password_file: PasswordFile = None,
    as_json: AsJson = False,
) -> None:
    """Destroy your node's key of a completed exchange after its retention period: its
    events keep verifying, its lists can no longer be read here."""
    _call(node_url, username, password_file, "POST", _path(agreement, "shred"))
    if as_json:
        print_json({"agreement": agreement, "key": "shredded"})
    else:
        console.print(f"The key of exchange {agreement} is destroyed on this node")


@operator_app.command("grant")
@run_or_exit
def operator_grant(
    data: DataDir,
    username: Annotated[str, typer.Option(help="Login name.")],
    permission: Annotated[str, typer.Option(help="exchange: read and submit exchange lists.")],
) -> None:
    """Give an operator a permission beyond its role."""
    with audit_shown():
        added = with_node(
            data,
            lambda node: node.exchanges.grant(console_principal(node), username, permission),
        )
    console.print(
        f"Operator {username} {'now has' if added else 'already had'} the {permission} permission"
    )
