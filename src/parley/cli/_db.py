"""``parley db current`` and ``db upgrade``: the store's schema, for administrators who apply
migrations themselves (a PostgreSQL store shared with a change window) rather than leaving it
to the node, which applies them whenever it opens."""

from __future__ import annotations

from typing import Annotated

import typer

from parley.services import schema_state, upgrade_schema

from ._main import DataDir, app, console, print_json, run_or_exit

__all__ = ["db_app"]

db_app = typer.Typer(no_args_is_help=True, help="The node's database schema (migrations).")
app.add_typer(db_app, name="db")

JsonObject = Annotated[bool, typer.Option("--json", help="One JSON object, for scripts.")]


@db_app.command("current")
@run_or_exit
def db_current(data: DataDir, as_json: JsonObject = False) -> None:
    """The store's migration and the newest this Parley brings; changes nothing.

    Exit status 0 either way: 'up_to_date' (with --json) says whether 'db upgrade' has work.
    """
    state = schema_state(data)
    if as_json:
        print_json({"current": state.current, "head": state.head, "up_to_date": state.up_to_date})
        return
    console.print(f"Schema: {state.current or 'empty'} (newest: {state.head})")
    if not state.up_to_date:
        console.print("Migrations are pending: 'parley db upgrade' applies them")


@db_app.command("upgrade")
@run_or_exit
def db_upgrade(data: DataDir, as_json: JsonObject = False) -> None:
    """Apply the migrations the store lacks; none lacking, nothing changes.

    Run it with the node stopped, after installing a newer Parley.
    """
    before, after = upgrade_schema(data)
    if as_json:
        print_json({"before": before.current, "after": after.current})
        return
    if before.current == after.current:
        console.print(f"Schema already at {after.current}: nothing to apply")
        return
    console.print(f"Schema upgraded from {before.current or 'empty'} to {after.current}")
