"""``parley init``, ``serve`` and ``node show``, ``rotate-key``, ``revoke-key``: a node's
identity and key, and serving its API."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import json
import os
import socket
import ssl
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Final

import typer
from rich.markup import escape

from parley.errors import Conflict, InvalidInput
from parley.protocol import parse_fingerprint
from parley.services import (
    KEY_FILE,
    PASSPHRASE_ENV,
    KeyChange,
    Node,
    Rejoined,
    check_passphrase,
    init_node,
    key_is_encrypted,
    restored,
    server_context,
    write_private,
)

from ._logs import FORMATS, LEVELS, checked_choice, configured_logging
from ._main import (
    DataDir,
    app,
    audit_shown,
    console,
    console_principal,
    print_json,
    run_or_exit,
    with_node,
)
from ._workers import run_workers

__all__ = ["node_app"]

node_app = typer.Typer(no_args_is_help=True, help="This node: its party, key and address.")
app.add_typer(node_app, name="node")

# Where 'parley serve' last listened, for 'parley node show': the node cannot know it otherwise.
SERVED_FILE: Final = "served.json"
# The new passphrase of a key file already encrypted: PARLEY_KEY_PASSPHRASE still opens it.
NEW_PASSPHRASE_ENV: Final = "PARLEY_NEW_KEY_PASSPHRASE"  # noqa: S105 - a variable name
# Held (shared) while 'parley serve' runs; a key change takes it alone, so it never runs
# beside a node that would go on signing with the old key.
LOCK_FILE: Final = "node.lock"
JsonOption = Annotated[bool, typer.Option("--json", help="One JSON object, for scripts.")]
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
    encrypt_key: Annotated[
        bool,
        typer.Option(
            "--encrypt-key",
            help=f"Encrypt node.key under a passphrase: {PASSPHRASE_ENV}, or asked twice.",
        ),
    ] = False,
) -> None:
    """Create a node: its signing key (mode 0600), config file and database."""
    passphrase = _new_passphrase(PASSPHRASE_ENV) if encrypt_key else None
    config = init_node(data, party, name, passphrase=passphrase)
    node = Node.open(data, passphrase=passphrase)
    try:
        console.print(f"Node [bold]{config.party}[/] created in {data}")
        console.print(f"Public key:  {node.public_key}")
        console.print(f"Fingerprint: {node.fingerprint}  (read it to peers out of band)")
        if passphrase is not None:
            console.print(f"node.key is encrypted: the node opens it with {PASSPHRASE_ENV}")
    finally:
        node.close()


@app.command()
@run_or_exit
def serve(
    data: DataDir,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port; 0: any free one.")] = 8701,
    tls_cert: Annotated[
        Path | None,
        typer.Option(
            dir_okay=False, help="Certificate chain (PEM) to serve https; default: tls_cert."
        ),
    ] = None,
    tls_key: Annotated[
        Path | None,
        typer.Option(dir_okay=False, help="Private key (PEM) of --tls-cert; default: tls_key."),
    ] = None,
    log_level: Annotated[
        str | None,
        typer.Option(help=f"Least level logged: {', '.join(LEVELS)}; default: log_level."),
    ] = None,
    log_format: Annotated[
        str | None,
        typer.Option(help="Log lines on stderr: console (text) or json; default: log_format."),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="Processes serving the node, sharing the port; more than one needs a "
            "PostgreSQL database_url (docs/deploy.md).",
        ),
    ] = 1,
) -> None:
    """Run the node's HTTP API until interrupted: https with a certificate, else http.

    It logs to standard error: one line per request, the audit trail, and the failures of
    its background duties. A node restored from a backup first takes back from its peers
    what it signed since, and does not start if it cannot ('parley node rejoin').
    """
    if restored(data) is not None:
        _print_rejoined(_rejoin(data, force=False))
    node = Node.open(data)
    try:
        level = _chosen(log_level, "--log-level", node.settings.log_level, LEVELS)
        form = _chosen(log_format, "--log-format", node.settings.log_format, FORMATS)
        tls = server_context(data, node.settings, tls_cert, tls_key)
        if workers > 1 and not node.store.shared:
            raise InvalidInput.for_field(
                "--workers",
                "a node on SQLite is served by one process; set database_url to a PostgreSQL "
                "database to run several (docs/deploy.md)",
            )
        _serve(node, data, Listening(host, port, tls, workers), (level, form))
    finally:
        node.close()


def _chosen(given: str | None, option: str, setting: str, choices: tuple[str, ...]) -> str:
    """The option if given, else the setting, as one of ``choices``."""
    if given is not None:
        return checked_choice(given, choices, option)
    return checked_choice(setting, choices, f"settings.{option[2:].replace('-', '_')}")


@dataclass(frozen=True)
class Listening:
    """Where and how ``parley serve`` answers."""

    host: str
    port: int
    tls: ssl.SSLContext | None
    workers: int


def _serve(node: Node, data: Path, listening: Listening, logs: tuple[str, str]) -> None:
    """Serve ``node``: in this process, or (``workers`` > 1) in that many forked from it,
    each opening the node again, since a process must not share database connections."""
    from parley.api import ACCESS_LOGGER, RequestIdFilter

    level, form = logs
    with (
        configured_logging(level, form, always=(ACCESS_LOGGER,), stamps=(RequestIdFilter(),)),
        _folder_lock(data, exclusive=False),
    ):
        host, port = listening.host, listening.port
        listener = _listen(host, port)
        scheme = "http" if listening.tls is None else "https"
        url = f"{scheme}://{_in_url(host)}:{listener.getsockname()[1]}"
        served = {"url": url, "since": datetime.now(UTC).isoformat(timespec="seconds")}
        write_private(data / SERVED_FILE, [json.dumps(served).encode() + b"\n"], replace=True)
        workers = f", {listening.workers} workers" if listening.workers > 1 else ""
        console.print(f"Parley node {node.party} on {url}/api/v1 (docs: /docs){workers}")
        if listening.workers == 1:
            _uvicorn(node, listener, listening, level)
            return
        node.close()  # each worker opens its own

        def work() -> None:
            worker = Node.open(data)
            try:
                _uvicorn(worker, listener, listening, level)
            finally:
                worker.close()

        run_workers(listening.workers, work)


def _uvicorn(node: Node, listener: socket.socket, listening: Listening, level: str) -> None:
    import uvicorn

    from parley.api import create_app

    tls = listening.tls
    config = uvicorn.Config(
        create_app(node),
        host=listening.host,
        port=listening.port,
        # The handler configured above, not uvicorn's; the access log is the node's own.
        log_config=None,
        log_level=level,
        access_log=False,
        ssl_context_factory=None if tls is None else _given(tls),
        # h11, not httptools: it bounds a request's head, which httptools lets grow
        # without end; an idle connection is closed after timeout_keep_alive.
        http="h11",
        h11_max_incomplete_event_size=MAX_REQUEST_HEAD_BYTES,
        timeout_keep_alive=KEEP_ALIVE_S,
        # Forwarded headers name the client the login throttle counts: believed from the
        # proxies an operator listed, never from any local process (uvicorn's default).
        proxy_headers=bool(node.settings.trusted_proxies),
        forwarded_allow_ips=node.settings.trusted_proxies or "",
    )
    uvicorn.Server(config).run(sockets=[listener])


@contextlib.contextmanager
def _folder_lock(data: Path, *, exclusive: bool) -> Iterator[None]:
    """The data folder's lock: shared by a serving node, exclusive for a key change. A folder
    that is not there has no node to lock: opening it says so."""
    if not data.is_dir():
        yield
        return
    with os.fdopen(os.open(data / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600), "r+b") as handle:
        try:
            fcntl.flock(handle, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise Conflict(
                f"a node is serving {data}: stop it before changing its key"
                if exclusive
                else f"the key of the node in {data} is being changed; start it afterwards"
            ) from exc
        yield


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


def _given(tls: ssl.SSLContext) -> Callable[[Any, Any], ssl.SSLContext]:
    """uvicorn's hook for a context of our own, built and checked before the node listens."""
    return lambda _config, _default: tls


def _new_passphrase(source: str) -> str:
    """A passphrase to encrypt node.key with: from the environment variable ``source``, else
    asked twice at a terminal."""
    if given := os.environ.get(source):
        return check_passphrase(given)
    if not sys.stdin.isatty():
        raise InvalidInput.for_field("passphrase", f"no terminal to ask it at: set {source}")
    asked: str = typer.prompt("Passphrase of node.key", hide_input=True, confirmation_prompt=True)
    return check_passphrase(asked)


@node_app.command("encrypt-key")
@run_or_exit
def node_encrypt_key(data: DataDir) -> None:
    """Encrypt node.key under a passphrase, or change its passphrase, in place.

    The new passphrase is asked twice at a terminal, or read from PARLEY_KEY_PASSPHRASE; for
    a key already encrypted, which PARLEY_KEY_PASSPHRASE (or key_passphrase_file) opens, the
    new one is read from PARLEY_NEW_KEY_PASSPHRASE. A node then opens the key with
    PARLEY_KEY_PASSPHRASE or the setting key_passphrase_file.
    """
    node = Node.open(data)
    try:
        source = NEW_PASSPHRASE_ENV if key_is_encrypted(data) else PASSPHRASE_ENV
        passphrase = _new_passphrase(source)
        with audit_shown():
            node.protect_key(console_principal(node), passphrase)
    finally:
        node.close()
    console.print(
        f"{data / KEY_FILE} is encrypted; the node opens it with {PASSPHRASE_ENV} "
        "or the setting key_passphrase_file"
    )


@node_app.command("decrypt-key")
@run_or_exit
def node_decrypt_key(data: DataDir) -> None:
    """Write node.key in clear again, in place: whoever reads it can then sign as the party.

    The key opens as on every command: PARLEY_KEY_PASSPHRASE or the setting key_passphrase_file.
    """
    node = Node.open(data)
    try:
        if not key_is_encrypted(data):
            raise Conflict(f"{data / KEY_FILE} is not encrypted")
        with audit_shown():
            node.protect_key(console_principal(node), None)
    finally:
        node.close()
    console.print(f"{data / KEY_FILE} is in clear: whoever reads it can sign as {node.party}")


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


@node_app.command("rejoin")
@run_or_exit
def node_rejoin(
    data: DataDir,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Sign again although a peer did not answer or holds more of this node's "
            "chain than it took back: a seq it used may then be used again (a fork).",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """After a restore: take back from the peers what this node signed since the backup.

    Every peer with a URL is asked for its heads and pulled from, this node's own chains
    included. Until then the node signs nothing; 'parley serve' does this itself.
    """
    rejoined = _rejoin(data, force=force)
    if as_json:
        print_json(
            {
                "answered": rejoined.answered,
                "unreachable": rejoined.unreachable,
                "pulled": rejoined.pulled,
                "own_heads": rejoined.own_heads,
                "forced": rejoined.forced,
            }
        )
        return
    _print_rejoined(rejoined)


def _rejoin(data: Path, *, force: bool) -> Rejoined:
    node = Node.open(data, rejoining=True)

    async def run() -> Rejoined:
        try:
            return await node.rejoin(force=force)
        finally:
            await node.aclose()

    return asyncio.run(run())


def _print_rejoined(rejoined: Rejoined) -> None:
    asked = ", ".join(rejoined.answered) or "none"
    console.print(f"Rejoined: {rejoined.pulled} events taken back from {asked}")
    if rejoined.forced:
        unanswered = "; ".join(f"{p}: {why}" for p, why in rejoined.unreachable.items())
        console.print(
            "[bold]Forced[/]: signing again without every peer's account of this node's chains"
            + escape(f" ({unanswered})" if unanswered else "")
        )


@node_app.command("rotate-key")
@run_or_exit
def node_rotate_key(data: DataDir, as_json: JsonOption = False) -> None:
    """Replace this node's key with a new one, with the node stopped.

    A key_change event, signed by the old key with a proof by the new one, goes on every
    channel of this party; peers accept the new key through it. The old key file is kept as
    node.key.<fingerprint>.old (mode 0600).
    """
    with _folder_lock(data, exclusive=True), audit_shown():
        change = with_node(data, lambda node: node.rotate_key(console_principal(node)))
    kept = f"node.key.{change.old.replace(' ', '-')}.old"
    lines = [
        f"Rotated the key of {change.party}",
        f"Old key: {change.old}  (kept as {kept})",
        f"New key: {change.new}  valid from {change.valid_from}",
    ]
    _print_change(change, as_json, lines, "key_change")


@node_app.command("revoke-key")
@run_or_exit
def node_revoke_key(
    data: DataDir,
    compromised_since: Annotated[
        str,
        typer.Option(
            help="UTC time from which the old key is compromised, e.g. 2026-02-05T14:00:00Z."
        ),
    ],
    fingerprint: Annotated[
        str | None, typer.Option(help="The earlier key to revoke (default: the one just rotated).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Declare an earlier key of this node compromised since a time, after rotating it.

    A key_revocation event, signed by the current key, goes on every channel: peers refuse
    what the old key signed since then and flag what they stored.
    """
    printed = None if fingerprint is None else parse_fingerprint(fingerprint, "--fingerprint")
    with _folder_lock(data, exclusive=True), audit_shown():
        change = with_node(
            data,
            lambda node: node.keys.revoke_own(console_principal(node), compromised_since, printed),
        )
    lines = [
        f"Revoked {change.old} of {change.party}: compromised since {change.valid_from}",
        f"Current key: {change.new}",
    ]
    _print_change(change, as_json, lines, "key_revocation")


def _print_change(change: KeyChange, as_json: bool, lines: list[str], kind: str) -> None:
    if as_json:
        print_json(
            {
                "party": change.party,
                "old": change.old,
                "new": change.new,
                "valid_from": change.valid_from,
                "events": change.events,
            }
        )
        return
    for line in lines:
        console.print(line)
    console.print(f"{kind} events: {change.events}, one per channel, sent when the node serves")
