#!/usr/bin/env python
"""A longer schemathesis run against a real ``parley serve`` on 127.0.0.1.

The same node, identities and hooks as ``tests/api/test_schemathesis.py``
(``tests/api/fuzzing.py``), with more examples per operation and, with ``--max-time``,
fuzzing and the stateful phase repeated until the time is spent. It is a script, not a test.

    .venv/bin/python bench/schemathesis_run.py                     # 100 examples (~10 min)
    .venv/bin/python bench/schemathesis_run.py --examples 30       # ~4 min
    .venv/bin/python bench/schemathesis_run.py --max-time 1800 --seed 7

Results: a table of operations x checks x failures on the terminal, and
``bench/results/schemathesis_run.json``: the report, the table, the machine and the
fuzzer's own output. Exit 1 when a gated check failed (every check but
``positive_data_acceptance`` and ``negative_data_rejection``, as in the test). The node is
killed on exit, on error and on SIGTERM/Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # tests.api.fuzzing

import httpx  # noqa: E402
from node_bench import exit_on_sigterm, machine  # noqa: E402  (bench/ is sys.path[0])
from tests.api.fuzzing import DATA_CHECKS, FuzzRun, fuzz, make_fuzzed_node  # noqa: E402

RESULTS = REPO / "bench" / "results"


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=100, help="per operation and phase")
    parser.add_argument("--max-time", type=int, default=None, help="seconds; repeat till then")
    parser.add_argument("--seed", type=int, default=20260205)
    parser.add_argument("--phases", default="examples,coverage,fuzzing,stateful")
    parser.add_argument("--output", type=Path, default=RESULTS / "schemathesis_run.json")
    return parser.parse_args()


def operations(url: str) -> list[str]:
    document = httpx.get(f"{url}/openapi.json", timeout=30, trust_env=False).json()
    return [
        f"{method.upper()} {path}"
        for path, methods in document["paths"].items()
        for method in methods
    ]


def table(names: list[str], run: FuzzRun) -> dict[str, dict[str, bool]]:
    """Per operation, per check that failed anywhere in the run: did it fail there."""
    failures = run.report.get("failures", [])
    checks = sorted({f["type"] for f in failures})
    failed = {(f["type"], op) for f in failures for op in f["operations"]}
    return {name: {check: (check, name) in failed for check in checks} for name in names}


def show(rows: dict[str, dict[str, bool]], run: FuzzRun) -> None:
    checks = next(iter(rows.values()), {}).keys()
    width = max(map(len, rows))
    heading = "  ".join(f"{c}{'' if c in DATA_CHECKS else '*'}" for c in checks)
    print(f"{'operation':<{width}}  {heading or 'no failure'}")
    for name, cells in rows.items():
        marks = "  ".join(f"{'FAIL' if cells[c] else '-':<{len(c) + 1}}" for c in checks)
        print(f"{name:<{width}}  {marks}")
    print("* gated: a failure of it fails the run")
    cases = run.report.get("test_cases", {})
    print(
        f"test cases: {cases.get('generated', 0)} generated, "
        f"{cases.get('unique_failures', 0)} unique failures; "
        f"gated failures: {len(run.gated())}; errors: {run.errors() or 'none'}"
    )


def main() -> int:
    args = arguments()
    RESULTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="parley-fuzz-") as folder:
        node = make_fuzzed_node(Path(folder) / "node")
        try:
            server = node.start()
            names = operations(server.url)
            started = time.monotonic()
            run = fuzz(
                server,
                Path(folder),
                max_examples=args.examples,
                seed=args.seed,
                phases=args.phases,
                max_time_s=args.max_time,
                timeout_s=(args.max_time or 3600) + 600,
            )
            elapsed = time.monotonic() - started
        finally:
            node.kill_all()
        tracebacks = node.log_text().count("Traceback")
    rows = table(names, run)
    show(rows, run)
    print(f"{elapsed:.0f} s; node tracebacks: {tracebacks}")
    result: dict[str, Any] = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "arguments": {k: str(v) for k, v in vars(args).items()},
        "elapsed_s": round(elapsed, 1),
        "node_tracebacks": tracebacks,
        "table": rows,
        "report": run.report,
        "output": run.summary(),
    }
    args.output.write_text(json.dumps(result, indent=2), "utf-8")
    print(f"written: {args.output}")
    return 1 if run.gated() or run.errors() or tracebacks else 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    sys.exit(main())
