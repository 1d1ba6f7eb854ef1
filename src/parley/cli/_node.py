"""``parley init``, ``serve`` and ``node show``: a node's identity, and serving its API."""

from __future__ import annotations

import errno
import json
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Final

import typer
from rich.markup import escape

from parley.errors import Conflict, InvalidInput
from parley.services import Node, init_node, write_private

from ._main import DataDir, app, audit_shown, console, print_json, run_or_exit

__all__ = ["node_app"]

node_app = typer.Typer(no_args_is_help=True, help="This node: its party, key and address.")
app.add_typer(node_app, name="node")

# Where 'parley serve' last listened, for 'parley node show': the node cannot know it otherwise.
SERVED_FILE: Final = "served.json"
# A request's line and headers: a bearer token or the federation signature headers need
# well under 1 KiB.
MAX_REQUEST_HEAD_BYTES: Final = 16 * 1024
KEEP_ALIVE_S: Final = 5  # how long a connection may idle between two requests


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
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port; 0: any free one.")] = 8701,
) -> None:
    """Run the node's HTTP API until interrupted."""
    import uvicorn

    from parley.api import create_app

    node = Node.open(data)
    try:
        listener = _listen(host, port)
        url = f"http://{_in_url(host)}:{listener.getsockname()[1]}"
        served = {"url": url, "since": datetime.now(UTC).isoformat(timespec="seconds")}
        write_private(data / SERVED_FILE, [json.dumps(served).encode() + b"\n"], replace=True)
        console.print(f"Parley node {node.party} on {url}/api/v1 (docs: /docs)")
        config = uvicorn.Config(
            create_app(node),
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            # h11, not httptools: it bounds a request's head, which httptools lets grow
            # without end; an idle connection is closed after timeout_keep_alive.
            http="h11",
            h11_max_incomplete_event_size=MAX_REQUEST_HEAD_BYTES,
            timeout_keep_alive=KEEP_ALIVE_S,
        )
        with audit_shown():
            uvicorn.Server(config).run(sockets=[listener])
    finally:
        node.close()


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound before the node says where it serves."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except socket.gaierror as exc:
        detail = f"{host!r} is not an address: {exc.strerror}"
        raise InvalidInput.for_field("--host", detail) from exc
    try:
        return socket.create_server((host, port), family=family, backlog=2048)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise Conflict(
                f"port {port} on {host} is in use by another program; stop it or choose "
                "another --port"
            ) from exc
        field = "--port" if exc.errno == errno.EACCES else "--host"
        detail = f"cannot listen on {host} port {port}: {exc.strerror}"
        raise InvalidInput.for_field(field, detail) from exc


def _in_url(host: str) -> str:
    return f"[{host}]" if ":" in host else host


@node_app.command("show")
@run_or_exit
def node_show(
    data: DataDir,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object, for scripts.")] = False,
) -> None:
    """What another party needs to pin this node: party, name, public key, fingerprint, URL.

    Send the key to the other party; read the fingerprint to them over a second channel
    (a call), so that they can compare it with what 'parley peer add' prints.
    """
    node = Node.open(data)
    try:
        shown: dict[str, Any] = {
            "party": node.party,
            "name": node.config.name,
            "public_key": node.public_key,
            "fingerprint": node.fingerprint,
            "urls": _served_urls(data),
        }
    finally:
        node.close()
    if as_json:
        print_json(shown)
        return
    console.print(f"Party:       {shown['party']}")
    console.print(f"Name:        {escape(shown['name'])}")
    console.print(f"Public key:  {shown['public_key']}")
    console.print(f"Fingerprint: {shown['fingerprint']}")
    urls = " ".join(shown["urls"]) or "unknown: not served yet ('parley serve' prints it)"
    console.print(f"Served at:   {urls}")


def _served_urls(data: Path) -> list[str]:
    """Where 'parley serve' last listened on this folder, if it did."""
    try:
        served = json.loads((data / SERVED_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return []
    url = served.get("url") if isinstance(served, dict) else None
    return [url] if isinstance(url, str) else []
