#!/usr/bin/env python
"""Exchange list checks: a 10,000-person list against 100,000 persons exchanged before.

Generates, from fixed numbers, 100,000 earlier exchanged persons and a new list of 10,000
(Cyrillic names with their Latin spelling, every 13th an Arabic name), plants duplicates in
it (persons of earlier exchanges, spelt in Latin where the earlier list had the original
script, and persons listed twice), renders it as CSV and measures, median of ``--repeat``:

* the index of the earlier persons (``PersonIndex``, blocked on the date of birth);
* ``check_list`` of the CSV bytes: reading, every row check, duplicates within the list and
  against the earlier persons;
* the baseline in the same run: a naive loop comparing each row with every earlier person
  (``likeness``), on ``--sample`` rows, extrapolated to the whole list and labelled so;
  it must find what the index finds on those rows.

    .venv/bin/python bench/exchange_bench.py            # ~30 s
    .venv/bin/python bench/exchange_bench.py --check    # exit 1 when the target is missed

Results: a table on the terminal and ``bench/results/exchange_bench.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from parley.exchange import (
    Known,
    Likeness,
    Person,
    PersonIndex,
    check_list,
    fictitious_persons,
    likeness,
    name_key,
    render_csv,
)

TARGET_S = 2.0
TODAY = date(2026, 12, 3)
RESULTS = Path(__file__).parent / "results" / "exchange_bench.json"


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--earlier", type=int, default=100_000)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--planted", type=int, default=50, help="duplicates of each kind")
    parser.add_argument("--sample", type=int, default=100, help="rows the naive loop checks")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--output", type=Path, default=RESULTS)
    return parser.parse_args()


def new_list(rows: int, earlier: list[Person], planted: int) -> list[Person]:
    persons = fictitious_persons(rows, start=len(earlier), arabic_every=13)
    step = rows // (2 * planted + 1)
    for k in range(planted):
        before = earlier[(k * 7919) % len(earlier)]
        persons[(2 * k + 1) * step] = dataclasses.replace(before, name=before.latin)
        persons[(2 * k + 2) * step] = persons[k]
    return persons


def timed(work: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median time of ``work``, each run cold: the spellings' cache is emptied first."""
    times, result = [], None
    for _ in range(repeat):
        name_key.cache_clear()
        start = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def naive_find(earlier: list[Known], person: Person) -> Known | None:
    found: Known | None = None
    for known in earlier:
        how = likeness(person, known.person)
        if how is Likeness.SAME:
            return known
        if how is Likeness.POSSIBLE and found is None:
            found = known
    return found


def main() -> int:
    args = arguments()
    earlier = fictitious_persons(args.earlier, arabic_every=13)
    known = [Known(f"earlier row {i}", p) for i, p in enumerate(earlier, 1)]
    persons = new_list(args.rows, earlier, args.planted)
    data = render_csv(persons)

    index_s, index = timed(lambda: PersonIndex(known), args.repeat)
    check_s, check = timed(lambda: check_list(data, "csv", today=TODAY, earlier=index), args.repeat)
    codes = [p.code for p in check.problems]

    sample = persons[: args.sample]
    start = time.perf_counter()
    naive = [naive_find(known, p) for p in sample]
    naive_sample_s = time.perf_counter() - start
    naive_s = naive_sample_s * len(persons) / len(sample)
    indexed = [(f[0] if (f := index.find(p)) else None) for p in sample]
    agree = naive == indexed

    total_s = index_s + check_s
    figures = {
        "when": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "commit": _commit(),
        "python": platform.python_version(),
        "earlier": args.earlier,
        "rows": args.rows,
        "csv_bytes": len(data),
        "index_s": round(index_s, 3),
        "check_s": round(check_s, 3),
        "total_s": round(total_s, 3),
        "target_s": TARGET_S,
        "already_exchanged_found": codes.count("already_exchanged"),
        "duplicates_found": codes.count("duplicate_in_list"),
        "planted": args.planted,
        "naive_sample_rows": len(sample),
        "naive_sample_s": round(naive_sample_s, 3),
        "naive_extrapolated_s": round(naive_s, 1),
        "ratio": round(naive_s / total_s, 1),
        "naive_agrees_on_sample": agree,
    }
    _print(figures)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(figures, indent=2) + "\n", "utf-8")
    missed = total_s >= TARGET_S or not agree
    return 1 if args.check and missed else 0


def _print(f: dict[str, Any]) -> None:
    rows = [
        ("index of earlier persons", f"{f['earlier']:,}", f"{f['index_s']:.3f} s"),
        ("check_list (read + checks)", f"{f['rows']:,} rows", f"{f['check_s']:.3f} s"),
        ("total (target < 2 s)", "", f"{f['total_s']:.3f} s"),
        (
            "naive loop, extrapolated",
            f"{f['naive_sample_rows']} rows run",
            f"{f['naive_extrapolated_s']:,.1f} s",
        ),
        ("ratio naive / total", "", f"{f['ratio']:,.0f}x"),
    ]
    print(f"{'step':<30} {'size':>16} {'time':>12}")
    for step, size, took in rows:
        print(f"{step:<30} {size:>16} {took:>12}")
    print(
        f"found: {f['already_exchanged_found']} already exchanged, "
        f"{f['duplicates_found']} listed twice (planted {f['planted']} of each); "
        f"naive loop agrees on its sample: {f['naive_agrees_on_sample']}"
    )


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


if __name__ == "__main__":
    sys.exit(main())
