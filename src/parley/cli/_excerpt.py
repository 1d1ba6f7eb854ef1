"""``parley excerpt``: chosen events released to a third party, and what 'verify' says of one.

The excerpt is built by your node (it holds the log and the cosigned checkpoint) and its
release is a signed event on the channel; the file is written here, mode 0600.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Final

import typer

from parley.errors import Conflict
from parley.protocol import Entry, key_fingerprints
from parley.services import BundleReport, write_private

from ._client import AsJson, ChannelId, NodeUrl, PasswordFile, Username, segment, session
from ._main import app, console, print_json, printable, run_or_exit

__all__ = ["excerpt_json", "excerpt_lines"]

EXCERPT_PROVED: Final = (
    "every event shown was signed by its author's key above and is in that checkpoint, which "
    "a witness cosigned."
)
EXCERPT_NOT_PROVED: Final = (
    "anything of the channel's other events: the excerpt holds only the hashes that prove "
    "the inclusion of those shown, not what came before, between or after them."
)


@app.command()
@run_or_exit
def excerpt(
    node_url: NodeUrl,
    username: Username,
    channel: ChannelId,
    event: Annotated[list[str], typer.Option(help="An event to release; repeat for each.")],
    to: Annotated[str, typer.Option(help="The third party it is released to, e.g. nato.")],
    marking: Annotated[str, typer.Option(help="The releasability marking, e.g. 'REL NATO'.")],
    out: Annotated[Path, typer.Option(help="The excerpt file to write (mode 0600).")],
    force: Annotated[bool, typer.Option(help="Replace a file already at --out.")] = False,
    password_file: PasswordFile = None,
    as_json: AsJson = False,
) -> None:
    """Release chosen events of a channel to a third party (a supervisor): an excerpt that
    'parley verify' checks offline without the other events; the release is signed on the
    channel and audited."""
    if out.exists() and not force:
        raise Conflict(f"{out} already exists; refusing to overwrite it (--force replaces it)")
    payload = {"events": event, "to": to, "marking": marking}
    with session(node_url, username, password_file) as node:
        made = node.call("POST", f"/channels/{segment(channel)}/excerpts", payload).body
    if not write_private(out, [made["excerpt"].encode("utf-8")], replace=force):
        raise Conflict(f"{out} appeared meanwhile; the excerpt was released but not written")
    if as_json:
        print_json({k: v for k, v in made.items() if k != "excerpt"} | {"out": str(out)})
        return
    console.print(
        f"Wrote {out}: {len(event)} events of {channel} for {to} ({printable(marking)}), "
        f"sha256 {made['digest']}, in a checkpoint of {made['size']} entries cosigned by "
        f"{', '.join(made['cosigners'])}; release {made['release']['id']} recorded"
    )


def _what(entry: Entry) -> str:
    body = entry.body or {}
    if entry.type == "talks_round":
        return f"round {printable(body['title'])}, {printable(body['venue'])}, {body['start']}"
    if entry.type == "minutes":
        return f"minutes of round {body['round'][:12]} in {', '.join(sorted(body['texts']))}"
    if entry.type == "minutes_decline":
        return f"declined minutes {body['minutes'][:12]}: {printable(body['reason'], 100)}"
    if entry.type == "minutes_signature":
        return f"signed minutes {body['minutes'][:12]}"
    if entry.type == "message":
        return f"message: {printable(body['text'], 100)}"
    return entry.type


def excerpt_lines(report: BundleReport) -> Iterator[str]:
    header = report.header
    assert header.release is not None
    names = {party: printable(name) for party, (name, _) in header.parties.items()}
    yield (
        f"Excerpt of channel {header.channel}, released by {header.exported_by} "
        f"({names[header.exported_by]}) at {header.exported_at} to {header.release.to}, "
        f"marked {printable(header.release.marking)}"
    )
    yield "Keys in the excerpt (compare each one with its party out of band):"
    for party, print_ in sorted(key_fingerprints(header).items()):
        checked = "as expected" if party in report.checked_keys else "not checked"
        yield f"  {party:<16} {print_}  {names[party]}, {checked}"
    yield f"Checkpoint of {header.exported_by}'s log: {report.size} entries"
    for party, _ in report.cosigners:
        yield f"  cosigned by {party}"
    yield f"Proved: {EXCERPT_PROVED}"
    yield f"Not proved: {EXCERPT_NOT_PROVED}"
    for entry in report.entries:
        by = (entry.body or {}).get("by", "?")
        yield f"{entry.ts}  {entry.author} (by {by}) {_what(entry)} [{entry.id[:12]}]"
    yield (
        f"VERDICT: VALID: {len(report.entries)} events of {header.channel}, each signed by its "
        f"author and in {header.exported_by}'s cosigned checkpoint of {report.size} entries."
    )


def excerpt_json(report: BundleReport) -> dict[str, Any]:
    header = report.header
    assert header.release is not None
    return {
        "verdict": "valid",
        "reason": None,
        "channel": header.channel,
        "exported_by": header.exported_by,
        "exported_at": header.exported_at,
        "excerpt": {"to": header.release.to, "marking": header.release.marking},
        "keys": key_fingerprints(header),
        "checkpoint": {
            "size": report.size,
            "root": report.root.hex(),
            "cosigners": [{"witness": w, "timestamp": t} for w, t in report.cosigners],
        },
        "proved": EXCERPT_PROVED,
        "not_proved": EXCERPT_NOT_PROVED,
        "events": [
            {"id": e.id, "type": e.type, "author": e.author, "ts": e.ts, "body": e.body}
            for e in report.entries
        ],
    }
