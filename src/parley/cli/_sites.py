"""``parley sites``: protected sites of agreements, imported from GeoJSON or CSV files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from parley.errors import InvalidInput
from parley.services import MORATORIUM_CATEGORIES, Node

from ._main import (
    DataDir,
    ListJson,
    app,
    console,
    console_principal,
    err_console,
    print_json,
    run_or_exit,
)

__all__ = ["sites_app"]

sites_app = typer.Typer(
    no_args_is_help=True,
    help="Protected sites of agreements, imported from files; a running node indexes them "
    "within seconds.",
)
app.add_typer(sites_app, name="sites")


@sites_app.command("import")
@run_or_exit
def sites_import(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            readable=True,
            help="GeoJSON FeatureCollection (Point/Polygon features with properties name, "
            "category) or CSV with the header lon,lat,name,category.",
        ),
    ],
    data: DataDir,
    party: Annotated[
        str | None, typer.Option(help="The party the sites belong to (default: this node's).")
    ] = None,
    agreement: Annotated[
        str,
        typer.Option(
            help="The agreement protecting them: the id of one stored on this node (they are "
            "valid for its term, extensions included), or a title."
        ),
    ] = "",
    valid_from: Annotated[
        str | None,
        typer.Option(help="Start of a titled agreement's term, e.g. 2025-03-18T00:00:00Z."),
    ] = None,
    valid_until: Annotated[
        str | None, typer.Option(help="End of the term (exclusive); none: open-ended.")
    ] = None,
) -> None:
    """Import every site of FILE, or none if any row is bad (each is listed with its line)."""
    node = Node.open(data)
    try:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
            disable=not err_console.is_terminal,  # a log or a pipe gets the outcome only
        ) as progress:
            task = progress.add_task(f"Checking and storing {file.name}", total=None)
            report = node.sites.import_file(
                console_principal(node),
                file,
                party=party,
                agreement=agreement,
                valid_from=valid_from,
                valid_until=valid_until,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
    except InvalidInput as exc:
        if not exc.errors or exc.errors[0].field in ("file", "party", "agreement"):
            raise
        err_console.print(f"[bold red]{exc.detail.split(':', 1)[0]}[/]: nothing imported")
        for error in exc.errors:
            err_console.print(f"  {error.field}: {error.message}")
        raise typer.Exit(2) from exc
    finally:
        node.close()
    table = Table("category", "sites")
    for category, count in report.by_category.items():
        table.add_row(_label(category), f"{count:,}")
    console.print(table)
    console.print(
        f"Imported {report.imported:,} sites from {report.source}; a running node indexes "
        "them within deconfliction_site_poll_s seconds."
    )


@sites_app.command("list")
@run_or_exit
def sites_list(data: DataDir, as_json: ListJson = False) -> None:
    """Imported sites counted by agreement and category."""
    node = Node.open(data)
    try:
        counts = node.sites.counts(console_principal(node))
    finally:
        node.close()
    if as_json:
        keys = ("agreement", "category", "sites")
        print_json([dict(zip(keys, (a or None, c, n), strict=True)) for a, c, n in counts])
        return
    table = Table("agreement", "category", "sites")
    for agreement, category, count in counts:
        table.add_row(agreement or "-", _label(category), f"{count:,}")
    console.print(table)
    console.print(f"{sum(c for _, _, c in counts):,} sites")


def _label(category: str) -> str:
    return f"{category} (moratorium)" if category in MORATORIUM_CATEGORIES else category
