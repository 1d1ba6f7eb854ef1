"""``parley audit list``: the node's audit trail, read through its API by an auditor or admin."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ._client import AsJson, NodeUrl, PasswordFile, Username, session
from ._main import app, console, print_json, printable, run_or_exit

__all__ = ["AUDIT_PAGE", "audit_app"]

AUDIT_PAGE = 1000  # the most the node gives in one page

audit_app = typer.Typer(
    no_args_is_help=True,
    help="The audit trail: logins, refusals, changes to operators and peers, exports.",
)
app.add_typer(audit_app, name="audit")


@audit_app.command("list")
@run_or_exit
def audit_list(
    node_url: NodeUrl,
    username: Username,
    action: Annotated[str | None, typer.Option(help="Only this action, e.g. login.")] = None,
    actor: Annotated[str | None, typer.Option(help="Only this operator's entries.")] = None,
    password_file: PasswordFile = None,
    as_json: AsJson = False,
) -> None:
    """The node's audit trail, oldest first: who did what, to what, from where, and how it went.

    You must be an auditor or an admin. Your own login to read it is the last entry."""
    filters = {
        name: value for name, value in (("action", action), ("actor", actor)) if value is not None
    }
    with session(node_url, username, password_file) as node:
        entries = node.every_page("/audit", filters, AUDIT_PAGE)
    if as_json:
        print_json(entries)
        return
    table = Table("id", "at", "actor", "action", "target", "address", "outcome", "details")
    for e in entries:
        details = json.dumps(e["details"], ensure_ascii=False, separators=(",", ":"))
        table.add_row(
            str(e["id"]),
            e["recorded_at"],
            *(escape(printable(e[key])) for key in ("actor", "action", "target", "address")),
            e["outcome"],
            escape(printable(details)),
        )
    console.print(table)
