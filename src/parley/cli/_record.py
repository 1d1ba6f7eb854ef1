"""``parley export`` and ``parley verify``: a channel's record, checkable offline by anyone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from parley.errors import BundleInvalid, NotFound
from parley.protocol import Sent, key_fingerprints
from parley.services import BundleReport, Node, verify_bundle

from ._main import DataDir, app, console, run_or_exit

__all__: list[str] = []


@app.command()
@run_or_exit
def export(
    data: DataDir,
    channel: Annotated[str, typer.Option(help="The channel whose record to export.")],
    out: Annotated[Path, typer.Option(help="The bundle file to write.")],
) -> None:
    """Write a channel's record, up to the latest checkpoint, as a bundle 'parley verify' checks."""
    node = Node.open(data)
    try:
        summary = node.export(channel, out)
    finally:
        node.close()
    witnesses = ", ".join(summary.cosigners) or "no witness yet"
    console.print(
        f"Wrote {out}: {summary.events} events of {channel}, checkpoint of {summary.size} "
        f"entries cosigned by {witnesses}."
    )
    if summary.left_out:
        console.print(
            f"{summary.left_out} newer events are not in that checkpoint yet and were left out; "
            "export again after the next checkpoint to include them."
        )


@app.command()
@run_or_exit
def verify(
    bundle: Annotated[Path, typer.Argument(help="A bundle written by 'parley export'.")],
    workers: Annotated[
        int | None, typer.Option(min=1, help="Processes verifying signatures (default: all cores).")
    ] = None,
) -> None:
    """Check a bundle offline: signatures, chains, inclusion proofs, checkpoint, cosignatures."""
    if not bundle.is_file():
        raise NotFound(f"{bundle} is not a file")
    try:
        report = verify_bundle(bundle, workers=workers)
    except BundleInvalid as exc:
        console.print(f"VERDICT: INVALID: {exc.detail}", markup=False, highlight=False)
        raise typer.Exit(1) from exc
    for line in verdict_lines(report):
        console.print(line, markup=False, highlight=False)


def verdict_lines(report: BundleReport) -> Iterator[str]:
    header = report.header
    names = {party: name for party, (name, _) in header.parties.items()}
    yield (
        f"Channel {header.channel}, exported by {header.exported_by} "
        f"({names[header.exported_by]}) at {header.exported_at}"
    )
    yield "Keys in the bundle (compare the fingerprints with each party out of band):"
    for party, print_ in key_fingerprints(header).items():
        role = report.members.get(party, "not a member")
        yield f"  {party:<16} {print_}  {names[party]} ({role})"
    yield (
        f"Checkpoint of {header.exported_by}'s log: {report.size} entries, root {report.root.hex()}"
    )
    if report.cosigners:
        for party, stamp in report.cosigners:
            yield f"  cosigned by {party} at {_when(stamp)}"
    else:
        yield "  no witness cosignature in the bundle"
    chains = len({entry.author for entry in report.entries})
    yield (
        f"Verified: {len(report.entries)} events, every signature, {chains} chains without a "
        "gap, the inclusion of every event in the checkpoint."
    )
    yield ""
    for sent in report.sent:
        yield from _sent_lines(sent)
    yield (
        f"VERDICT: VALID: {len(report.sent)} messages and notifications; the record is complete "
        f"up to entry {report.size} of {header.exported_by}'s log."
    )


def _sent_lines(sent: Sent) -> Iterator[str]:
    entry = sent.entry
    body = entry.body or {}
    what = (
        f"notification {body.get('form')}"
        if entry.type == "notification"
        else f"message ({body.get('precedence')})"
    )
    yield f"{entry.ts}  {entry.author} (by {body.get('by')}) sent {what} [{entry.id[:12]}]"
    if entry.type == "message":
        text = str(body.get("text", ""))
        yield f"    text: {text if len(text) <= 100 else text[:99] + '…'}"
    delivered = ", ".join(f"{party} at {ts}" for party, ts in sorted(sent.delivered.items()))
    yield f"    delivered: {delivered or 'no member has confirmed holding it'}"
    acked = ", ".join(
        f"{party} by {officer} at {ts}" for party, (officer, ts) in sorted(sent.acked.items())
    )
    yield f"    acknowledged: {acked or 'not acknowledged'}"


def _when(stamp: int) -> str:
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
