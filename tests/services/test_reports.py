"""The report of an agreement's allegations: counts per day, accused party and state, open
deadlines, CSV, and the chart as PNG, HTML and PDF in each language."""

from __future__ import annotations

import csv
import io

import pytest

from parley.clock import to_ms
from parley.forms import SUPPORTED_LOCALES
from parley.services._reports import (
    build_report,
    report_csv,
    report_html,
    report_pdf,
    report_png,
)
from parley.store import DAY_MS, AllegationRecord
from tests.conftest import START

AGREEMENT = "a1" * 32
OTHER = "a2" * 32
US, RU = "us-eucom", "ru-genstaff"
NOW = to_ms(START)
H = 3_600_000


def allegation(n: int, accused: str, day: int, state: str = "alleged", **more: object):
    occurred = NOW - day * DAY_MS
    fields: dict[str, object] = {
        "id": f"{n:064x}",
        "channel": "ch_abudhabi01",
        "agreement": AGREEMENT,
        "author": US if accused == RU else RU,
        "accused": accused,
        "occurred_ms": occurred,
        "alleged_ms": occurred + H,
        "deadline_ms": occurred + 73 * H,
        "state": state,
        **more,
    }
    return AllegationRecord(**fields)  # type: ignore[arg-type]


@pytest.fixture
def node(make_node):
    node = make_node(US)
    rows = [
        allegation(1, RU, 0),
        allegation(2, RU, 0, "answered", answer="dispute"),
        allegation(3, RU, 5, escalated_ms=NOW - 2 * DAY_MS),
        allegation(4, US, 5, "found", finding="found"),
        allegation(5, US, 5, "found", finding="found"),
        allegation(6, RU, 5, agreement=OTHER),
    ]
    node.store.write_sync(lambda tx: tx.insert_allegations(rows))
    return node


def test_counts_are_per_day_accused_party_and_state(node):
    report = build_report(node.store, AGREEMENT, NOW)
    today, earlier = NOW // DAY_MS, NOW // DAY_MS - 5

    assert [(c.day, c.party, c.state, c.count, c.escalated) for c in report.counts] == [
        (earlier, RU, "alleged", 1, 1),
        (earlier, US, "found", 2, 0),
        (today, RU, "alleged", 1, 0),
        (today, RU, "answered", 1, 0),
    ]
    assert report.totals()[RU] == {
        "alleged": 2,
        "answered": 1,
        "found": 0,
        "not_found": 0,
        "unresolved": 0,
    }
    assert report.escalated() == 1


def test_open_deadlines_come_nearest_first_with_the_overdue_ones(node):
    report = build_report(node.store, AGREEMENT, NOW, open_limit=1)

    assert [a.id for a in report.open] == [f"{3:064x}"]
    assert (report.open_total, report.overdue()) == (2, 1)


def test_csv_has_a_row_per_count(node):
    rows = list(csv.reader(io.StringIO(report_csv(build_report(node.store, AGREEMENT, NOW)))))

    assert rows[0] == ["day", "party", "state", "count", "escalated"]
    assert rows[1] == ["2026-01-31", RU, "alleged", "1", "1"]
    assert len(rows) == 5


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_the_chart_is_an_image_a_page_and_a_document_in_each_language(node, locale):
    report = build_report(node.store, AGREEMENT, NOW)

    assert report_png(report, locale).startswith(b"\x89PNG\r\n\x1a\n")
    assert report_pdf(report, locale).startswith(b"%PDF-")
    page = report_html(report, locale)
    assert f'<html lang="{locale}" dir="{"rtl" if locale == "ar" else "ltr"}">' in page
    assert 'src="data:image/png;base64,' in page
    assert "<script" not in page
    if locale != "en":
        assert "Allegations per day" not in page


def test_an_agreement_without_allegations_still_has_a_report(node):
    report = build_report(node.store, "ff" * 32, NOW)

    assert (report.counts, report.open_total) == ([], 0)
    assert "No allegation under this agreement." in report_html(report, "en")
    assert report_png(report, "en").startswith(b"\x89PNG")
