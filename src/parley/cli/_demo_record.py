"""The demo's last act: export a channel's record from one node, verify it, then tamper with it."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from rich.table import Table

from parley.errors import BundleInvalid
from parley.services import Node, verify_bundle

from ._cluster import LocalCluster
from ._main import console, err_console
from ._record import verdict_lines

__all__ = ["check_record", "tamperings"]

_SHOWN_LINES = 16


def check_record(
    cluster: LocalCluster, party: str, channel: str, bundle: Path, timeout_s: float = 30.0
) -> bool:
    """``party`` checkpoints everything now, the others cosign it; its export of ``channel``
    to ``bundle`` verifies, and each hand-made tampering fails with its reason."""
    fresh = cluster.call(party, "POST", "/log/checkpoints", "watch1")
    witnesses = sorted(n.party for n in cluster.iter_nodes() if n.party != party)
    try:
        cluster.wait_for(
            partial(_cosigned_at, cluster, party, fresh["size"], witnesses),
            timeout_s,
            f"{party}'s new checkpoint to be cosigned by {' and '.join(witnesses)}",
        )
    except TimeoutError as exc:
        err_console.print(f"[red]{exc}[/]")
        return False
    node = Node.open(cluster.nodes[party].data)
    try:
        node.export(channel, bundle)
    finally:
        node.close()
    console.print(f"\nExported {bundle} as that command does; what 'parley verify' says of it:")
    try:
        lines = list(verdict_lines(verify_bundle(bundle)))
    except BundleInvalid as exc:
        err_console.print(f"[red]the exported bundle does not verify: {exc.detail}[/]")
        return False
    for line in [*lines[:_SHOWN_LINES], "…", lines[-1]]:
        console.print(line, markup=False, highlight=False)
    return _tampered_bundles_fail(bundle)


def _cosigned_at(cluster: LocalCluster, party: str, size: int, witnesses: list[str]) -> bool:
    checkpoint: dict[str, Any] = cluster.call(party, "GET", "/log/checkpoint", "audit1")
    cosigners = sorted(c["witness"] for c in checkpoint["cosigners"])
    return checkpoint["size"] >= size and cosigners == witnesses


def tamperings() -> dict[str, Callable[[list[bytes]], list[bytes]]]:
    """Edits a forger might make to a bundle's lines (line 0 is the header)."""
    return {
        "one byte changed in the first message": _change_a_byte,
        "one event removed": lambda lines: [*lines[:3], *lines[4:]],
        "two events swapped": lambda lines: [*lines[:2], lines[3], lines[2], *lines[4:]],
    }


def _change_a_byte(lines: list[bytes]) -> list[bytes]:
    at = next(i for i, line in enumerate(lines) if b'"type":"message"' in line)
    changed = lines[at].replace(b'"text":"', b'"text":"!', 1)
    return [*lines[:at], changed, *lines[at + 1 :]]


def _tampered_bundles_fail(bundle: Path) -> bool:
    table = Table("tampering", "parley verify says")
    ok = True
    lines = bundle.read_bytes().splitlines(keepends=True)
    for name, tamper in tamperings().items():
        forged = bundle.with_suffix(".tampered.jsonl")
        forged.write_bytes(b"".join(tamper(lines)))
        try:
            verify_bundle(forged)
        except BundleInvalid as exc:
            table.add_row(name, f"INVALID: {exc.detail}")
        else:
            table.add_row(name, "[red]VALID: the tampering went unnoticed[/]")
            ok = False
        forged.unlink()
    console.print(table)
    return ok
