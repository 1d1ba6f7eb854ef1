"""``parley operator`` and ``parley peer``: set up on the node's data folder, served or not.

These write no event, so they need no running node; a running one reads what they change
(operators, pinned keys, URLs) on its next use of it. ``operator approve`` is the exception:
a second person approves an account as themselves, logged in to the running node.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from parley.clock import format_ms
from parley.protocol import decode_public_key, fingerprint, parse_fingerprint
from parley.services import Node

from ._client import AsJson, NodeUrl, PasswordFile, Username, segment, session
from ._main import (
    DataDir,
    ListJson,
    Record,
    app,
    audit_shown,
    console,
    console_principal,
    print_json,
    print_table,
    read_password,
    run_or_exit,
    with_node,
)

__all__ = ["operator_app", "peer_app"]

operator_app = typer.Typer(no_args_is_help=True, help="Operators of this node.")
peer_app = typer.Typer(no_args_is_help=True, help="Other parties and their pinned keys.")
app.add_typer(operator_app, name="operator")
app.add_typer(peer_app, name="peer")

PeerParty = Annotated[str, typer.Option("--party", help="The peer's party id, e.g. ru-genstaff.")]
PeerUrls = Annotated[
    list[str] | None,
    typer.Option("--url", help="URL of the peer's node; repeat for other paths, tried in order."),
]


@operator_app.command("add")
@run_or_exit
def operator_add(
    data: DataDir,
    username: Annotated[str, typer.Option(help="Login name, e.g. duty1.")],
    role: Annotated[str, typer.Option(help="operator, supervisor, admin or auditor.")],
    person: Annotated[
        str | None,
        typer.Option(
            help="Who is behind the account, e.g. a service number; one account per person "
            "(default: the username)."
        ),
    ] = None,
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
    """Add an operator, active at once: whoever holds the node's host answers for it. The
    password comes from a prompt, stdin or a file."""
    password = read_password(password_file, confirm=True)
    with audit_shown():
        record = with_node(
            data, lambda node: node.operators.add(username, role, password, person=person)
        )
    console.print(
        f"Operator [bold]{record.username}[/] added with role {record.role}, "
        f"person {escape(record.person)}"
    )


@operator_app.command("list")
@run_or_exit
def operator_list(data: DataDir, as_json: ListJson = False) -> None:
    """List the node's operators: role, state, person, who made, approved and last changed each
    account, and when."""
    print_table(
        data,
        ("username", "role", "disabled", "pending", "person", "created", "approved", "changed"),
        lambda node: [
            {
                "username": o.username,
                "role": o.role,
                "disabled": o.disabled,
                "pending": o.pending,
                "person": o.person,
                **_by_at("created", o.created_by, o.created_ms),
                **_by_at("approved", o.approved_by, o.approved_ms),
                **_by_at("changed", o.changed_by, o.changed_ms),
            }
            for o in node.operators.list_operators(console_principal(node))
        ],
        lambda o: (
            o["username"],
            o["role"],
            "yes" if o["disabled"] else "",
            "yes" if o["pending"] else "",
            o["person"],
            *(_shown(o[f"{what}_by"], o[f"{what}_at"]) for what in _CHANGES),
        ),
        as_json,
    )


_CHANGES = ("created", "approved", "changed")


def _by_at(what: str, by: str | None, at_ms: int | None) -> dict[str, str | None]:
    """Who and when, as far as the node knows (nothing before it kept them)."""
    return {f"{what}_by": by, f"{what}_at": None if at_ms is None else format_ms(at_ms)}


def _shown(by: str | None, at: str | None) -> str:
    return " ".join(part for part in (by, at) if part)


@operator_app.command("disable")
@run_or_exit
def operator_disable(
    data: DataDir, username: Annotated[str, typer.Option(help="Login name.")]
) -> None:
    """Disable an operator and revoke every token it holds."""
    with audit_shown():
        with_node(data, lambda node: node.operators.disable(console_principal(node), username))
    console.print(f"Operator {username} disabled; its tokens are revoked")


@operator_app.command("approve")
@run_or_exit
def operator_approve(
    node_url: NodeUrl,
    username: Username,
    operator: Annotated[str, typer.Option(help="The pending account to approve.")],
    password_file: PasswordFile = None,
    as_json: AsJson = False,
) -> None:
    """Let an account an admin made through the API log in: you must be a supervisor, or an
    admin other than the one who made it."""
    with session(node_url, username, password_file) as node:
        approved = node.call("POST", f"/operators/{segment(operator)}/approve").body
    if as_json:
        print_json(approved)
        return
    console.print(
        f"Operator {approved['username']} ({approved['role']}) approved by {username}; "
        "it may now log in"
    )


@peer_app.command("add")
@run_or_exit
def peer_add(
    data: DataDir,
    party: PeerParty,
    key: Annotated[str, typer.Option(help="The peer's public key (base64, 'parley node show').")],
    name: Annotated[str, typer.Option(help="The peer's full name.")] = "",
    url: PeerUrls = None,
) -> None:
    """Pin another party's public key. Compare the fingerprint with the peer out of band."""
    with audit_shown():
        record = with_node(
            data,
            lambda node: node.pin_party(
                console_principal(node), party, name or party, key, url or []
            ),
        )
    console.print(f"Pinned {record.party}: fingerprint {fingerprint(decode_public_key(key))}")


@peer_app.command("set-urls")
@run_or_exit
def peer_set_urls(data: DataDir, party: PeerParty, url: PeerUrls = None) -> None:
    """Replace the URLs of a peer's node, tried in order; none: this node stops calling it.

    The peer may still call this node, and its key stays pinned.
    """
    with audit_shown():
        urls = with_node(
            data, lambda node: node.set_peer_urls(console_principal(node), party, url or [])
        )
    now = " ".join(urls) or "none: this node no longer calls it"
    console.print(f"URLs of {party}: {now}")


@peer_app.command("remove")
@run_or_exit
def peer_remove(data: DataDir, party: PeerParty) -> None:
    """Unpin a peer (a key pinned by mistake), with its URLs and link state.

    Refused while a channel, a cosignature or a split view of this node names the peer: its
    key is what proves those, so it stays pinned ('peer set-urls' with no --url stops calls).
    """
    with audit_shown():
        record = with_node(data, lambda node: node.remove_peer(console_principal(node), party))
    print_ = fingerprint(decode_public_key(record.public_key))
    console.print(f"Unpinned {record.party} (fingerprint {print_}); its URLs are forgotten")


PeerArgument = Annotated[str, typer.Argument(help="The peer's party id, e.g. ru-genstaff.")]


@peer_app.command("rekey")
@run_or_exit
def peer_rekey(
    data: DataDir,
    party: PeerArgument,
    key: Annotated[str, typer.Option(help="The peer's new public key (base64).")],
    yes: Annotated[bool, typer.Option("--yes", help="Re-pin without asking.")] = False,
) -> None:
    """Re-pin a peer's key out of band, when no key_change of it can reach this node.

    Shows the fingerprints of the pinned key and of the new one: compare the new one with the
    peer over a second channel (a call) before confirming.
    """
    node = Node.open(data)
    try:
        old, new = node.keys.rekey_preview(party, key)
    finally:
        node.close()
    console.print(f"Pinned key of {party}: {old}")
    console.print(f"New key:{' ' * (len(party) + 6)}{new}")
    if not yes:
        typer.confirm(f"Replace the pinned key of {party}?", abort=True)
    with audit_shown():
        change = with_node(data, lambda n: n.keys.rekey(console_principal(n), party, key))
    console.print(f"Re-pinned {party}: {change.new}, valid from {change.valid_from}")


@peer_app.command("revoke-key")
@run_or_exit
def peer_revoke_key(
    data: DataDir,
    party: PeerArgument,
    fingerprint_: Annotated[
        str, typer.Option("--fingerprint", help="The fingerprint of the compromised key.")
    ],
    since: Annotated[str, typer.Option(help="UTC time from which it is compromised.")],
) -> None:
    """Declare a key of a peer compromised since a time, on word received out of band.

    Its events signed since are refused from now on; those already stored are flagged by a
    critical alert, not deleted.
    """
    printed = parse_fingerprint(fingerprint_, "--fingerprint")
    with audit_shown():
        change = with_node(
            data, lambda n: n.keys.revoke_peer(console_principal(n), party, printed, since)
        )
    console.print(f"Key {change.old} of {party} is compromised since {change.valid_from}")
    console.print(f"Current key of {party}: {change.new}")


@peer_app.command("list")
@run_or_exit
def peer_list(data: DataDir, as_json: ListJson = False) -> None:
    """List known parties: key fingerprints, link and direct path state, reachability, URLs."""

    def records(node: Node) -> list[Record]:
        links = {link.party: link for link in node.links.links(console_principal(node))}
        out: list[Record] = []
        for p in node.parties(console_principal(node)):
            link = links.get(p.party)
            out.append(
                {
                    "party": p.party,
                    "name": p.name,
                    "fingerprint": fingerprint(decode_public_key(p.public_key)),
                    "link": "self" if p.is_self else (link.state if link else "unknown"),
                    "direct": link.direct if link else (None if p.is_self else "unknown"),
                    "rtt_ms": link.rtt_ms if link else None,
                    "reachable": None if link is None else link.via is not None,
                    "via": None if link is None or link.via == p.party else link.via,
                    "urls": node.links.peer_urls(console_principal(node), p.party),
                }
            )
        return out

    columns = ("party", "name", "fingerprint", "link", "direct", "rtt", "reachable", "urls")
    print_table(data, columns, records, _peer_cells, as_json)


def _peer_cells(peer: Record) -> tuple[str, ...]:
    reach = {None: "", False: "no", True: "yes"}[peer["reachable"]]
    rtt = "" if peer["rtt_ms"] is None else f"{peer['rtt_ms']} ms"
    return (
        peer["party"],
        peer["name"],
        peer["fingerprint"],
        peer["link"],
        peer["direct"] or "",
        rtt,
        f"via {peer['via']}" if peer["via"] else reach,
        " ".join(peer["urls"]),
    )
