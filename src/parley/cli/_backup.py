"""``parley backup`` and ``parley restore``: a node's data folder in one archive, and back."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from parley.clock import SystemClock
from parley.services import KEY_FILE, create_backup, restore_backup

from ._main import DataDir, app, console, print_json, run_or_exit
from ._node import JsonOption

__all__ = ["backup", "restore"]


@app.command()
@run_or_exit
def backup(
    data: DataDir,
    out: Annotated[Path, typer.Option("--out", dir_okay=False, help="The archive to write.")],
    with_key: Annotated[
        bool,
        typer.Option(
            "--with-key",
            help=f"Put {KEY_FILE} in the archive too: whoever holds it can sign as the party.",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Back up a node's data folder into one archive, consistent while the node runs.

    The database is copied with SQLite's online backup API; parley.toml, evidence files and
    the other files of the folder go beside it, with a manifest of their SHA-256. A node on
    PostgreSQL is backed up with pg_dump or a base backup (docs/operations.md).
    """
    summary = create_backup(data, out, SystemClock(), with_key=with_key)
    if as_json:
        print_json(
            {
                "out": str(summary.out),
                "party": summary.party,
                "created": summary.created,
                "schema_revision": summary.schema_revision,
                "own_heads": summary.own_heads,
                "files": summary.files,
                "left_out": summary.left_out,
                "size": summary.size,
            }
        )
        return
    console.print(f"Backed up {summary.party} to {escape(str(summary.out))} ({summary.size} bytes)")
    console.print(f"Files: {len(summary.files)}; schema revision {summary.schema_revision}")
    if summary.left_out:
        console.print(
            f"Not in the archive: {escape(', '.join(summary.left_out))} (keep the key apart, "
            "or back up again with --with-key)"
        )


@app.command()
@run_or_exit
def restore(
    archive: Annotated[
        Path, typer.Option("--from", exists=True, dir_okay=False, help="A 'parley backup' archive.")
    ],
    data: DataDir,
) -> None:
    """Restore a backup into a new, empty data folder.

    Every file is checked against the archive's manifest. The restored node signs nothing until
    it has taken back from its peers what it signed after the backup: 'parley serve' does that
    first (or 'parley node rejoin').
    """
    summary = restore_backup(archive, data, SystemClock())
    console.print(
        f"Restored {summary.party} (backup of {summary.created}) into {escape(str(data))}: "
        f"{len(summary.files)} files"
    )
    if summary.missing_key:
        console.print(f"{KEY_FILE} was not in the archive: put the node's key file at {data}")
    console.print("At its next start the node rejoins its peers before it signs anything")
