"""The mark a restore leaves in a data folder: until the node has rejoined its peers it signs
nothing, for it may have signed after the backup events its copy of the record lacks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

from parley.errors import Conflict

from ._files import write_private

__all__ = ["RESTORED_FILE", "clear_restored", "mark_restored", "refuse_if_restored", "restored"]

RESTORED_FILE: Final = "restored.json"


def mark_restored(data_dir: Path, details: dict[str, Any]) -> None:
    text = json.dumps(details, ensure_ascii=False, sort_keys=True).encode("utf-8") + b"\n"
    write_private(data_dir / RESTORED_FILE, [text], replace=True)


def restored(data_dir: Path) -> dict[str, Any] | None:
    """What the restore recorded, or None if the folder is not waiting to rejoin."""
    path = data_dir / RESTORED_FILE
    if not path.exists():
        return None
    try:
        details = json.loads(path.read_text("utf-8"))
    except ValueError:
        details = None
    return details if isinstance(details, dict) else {}


def refuse_if_restored(data_dir: Path) -> None:
    if restored(data_dir) is not None:
        raise Conflict(
            f"{data_dir} was restored from a backup and signs nothing until it has taken back "
            "from its peers what it signed since: 'parley serve' does that first, or "
            "'parley node rejoin'"
        )


def clear_restored(data_dir: Path) -> None:
    (data_dir / RESTORED_FILE).unlink(missing_ok=True)
