from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Coroutine, Iterable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from parley.errors import InvalidInput, ParleyError
from parley.protocol import decode_public_key, fingerprint
from parley.services import Node, Principal, Role, init_node

__all__ = ["app", "run_or_exit"]

app = typer.Typer(no_args_is_help=True, help="Parley: a signed, durable hotline between parties.")
operator_app = typer.Typer(no_args_is_help=True, help="Operators of this node.")
peer_app = typer.Typer(no_args_is_help=True, help="Other parties and their pinned keys.")
app.add_typer(operator_app, name="operator")
app.add_typer(peer_app, name="peer")

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)  # an error stays one line, however long
P = ParamSpec("P")
R = TypeVar("R")

DataDir = Annotated[Path, typer.Option("--data", help="The node's data folder.")]


def run_or_exit(fn: Callable[P, R]) -> Callable[P, R]:
    """Print a ParleyError as 'title: detail' and exit 2 instead of a traceback."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except ParleyError as exc:
            err_console.print(f"[bold red]{exc.title}[/]: {escape(exc.detail)}")
            raise typer.Exit(2) from exc

    return wrapper


def with_node(data: Path, action: Callable[[Node], Coroutine[Any, Any, R]]) -> R:
    node = Node.open(data)
    try:
        return asyncio.run(action(node))
    finally:
        node.close()


def console_principal(node: Node) -> Principal:
    """Whoever runs the CLI at the node's console holds its key file: an admin."""
    return Principal("console", Role.ADMIN, node.party)


def print_table(
    data: Path, columns: tuple[str, ...], rows: Callable[[Node], Iterable[tuple[str, ...]]]
) -> None:
    node = Node.open(data)
    try:
        table = Table(*columns)
        for row in rows(node):
            table.add_row(*row)
        console.print(table)
    finally:
        node.close()


@app.command()
@run_or_exit
def init(
    party: Annotated[str, typer.Option(help="This node's party id, e.g. us-eucom.")],
    name: Annotated[str, typer.Option(help="The party's full name.")],
    data: DataDir,
) -> None:
    """Create a node: its signing key (mode 0600), config file and database."""
    config = init_node(data, party, name)
    node = Node.open(data)
    try:
        console.print(f"Node [bold]{config.party}[/] created in {data}")
        console.print(f"Public key:  {node.public_key}")
        console.print(f"Fingerprint: {node.fingerprint}  (read it to peers out of band)")
    finally:
        node.close()


@app.command()
@run_or_exit
def serve(
    data: DataDir,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8701,
) -> None:
    """Run the node's HTTP API until interrupted."""
    import uvicorn

    from parley.api import create_app

    node = Node.open(data)
    try:
        console.print(f"Parley node {node.party} on http://{host}:{port}/api/v1 (docs: /docs)")
        uvicorn.run(create_app(node), host=host, port=port, log_level="warning", access_log=False)
    finally:
        node.close()


def read_password(password_file: Path | None) -> str:
    """From a file (first line) or an interactive prompt; never from argv."""
    if password_file is not None:
        lines = password_file.read_text("utf-8").splitlines()
        return lines[0] if lines else ""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    value: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


@operator_app.command("add")
@run_or_exit
def operator_add(
    data: DataDir,
    username: Annotated[str, typer.Option(help="Login name, e.g. duty1.")],
    role: Annotated[str, typer.Option(help="operator, supervisor, admin or auditor.")],
    password_file: Annotated[
        Path | None,
        typer.Option(
            help="Read the password from this file's first line.",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ] = None,
) -> None:
    """Add an operator; the password comes from a prompt, stdin or a file."""
    password = read_password(password_file)
    record = with_node(data, lambda node: node.operators.add(username, role, password))
    console.print(f"Operator [bold]{record.username}[/] added with role {record.role}")


@operator_app.command("list")
@run_or_exit
def operator_list(data: DataDir) -> None:
    """List the node's operators."""
    print_table(
        data,
        ("username", "role", "disabled"),
        lambda node: [
            (o.username, o.role, "yes" if o.disabled else "")
            for o in node.operators.list_operators(console_principal(node))
        ],
    )


@operator_app.command("disable")
@run_or_exit
def operator_disable(
    data: DataDir, username: Annotated[str, typer.Option(help="Login name.")]
) -> None:
    """Disable an operator and revoke every token it holds."""
    with_node(data, lambda node: node.operators.disable(console_principal(node), username))
    console.print(f"Operator {username} disabled; its tokens are revoked")


@peer_app.command("add")
@run_or_exit
def peer_add(
    data: DataDir,
    party: Annotated[str, typer.Option(help="The peer's party id, e.g. ru-genstaff.")],
    key: Annotated[str, typer.Option(help="The peer's public key (base64).")],
    name: Annotated[str, typer.Option(help="The peer's full name.")] = "",
    url: Annotated[
        list[str] | None,
        typer.Option(help="URL of the peer's node; repeat for other paths, tried in order."),
    ] = None,
) -> None:
    """Pin another party's public key. Compare the fingerprint with the peer out of band."""
    record = with_node(
        data,
        lambda node: node.pin_party(console_principal(node), party, name or party, key, url or []),
    )
    console.print(f"Pinned {record.party}: fingerprint {fingerprint(decode_public_key(key))}")


@peer_app.command("list")
@run_or_exit
def peer_list(data: DataDir) -> None:
    """List known parties: key fingerprints, link and direct path state, reachability, URLs."""

    def rows(node: Node) -> list[tuple[str, ...]]:
        links = {link.party: link for link in node.links.links(console_principal(node))}
        out: list[tuple[str, ...]] = []
        for p in node.parties(console_principal(node)):
            link = links.get(p.party)
            state = "self" if p.is_self else (link.state if link else "unknown")
            direct = link.direct if link else ("" if p.is_self else "unknown")
            rtt = f"{link.rtt_ms} ms" if link and link.rtt_ms is not None else ""
            reach = (
                ""
                if link is None
                else {None: "no", p.party: "yes"}.get(link.via, f"via {link.via}")
            )
            urls = " ".join(node.links.peer_urls(console_principal(node), p.party))
            key = fingerprint(decode_public_key(p.public_key))
            out.append((p.party, p.name, key, state, direct, rtt, reach, urls))
        return out

    columns = ("party", "name", "fingerprint", "link", "direct", "rtt", "reachable", "urls")
    print_table(data, columns, rows)


@app.command()
@run_or_exit
def send(
    node_url: Annotated[str, typer.Option("--node", help="URL of your node.")],
    username: Annotated[str, typer.Option(help="Your operator name.")],
    channel: Annotated[str, typer.Option(help="Channel id.")],
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
    password_file: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="Password's file.")
    ] = None,
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
        path = f"/api/v1/channels/{channel}/notifications"
        payload: dict[str, Any] = {"form": form, "data": data, "precedence": precedence}
    else:
        path = f"/api/v1/channels/{channel}/messages"
        payload = {"text": text, "lang": lang, "precedence": precedence}
    password = read_password(password_file)
    with httpx.Client(base_url=node_url, timeout=30, trust_env=False) as client:
        login = client.post("/api/v1/auth/token", json={"username": username, "password": password})
        _raise_problem(login)
        answer = client.post(
            path, json=payload, headers={"Authorization": f"Bearer {login.json()['token']}"}
        )
        _raise_problem(answer)
    sent = answer.json()
    if answer.status_code == 202:
        console.print(f"Draft {sent['draft']['id']} kept until a supervisor releases it")
        return
    console.print(
        f"Sent {sent['event']['type']} {sent['id']} (seq {sent['event']['seq']}), "
        f"acknowledge by {sent.get('deadline') or '-'}"
    )
    rendered = sent.get("rendered")
    if rendered:
        console.print(rendered["text"])


def _raise_problem(response: httpx.Response) -> None:
    """Turn the node's problem answer into the same error the node raised."""
    if response.is_success:
        return
    try:
        problem = response.json()
        detail = f"{problem.get('title', 'Error')}: {problem.get('detail', '')}"
    except ValueError:
        detail = response.text[:200]
    raise InvalidInput(f"the node answered {response.status_code}: {detail}")
