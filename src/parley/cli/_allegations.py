"""``parley allegation list|show`` and ``parley report``: an agreement's allegations and the
report of them, through your node's API.

``parley report`` writes what the file's extension says: ``.csv`` the counts per day,
accused party and state; ``.png`` the chart; ``.html`` a page holding the chart, the totals
and the open deadlines; ``.pdf`` the chart and a page of them. ``--json`` prints the counts.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Annotated, Any, Final

import typer
from rich.markup import escape
from rich.table import Table

from parley.clock import parse_ts, to_ms
from parley.errors import InvalidInput
from parley.services import (
    ALLEGATION_STATES,
    AllegationReport,
    report_csv,
    report_html,
    report_pdf,
    report_png,
)
from parley.store import DAY_MS, AllegationRecord, DayCount

from ._client import AgreementId, AsJson, NodeUrl, PasswordFile, Username, segment, session
from ._main import app, console, print_json, printable, run_or_exit

__all__ = ["allegation_app"]

PAGE: Final = 1000
_WRITERS: Final = {
    ".csv": lambda report, lang: report_csv(report).encode("utf-8"),
    ".png": report_png,
    ".html": lambda report, lang: report_html(report, lang).encode("utf-8"),
    ".pdf": report_pdf,
}

allegation_app = typer.Typer(
    no_args_is_help=True,
    help="Allegations of violations of agreements: store evidence, list an agreement's, show one.",
)
app.add_typer(allegation_app, name="allegation")

Lang = Annotated[str, typer.Option(help="Language of the chart and page: ar, en, ru or uk.")]


@allegation_app.command("list")
@run_or_exit
def allegation_list(
    node_url: NodeUrl,
    username: Username,
    agreement: AgreementId,
    state: Annotated[
        str | None, typer.Option(help=f"Only those in this state: {', '.join(ALLEGATION_STATES)}.")
    ] = None,
    password_file: PasswordFile = None,
    as_json: AsJson = False,
) -> None:
    """An agreement's allegations, in the order the violations occurred."""
    params = {} if state is None else {"state": state}
    with session(node_url, username, password_file) as node:
        found = node.every_page(f"/agreements/{segment(agreement)}/allegations", params, PAGE)
    if as_json:
        print_json(found)
        return
    table = Table("id", "occurred at", "accused", "by", "state", "answer by", "escalated")
    for a in found:
        table.add_row(
            a["id"],
            a["occurred_at"],
            a["accused"],
            a["author"],
            a["state"],
            a["deadline"],
            a["escalated_at"] or "",
        )
    console.print(table)


@allegation_app.command("evidence")
@run_or_exit
def allegation_evidence(
    node_url: NodeUrl,
    username: Username,
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="The evidence file to store.")
    ],
    media_type: Annotated[
        str | None, typer.Option(help="Its media type (default: guessed from its name).")
    ] = None,
    password_file: PasswordFile = None,
    as_json: AsJson = False,
) -> None:
    """Store an evidence file on your node, beside the record; print the item to put in an
    allegation's ``evidence`` (its name, SHA-256, size and media type)."""
    kind = media_type or mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    with session(node_url, username, password_file) as node:
        stored = node.upload("/evidence", file.read_bytes(), kind, {"name": file.name}).body
    if not as_json:
        console.print(
            f"Stored {printable(file.name)} ({stored['size']:,} bytes); "
            "in the allegation's evidence:"
        )
    print_json(stored)


@allegation_app.command("show")
@run_or_exit
def allegation_show(
    node_url: NodeUrl,
    username: Username,
    allegation: Annotated[str, typer.Argument(help="The allegation's id.")],
    password_file: PasswordFile = None,
    as_json: AsJson = False,
) -> None:
    """One allegation: its form as signed, its answer, its finding."""
    with session(node_url, username, password_file) as node:
        shown = node.call("GET", f"/allegations/{segment(allegation)}").body
    if as_json:
        print_json(shown)
        return
    data = shown["data"]
    lines = [
        f"Allegation {shown['id']} on {shown['channel']}",
        f"Agreement: {shown['agreement']}",
        f"By {shown['author']} ({escape(printable(shown['by']))}) against {shown['accused']}",
        f"Occurred at {shown['occurred_at']}; answer due {shown['deadline']}",
        f"State: {shown['state']}"
        + (f" (escalated {shown['escalated_at']})" if shown["escalated_at"] else ""),
        f"Description: {escape(printable(data['description']))}",
    ]
    for item in data.get("evidence", []):
        lines.append(
            f"Evidence: {escape(printable(item['name']))} ({item['media_type']}, "
            f"{item['size']} bytes, sha256 {item['sha256']})"
        )
    if shown["answer"]:
        lines.append(f"Answer: {shown['answer']} at {shown['answered_at']}")
    if shown["finding"]:
        lines.append(f"Finding: {shown['finding']} at {shown['found_at']}")
    for line in lines:
        console.print(line)


@app.command("report")
@run_or_exit
def report(
    node_url: NodeUrl,
    username: Username,
    agreement: AgreementId,
    out: Annotated[
        Path | None,
        typer.Option(help="Write the report here: .pdf, .png, .html or .csv by its extension."),
    ] = None,
    lang: Lang = "en",
    password_file: PasswordFile = None,
    as_json: AsJson = False,
) -> None:
    """The report of an agreement's allegations: counts per day, accused party and state,
    and the open deadlines."""
    writer = None if out is None else _WRITERS.get(out.suffix.lower())
    if out is not None and writer is None:
        raise InvalidInput.for_field("out", f"ends in one of {', '.join(_WRITERS)}")
    if out is None and not as_json:
        raise InvalidInput.for_field("out", "is needed unless --json prints the counts")
    with session(node_url, username, password_file) as node:
        answer = node.call("GET", f"/agreements/{segment(agreement)}/report").body
    if as_json:
        print_json(answer)
    if out is not None and writer is not None:
        out.write_bytes(writer(_report(answer), lang))
        if not as_json:
            console.print(f"Report of agreement {agreement} written to {escape(str(out))}")


def _report(answer: dict[str, Any]) -> AllegationReport:
    """The node's JSON report, as the report it was made from."""
    counts = [
        DayCount(
            to_ms(parse_ts(f"{c['day']}T00:00:00Z")) // DAY_MS,
            c["party"],
            c["state"],
            c["count"],
            c["escalated"],
        )
        for c in answer["counts"]
    ]
    return AllegationReport(
        answer["agreement"],
        to_ms(parse_ts(answer["generated_at"])),
        counts,
        [_allegation(a) for a in answer["open"]],
        answer["open_total"],
    )


def _allegation(a: dict[str, Any]) -> AllegationRecord:
    def ms(name: str) -> int | None:
        return None if a[name] is None else to_ms(parse_ts(a[name]))

    return AllegationRecord(
        a["id"],
        a["channel"],
        a["agreement"],
        a["author"],
        a["accused"],
        to_ms(parse_ts(a["occurred_at"])),
        to_ms(parse_ts(a["alleged_at"])),
        to_ms(parse_ts(a["deadline"])),
        a["state"],
        ms("escalated_at"),
    )
