"""``parley export`` and ``parley verify``: a channel's record, checkable offline by anyone."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Final

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from parley.clock import format_ms
from parley.errors import BundleInvalid, InvalidInput, NotFound
from parley.protocol import (
    BundleHeader,
    Sent,
    key_fingerprints,
    parse_fingerprint,
    validate_party_id,
)
from parley.services import BundleReport, Node, verify_bundle

from ._excerpt import excerpt_json, excerpt_lines
from ._main import DataDir, app, audit_shown, console, err_console, printable, run_or_exit

__all__: list[str] = []

# Fewer events than this are checked or exported in a moment: no bar.
LARGE: Final = 20_000


@contextmanager
def progress_bar(what: str, *, shown: bool = True) -> Iterator[Callable[[int, int], None]]:
    """A bar on stderr while a large bundle is written or checked, only on a terminal: a
    pipe, a log or a script reading --json gets the outcome alone."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
        disable=not (shown and err_console.is_terminal),
    ) as bar:
        task = bar.add_task(what, total=None, visible=False)

        def advance(done: int, total: int) -> None:
            if total >= LARGE:
                bar.update(task, completed=done, total=total, visible=True, refresh=True)

        yield advance


@app.command()
@run_or_exit
def export(
    data: DataDir,
    channel: Annotated[str, typer.Option(help="The channel whose record to export.")],
    out: Annotated[Path, typer.Option(help="The bundle file to write (mode 0600).")],
    force: Annotated[bool, typer.Option(help="Replace a file already at --out.")] = False,
) -> None:
    """Write a channel's record, up to the latest checkpoint, as a bundle 'parley verify' checks."""
    node = Node.open(data)
    try:
        with audit_shown(), progress_bar(f"Exporting {channel}") as progress:
            summary = node.export(channel, out, replace=force, progress=progress)
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


# What a valid bundle proves, and what it cannot: said with every VALID verdict.
PROVED: Final = (
    "every event shown was signed by its author's key above and is in that checkpoint; each "
    "author's chain runs from #1 without a gap up to its last event shown; every event that a "
    "shown event had seen is shown."
)
NOT_PROVED: Final = (
    "that an author has no event after its last one shown. The exporter may have left out an "
    "author's latest events that no shown event had seen; ask that party for the seq of its "
    "latest event, or verify a bundle it exported."
)
_EXPECT: Final = "--expect-key"


@app.command()
@run_or_exit
def verify(
    bundle: Annotated[
        Path, typer.Argument(help="A bundle written by 'parley export' or 'parley excerpt'.")
    ],
    workers: Annotated[
        int | None, typer.Option(min=1, help="Processes verifying signatures (default: all cores).")
    ] = None,
    expect_key: Annotated[
        list[str] | None,
        typer.Option(
            _EXPECT,
            metavar="PARTY=FINGERPRINT",
            help="The fingerprint PARTY's key must have, as verify prints it (spaces optional); "
            "repeat for each party. Another key, or none, makes the bundle INVALID.",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the verdict as one JSON object, for scripts.")
    ] = False,
) -> None:
    """Check a bundle offline: signatures, chains, inclusion proofs, checkpoint, cosignatures.

    Exit status: 0 VALID, 1 INVALID (the reason follows 'VERDICT: INVALID:'), 2 a usage error
    (no such file, an unreadable file, a malformed option), said in one line on stderr.
    """
    expected = _expected_keys(expect_key or [])
    if not bundle.is_file():
        raise NotFound(f"{bundle} is not a file")
    try:
        with progress_bar(f"Checking {bundle.name}", shown=not as_json) as progress:
            report = verify_bundle(
                bundle, workers=workers, expected_keys=expected, progress=progress
            )
    except OSError as exc:
        raise NotFound(f"cannot read {bundle}: {exc.strerror or exc}") from exc
    except BundleInvalid as exc:
        reason = exc.detail
        if as_json:
            verdict = {"verdict": "invalid", "reason": reason, "counts": None, "keys": None}
            typer.echo(json.dumps(verdict, ensure_ascii=False))
        else:
            typer.echo(f"VERDICT: INVALID: {printable(reason)}")
        raise typer.Exit(1) from exc
    excerpt = report.header.release is not None
    if as_json:
        verdict = excerpt_json(report) if excerpt else verdict_json(report)
        typer.echo(json.dumps(verdict, ensure_ascii=False))
        return
    for line in excerpt_lines(report) if excerpt else verdict_lines(report):
        typer.echo(line)


def _expected_keys(options: list[str]) -> dict[str, str]:
    """``PARTY=FINGERPRINT`` options as party -> fingerprint; a usage error names the bad one."""
    expected: dict[str, str] = {}
    for option in options:
        party, sep, digits = option.partition("=")
        malformed = InvalidInput.for_field(_EXPECT, f"{option!r} is not PARTY=FINGERPRINT")
        if not sep:
            raise malformed
        try:
            validate_party_id(party, _EXPECT)
        except InvalidInput as exc:
            raise malformed from exc
        wanted = parse_fingerprint(digits, _EXPECT)
        if expected.setdefault(party, wanted) != wanted:
            raise InvalidInput.for_field(_EXPECT, f"{party} is given two fingerprints")
    return expected


def verdict_lines(report: BundleReport) -> Iterator[str]:
    header = report.header
    names = {party: printable(name) for party, (name, _) in header.parties.items()}
    yield (
        f"Channel {header.channel}, exported by {header.exported_by} "
        f"({names[header.exported_by]}) at {header.exported_at}"
    )
    yield (
        "Keys in the bundle (compare each one not checked with --expect-key with its party "
        "out of band):"
    )
    for party, print_ in sorted(key_fingerprints(header).items()):
        role = report.members.get(party, "not a member")
        checked = "as expected" if party in report.checked_keys else "not checked"
        yield f"  {party:<16} {print_}  {names[party]} ({role}), {checked}"
        for earlier in _earlier_keys(header, party):
            yield f"  {'':<16} {earlier['fingerprint']}  {_period(earlier)}"
    yield (
        f"Checkpoint of {header.exported_by}'s log: {report.size} entries, root {report.root.hex()}"
    )
    if report.cosigners:
        for party, stamp in report.cosigners:
            yield f"  cosigned by {party} at {_when(stamp)}"
    else:
        yield "  no witness cosignature in the bundle"
    yield f"Proved: {PROVED}"
    yield "Chains (the last event shown of each member, and the last another member had seen):"
    for party in sorted(report.members):
        yield f"  {party:<16} {_chain(report, party)}"
    yield f"Not proved: {NOT_PROVED}"
    yield ""
    for sent in report.sent:
        yield from _sent_lines(sent)
    yield (
        f"VERDICT: VALID: {len(report.entries)} events, {len(report.sent)} messages and "
        f"notifications, each signed by its author and in {header.exported_by}'s checkpoint of "
        f"{report.size} entries; events of an author after its last one shown are not ruled out."
    )


def _key_json(report: BundleReport, party: str, print_: str) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "name": report.header.parties[party][0],
        "fingerprint": print_,
        "role": report.members.get(party),
        "checked": party in report.checked_keys,
    }
    earlier = _earlier_keys(report.header, party)
    if earlier:  # a party whose key changed: what each earlier key was valid for
        shown["earlier_keys"] = earlier
    return shown


def _earlier_keys(header: BundleHeader, party: str) -> list[dict[str, str | None]]:
    """The keys of ``party`` before its current one, each proven by a key change shown in the
    record or given by the exporter; the current key too if it is compromised."""
    history = header.histories.get(party)
    if history is None:
        return []
    keys = []
    for index, period in enumerate(history.periods):
        until = history.valid_until_ms(index)
        if until is None and period.compromised_ms is None:
            continue
        keys.append(
            {
                "fingerprint": period.fingerprint,
                "valid_until": _ms(until),
                "compromised_since": _ms(period.compromised_ms),
            }
        )
    return keys


def _ms(value: int | None) -> str | None:
    return None if value is None else format_ms(value)


def _period(key: dict[str, str | None]) -> str:
    said = (
        [f"earlier key, valid until {key['valid_until']}"]
        if key["valid_until"]
        else ["current key"]
    )
    if key["compromised_since"]:
        said.append(
            f"COMPROMISED since {key['compromised_since']}: events it signed since are refused"
        )
    return "; ".join(said)


def _chain(report: BundleReport, party: str) -> str:
    shown, seen = report.chains.shown.get(party, 0), report.chains.seen.get(party, 0)
    if not shown:
        return "no event shown"
    events = "#1" if shown == 1 else f"#1-#{shown}"
    others = f"seen by another member up to #{seen}" if seen else "not seen by another member"
    return f"{events} shown, {others}"


def verdict_json(report: BundleReport) -> dict[str, Any]:
    """The verdict for scripts: the same facts as the text, keyed."""
    header = report.header
    chains = report.chains
    return {
        "verdict": "valid",
        "reason": None,
        "channel": header.channel,
        "exported_by": header.exported_by,
        "exported_at": header.exported_at,
        "counts": {
            "events": len(report.entries),
            "sent": len(report.sent),
            "chains": len(chains.shown),
            "checkpoint_size": report.size,
        },
        "keys": {
            party: _key_json(report, party, print_)
            for party, print_ in sorted(key_fingerprints(header).items())
        },
        "checkpoint": {
            "size": report.size,
            "root": report.root.hex(),
            "cosigners": [{"witness": w, "timestamp": t} for w, t in report.cosigners],
        },
        "chains": {
            party: {"shown": chains.shown.get(party, 0), "seen": chains.seen.get(party, 0)}
            for party in sorted(report.members)
        },
        "proved": PROVED,
        "not_proved": NOT_PROVED,
        "sent": [_sent_json(sent) for sent in report.sent],
    }


def _sent_json(sent: Sent) -> dict[str, Any]:
    """The envelope only: a notification's form data is not checked here, and may be deep."""
    entry = sent.entry
    body = entry.body or {}
    return {
        "id": entry.id,
        "type": entry.type,
        "author": entry.author,
        "by": body.get("by"),
        "ts": entry.ts,
        "precedence": body.get("precedence"),
        "form": body.get("form"),
        "text": body.get("text"),
        "delivered": dict(sorted(sent.delivered.items())),
        "acknowledged": {
            party: {"by": officer, "ts": ts} for party, (officer, ts) in sorted(sent.acked.items())
        },
    }


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
        yield f"    text: {printable(str(body.get('text', '')), 100)}"
    delivered = ", ".join(f"{party} at {ts}" for party, ts in sorted(sent.delivered.items()))
    yield f"    delivered: {delivered or 'no member has confirmed holding it'}"
    acked = ", ".join(
        f"{party} by {officer} at {ts}" for party, (officer, ts) in sorted(sent.acked.items())
    )
    yield f"    acknowledged: {acked or 'not acknowledged'}"


def _when(stamp: int) -> str:
    try:
        return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, ValueError, OSError):
        return f"{stamp} seconds after 1970"  # a year past 9999: a clock, or a bundle, is wrong
