"""The report of an agreement's allegations: counts per day, accused party and state, the
open answer deadlines, as CSV, and as a chart a person reads (PNG, an HTML page around it,
PDF), in the operator's language.

The counts are the store's (one grouped read of an index, store/_allegations.py); nothing
here walks allegations one by one. A day is the UTC day the violation is said to have
occurred; the party is the accused one.
"""

from __future__ import annotations

import base64
import csv
import io
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from html import escape
from typing import Any, Final

from babel.dates import format_date
from babel.numbers import format_decimal

from parley.clock import format_ms
from parley.forms import RIGHT_TO_LEFT, translations
from parley.store import AllegationRecord, DayCount, Store

__all__ = [
    "STATES",
    "AllegationReport",
    "build_report",
    "day_of",
    "report_csv",
    "report_html",
    "report_pdf",
    "report_png",
]

EPOCH: Final = date(1970, 1, 1)
# In the order of an allegation's life; the stacking order of the chart.
STATES: Final = ("alleged", "answered", "found", "not_found", "unresolved")
_COLOURS: Final = {
    "alleged": "#d95f02",
    "answered": "#7570b3",
    "found": "#b2182b",
    "not_found": "#1b9e77",
    "unresolved": "#999999",
}


def N_(message: str) -> str:
    return message


_STATE_WORDS: Final = {
    # TRANSLATORS: state of an allegation: sent, not answered yet
    "alleged": N_("Alleged"),
    # TRANSLATORS: state of an allegation: the accused party answered it
    "answered": N_("Answered"),
    "found": N_("Violation found"),
    "not_found": N_("No violation found"),
    "unresolved": N_("Unresolved"),
}


@dataclass(frozen=True)
class AllegationReport:
    """What a report shows of one agreement at ``generated_ms``: ``counts`` per day, accused
    party and state; the ``open`` allegations with the nearest deadlines (``open_total`` in
    all)."""

    agreement: str
    generated_ms: int
    counts: Sequence[DayCount]
    open: Sequence[AllegationRecord]
    open_total: int

    def totals(self) -> dict[str, dict[str, int]]:
        """Per accused party, per state, over every day."""
        found: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(STATES, 0))
        for row in self.counts:
            found[row.party][row.state] += row.count
        return {party: found[party] for party in sorted(found)}

    def escalated(self) -> int:
        return sum(row.escalated for row in self.counts)

    def overdue(self) -> int:
        """Open allegations past their deadline, among those listed."""
        return sum(1 for a in self.open if a.deadline_ms <= self.generated_ms)


def build_report(
    store: Store, agreement: str, now_ms: int, *, open_limit: int = 100
) -> AllegationReport:
    return AllegationReport(
        agreement,
        now_ms,
        store.allegation_counts(agreement),
        store.open_allegations(agreement, limit=open_limit),
        store.count_open_allegations(agreement),
    )


def day_of(day: int) -> date:
    return EPOCH + timedelta(days=day)


# -- CSV --------------------------------------------------------------------------------------
def report_csv(report: AllegationReport) -> str:
    """One row per day, accused party and state: ``day,party,state,count,escalated``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("day", "party", "state", "count", "escalated"))
    for row in report.counts:
        writer.writerow(
            (day_of(row.day).isoformat(), row.party, row.state, row.count, row.escalated)
        )
    return out.getvalue()


# -- words ----------------------------------------------------------------------------------------
class _Words:
    """The report's texts in one locale."""

    def __init__(self, locale: str) -> None:
        self.locale = locale
        self.rtl = locale in RIGHT_TO_LEFT
        self._tr = translations(locale)

    def state(self, state: str) -> str:
        return self._tr.gettext(_STATE_WORDS[state])

    def title(self) -> str:
        # TRANSLATORS: title of the chart of an agreement's allegations
        return self._tr.gettext("Allegations per day")

    def subtitle(self, report: AllegationReport) -> str:
        return self._tr.gettext("Agreement {agreement}, as of {time} UTC").format(
            agreement=report.agreement[:16],
            time=format_ms(report.generated_ms)[:16].replace("T", " "),
        )

    def against(self, party: str) -> str:
        # TRANSLATORS: heading of the allegations made against one party
        return self._tr.gettext("Against {party}").format(party=party)

    def axis(self) -> tuple[str, str]:
        return self._tr.gettext("Day (UTC)"), self._tr.gettext("Allegations")

    def escalated(self, n: int) -> str:
        return self._tr.ngettext(
            "{count} escalated: not answered by its deadline",
            "{count} escalated: not answered by their deadline",
            n,
        ).format(count=self.number(n))

    def open_heading(self, shown: int, total: int) -> str:
        return self._tr.gettext("Open deadlines ({shown} of {total})").format(
            shown=self.number(shown), total=self.number(total)
        )

    def columns(self) -> tuple[str, ...]:
        return (
            self._tr.gettext("Allegation"),
            self._tr.gettext("Accused party"),
            self._tr.gettext("Occurred at"),
            # TRANSLATORS: column of the deadline by which the accused party must answer
            self._tr.gettext("Answer due"),
        )

    def overdue(self) -> str:
        # TRANSLATORS: an allegation whose answer deadline has passed
        return self._tr.gettext("overdue")

    def nothing(self) -> str:
        return self._tr.gettext("No allegation under this agreement.")

    def party_column(self) -> str:
        # TRANSLATORS: column of a table: the party accused
        return self._tr.gettext("Party")

    def day(self, day: int) -> str:
        return format_date(day_of(day), "medium", locale=self.locale)

    def number(self, n: int) -> str:
        return format_decimal(n, locale=self.locale)


# -- chart --------------------------------------------------------------------------------------
def _figure(report: AllegationReport, words: _Words) -> Any:
    """One panel per accused party: the day's allegations stacked by state."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    parties = sorted({row.party for row in report.counts}) or [""]
    days = sorted({row.day for row in report.counts})
    figure = Figure(figsize=(10, 2.2 + 2.6 * len(parties)), layout="constrained")
    figure.suptitle(f"{words.title()}\n{words.subtitle(report)}", fontsize=12)
    axes = figure.subplots(len(parties), 1, squeeze=False, sharex=True)[:, 0]
    table = {(r.party, r.day, r.state): r.count for r in report.counts}
    dates = [day_of(d) for d in days]
    x_label, y_label = words.axis()
    for ax, party in zip(axes, parties, strict=True):
        bottom = [0] * len(days)
        for state in STATES:
            heights = [table.get((party, d, state), 0) for d in days]
            if any(heights):
                ax.bar(
                    dates,
                    heights,
                    bottom=bottom,
                    width=0.9,
                    color=_COLOURS[state],
                    label=words.state(state),
                )
                bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
        escalated = sum(r.escalated for r in report.counts if r.party == party)
        heading = words.against(party) if party else words.nothing()
        ax.set_title(f"{heading} — {words.escalated(escalated)}" if party else heading)
        ax.set_ylabel(y_label)
        ax.yaxis.get_major_locator().set_params(integer=True)
        if any(bottom):
            ax.legend(loc="upper left", fontsize=8)
    axes[-1].set_xlabel(x_label)
    figure.autofmt_xdate()
    return figure


def report_png(report: AllegationReport, locale: str) -> bytes:
    out = io.BytesIO()
    _figure(report, _Words(locale)).savefig(out, format="png", dpi=100)
    return out.getvalue()


def report_pdf(report: AllegationReport, locale: str) -> bytes:
    """The chart, then the totals and the open deadlines as a page of text."""
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    words = _Words(locale)
    out = io.BytesIO()
    with PdfPages(out) as pdf:
        pdf.savefig(_figure(report, words))
        page = Figure(figsize=(8.27, 11.69))
        align = "right" if words.rtl else "left"
        x = 0.95 if words.rtl else 0.05
        for n, line in enumerate(_text_lines(report, words)):
            page.text(x, 0.95 - n * 0.022, line, ha=align, va="top", fontsize=9)
            if n > 40:
                break
        pdf.savefig(page)
    return out.getvalue()


def _text_lines(report: AllegationReport, words: _Words) -> Iterator[str]:
    yield f"{words.title()} — {words.subtitle(report)}"
    for party, states in report.totals().items():
        shown = ", ".join(f"{words.state(s)}: {words.number(n)}" for s, n in states.items())
        yield f"{words.against(party)}: {shown}"
    yield words.escalated(report.escalated())
    yield words.open_heading(len(report.open), report.open_total)
    for allegation in report.open:
        yield "  ".join(_open_cells(allegation, report, words))


def _open_cells(
    allegation: AllegationRecord, report: AllegationReport, words: _Words
) -> tuple[str, str, str, str]:
    due = format_ms(allegation.deadline_ms)[:16].replace("T", " ")
    if allegation.deadline_ms <= report.generated_ms:
        due = f"{due} ({words.overdue()})"
    occurred = format_ms(allegation.occurred_ms)[:16].replace("T", " ")
    return allegation.id[:16], allegation.accused, occurred, due


# -- HTML -----------------------------------------------------------------------------------------
def report_html(report: AllegationReport, locale: str) -> str:
    """A page that holds everything it shows: the chart embedded, the totals, the open
    deadlines; no script, no link out."""
    words = _Words(locale)
    chart = base64.b64encode(report_png(report, locale)).decode("ascii")
    direction = "rtl" if words.rtl else "ltr"
    title = escape(words.title())
    parts = [
        "<!doctype html>",
        f'<html lang="{locale}" dir="{direction}"><head><meta charset="utf-8">',
        f"<title>{title}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #999;padding:.2em .6em}td.n{text-align:end}</style>",
        "</head><body>",
        f"<h1>{title}</h1><p>{escape(words.subtitle(report))}</p>",
        f'<img alt="{title}" src="data:image/png;base64,{chart}">',
        _totals_table(report, words),
        f"<p>{escape(words.escalated(report.escalated()))}</p>",
        f"<h2>{escape(words.open_heading(len(report.open), report.open_total))}</h2>",
        _open_table(report, words),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _row(cells: Sequence[str], *, head: bool = False, numeric: int = 99) -> str:
    tag = "th" if head else "td"
    shown = (
        f"<{tag}{' class=n' if i >= numeric else ''}>{escape(c)}</{tag}>"
        for i, c in enumerate(cells)
    )
    return f"<tr>{''.join(shown)}</tr>"


def _totals_table(report: AllegationReport, words: _Words) -> str:
    totals: Mapping[str, Mapping[str, int]] = report.totals()
    if not totals:
        return f"<p>{escape(words.nothing())}</p>"
    rows = [_row([words.party_column(), *(words.state(s) for s in STATES)], head=True)]
    for party, states in totals.items():
        rows.append(_row([party, *(words.number(states[s]) for s in STATES)], numeric=1))
    return f"<table>{''.join(rows)}</table>"


def _open_table(report: AllegationReport, words: _Words) -> str:
    rows = [_row(words.columns(), head=True)]
    rows.extend(_row(_open_cells(a, report, words)) for a in report.open)
    return f"<table>{''.join(rows)}</table>"
