#!/usr/bin/env python
"""Allegation report: an agreement with 100,000 allegations, reported in under 2 s.

Fills a node's SQLite store (a temporary folder, the real migrations) with 100,000
allegations of one agreement over 30 days against two parties in every state, a tenth of
them escalated, plus 20,000 of another agreement, and measures, best of ``--repeat`` runs:

* the report: counts per day, accused party and state, and the open deadlines
  (``build_report``, the store's grouped read of its index), then each of its forms: JSON,
  CSV, the PNG chart, the HTML page (chart embedded), the PDF;
* the baseline, in the same run on the same store: a naive loop that reads every
  allegation of the agreement a page at a time (``list_allegations``) and counts them in
  Python, as a report would without its grouped read.

    .venv/bin/python bench/allegations_bench.py              # ~1 minute
    .venv/bin/python bench/allegations_bench.py --count 10000 --repeat 1

Results: a table on the terminal and ``bench/results/allegations_bench.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from parley.services._reports import (
    build_report,
    report_csv,
    report_html,
    report_pdf,
    report_png,
)
from parley.store import DAY_MS, AllegationRecord, SqlStore

AGREEMENT = "a1" * 32
OTHER = "a2" * 32
PARTIES = ("ru-genstaff", "us-eucom")
STATES = ("alleged", "answered", "found", "not_found", "unresolved")
NOW_MS = 1_772_000_000_000
TARGET_S = 2.0
RESULTS = Path(__file__).with_name("results") / "allegations_bench.json"


def allegations(agreement: str, count: int, seed: int) -> list[AllegationRecord]:
    rng = random.Random(seed)
    rows = []
    for n in range(count):
        occurred = NOW_MS - rng.randrange(30 * DAY_MS)
        state = rng.choice(STATES)
        escalated = occurred + 73 * 3_600_000 if state == "alleged" and n % 10 == 0 else None
        accused = rng.choice(PARTIES)
        rows.append(
            AllegationRecord(
                f"{agreement[:8]}{n:056x}",
                "ch_abudhabi01",
                agreement,
                PARTIES[1 - PARTIES.index(accused)],
                accused,
                occurred,
                occurred + 3_600_000,
                occurred + 73 * 3_600_000,
                state,
                escalated,
            )
        )
    return rows


def fill(store: SqlStore, count: int) -> float:
    started = time.perf_counter()
    for agreement, n, seed in ((AGREEMENT, count, 1), (OTHER, count // 5, 2)):
        rows = allegations(agreement, n, seed)
        for i in range(0, len(rows), 10_000):
            batch = rows[i : i + 10_000]
            store.write_sync(lambda tx, batch=batch: tx.insert_allegations(batch))
    return time.perf_counter() - started


def naive_counts(store: SqlStore) -> Counter[tuple[int, str, str]]:
    """Every allegation read and counted one by one."""
    counted: Counter[tuple[int, str, str]] = Counter()
    after = None
    while True:
        page = store.list_allegations(AGREEMENT, after=after, limit=1000)
        for a in page:
            counted[(a.occurred_day, a.accused, a.state)] += 1
        if len(page) < 1000:
            return counted
        after = page[-1].id


def best(repeat: int, run: Callable[[], Any]) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return min(times), result


def report_json(store: SqlStore) -> str:
    report = build_report(store, AGREEMENT, NOW_MS)
    return json.dumps(
        {
            "counts": [c.__dict__ for c in report.counts],
            "open": [a.id for a in report.open],
            "open_total": report.open_total,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="parley-allegations-") as folder:
        store = SqlStore.open(f"sqlite:///{folder}/parley.db")
        try:
            filled = fill(store, args.count)
            report = build_report(store, AGREEMENT, NOW_MS)
            rows: list[tuple[str, float]] = []
            for name, run in (
                ("counts + open deadlines", lambda: build_report(store, AGREEMENT, NOW_MS)),
                ("report as JSON", lambda: report_json(store)),
                ("report as CSV", lambda: report_csv(build_report(store, AGREEMENT, NOW_MS))),
                ("chart as PNG", lambda: report_png(build_report(store, AGREEMENT, NOW_MS), "en")),
                ("page as HTML", lambda: report_html(build_report(store, AGREEMENT, NOW_MS), "en")),
                (
                    "document as PDF",
                    lambda: report_pdf(build_report(store, AGREEMENT, NOW_MS), "en"),
                ),
            ):
                seconds, _ = best(args.repeat, run)
                rows.append((name, seconds))
            baseline_s, naive = best(args.repeat, lambda: naive_counts(store))
        finally:
            store.close()

    grouped = {(c.day, c.party, c.state): c.count for c in report.counts}
    assert grouped == dict(naive), "the grouped counts differ from the naive loop's"
    counts_s = rows[0][1]
    slowest = max(seconds for _, seconds in rows)
    print(
        f"{args.count:,} allegations of one agreement (+{args.count // 5:,} of another); "
        f"store filled in {filled:.1f} s; best of {args.repeat}"
    )
    print(f"{'what':<28} {'seconds':>9}")
    for name, seconds in rows:
        print(f"{name:<28} {seconds:>9.3f}")
    print(f"{'baseline: naive loop':<28} {baseline_s:>9.3f}")
    ratio = baseline_s / counts_s
    print(
        f"counts: {ratio:.0f}x faster than the naive loop; slowest form {slowest:.3f} s "
        f"(target < {TARGET_S} s: {'met' if slowest < TARGET_S else 'MISSED'})"
    )
    args.output.parent.mkdir(exist_ok=True)
    args.output.write_text(
        json.dumps(
            {
                "allegations": args.count,
                "other_agreement": args.count // 5,
                "repeat": args.repeat,
                "seconds": dict(rows),
                "baseline_naive_loop_s": baseline_s,
                "ratio_counts_vs_baseline": ratio,
                "target_s": TARGET_S,
                "met": slowest < TARGET_S,
                "python": sys.version.split()[0],
                "machine": platform.machine(),
            },
            indent=2,
        )
        + "\n"
    )
    print(f"written {args.output}")


if __name__ == "__main__":
    main()
