#!/usr/bin/env python
"""Verifiable record: inclusion proofs at 10 million entries, and ``parley verify`` of a
1-million-event bundle.

* **Proofs.** A SQLite store whose Merkle log holds ``--log-size`` entries (10,000,000 by
  default; leaves are random hashes appended through the store as the sequencer appends
  them, into tiles) answers inclusion proofs for random events through
  ``TransparencyLog.inclusion_proof`` (p50/p99 over 2,000 proofs, wall and CPU time) and
  consistency proofs.
  Baseline in the same run: the naive way, recomputing the proof from all leaf hashes
  (``root_of`` over the sibling ranges), timed a few times and compared as a ratio.
* **Verify.** A bundle of ``--events`` events (1,000,000 by default) in one channel of three
  parties: messages from two parties, acks and receipts, cosigned checkpoint, written with
  the same functions ``parley export`` uses. It is verified with ``verify_bundle`` on one
  process (the baseline) and on every core: wall time, events/s, CPU per event of the main
  process and its workers, peak memory and the load average; the ratio is printed.

    .venv/bin/python bench/record_bench.py                  # full run (~10 minutes)
    .venv/bin/python bench/record_bench.py --quick          # 100k events, 1M-entry log

Results: a table on the terminal and ``bench/results/record_bench.json``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import platform
import random
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from node_bench import percentiles  # bench/ is sys.path[0]

from parley.clock import SystemClock
from parley.protocol import (
    Checkpoint,
    CompactRange,
    Ed25519Signer,
    batch_nodes,
    cosign,
    entry_line,
    format_signature_line,
    header_line,
    inclusion_ranges,
    leaf_hash,
    root_of,
    sign_note,
    verify_inclusion,
)
from parley.services import Bus, NodeContext, TransparencyLog, verify_bundle
from parley.settings import Settings
from parley.store import SqlStore

RESULTS = Path(__file__).resolve().parent / "results"
CHANNEL = "ch_00000000000000bench0"
PARTIES = ("us-eucom", "ru-genstaff", "ae-mediator")
SEEDS = {party: hashlib.sha256(party.encode()).digest() for party in PARTIES}
TS0 = 1_780_000_000_000


def _ts(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def _canonical(obj: dict[str, Any]) -> bytes:
    # The generated events hold only ASCII strings and small integers, for which sorted,
    # compact JSON is exactly RFC 8785; verify_bundle would refuse any difference.
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def schedule(events: int) -> list[tuple[str, str]]:
    """(author, type) for each event after the opening: messages from the two parties, each
    answered by an ack of the other and a receipt of the mediator."""
    plan: list[tuple[str, str]] = [("us-eucom", "channel")]
    turn = 0
    while len(plan) < events:
        sender, other = (PARTIES[0], PARTIES[1]) if turn % 2 == 0 else (PARTIES[1], PARTIES[0])
        plan += [(sender, "message"), (other, "ack"), ("ae-mediator", "receipt")]
        turn += 1
    return plan[:events]


def generate(events: int) -> list[bytes]:
    """The events' canonical bytes with signatures, in log order (one core: acks name the
    id of the message before them, so the chains are made together)."""
    signers = {p: Ed25519Signer.from_seed(SEEDS[p]) for p in PARTIES}
    counts = dict.fromkeys(PARTIES, 0)
    prev: dict[str, str | None] = dict.fromkeys(PARTIES)
    last_id = ""
    raws: list[bytes] = []
    for pos, (author, kind) in enumerate(schedule(events)):
        event = {
            "author": author,
            "body": _body(kind, pos, last_id),
            "channel": CHANNEL,
            "prev": prev[author],
            "seen": {p: counts[p] for p in PARTIES if p != author},
            "seq": counts[author] + 1,
            "ts": _ts(TS0 + pos * 10),
            "type": kind,
            "v": 1,
        }
        signature = base64.b64encode(signers[author].sign(_canonical(event))).decode()
        raw = _canonical({**event, "sig": signature})
        last_id = prev[author] = hashlib.sha256(raw).hexdigest()
        counts[author] += 1
        raws.append(raw)
    return raws


def _body(kind: str, pos: int, last_id: str) -> dict[str, Any]:
    if kind == "channel":
        members = {"us-eucom": "party", "ru-genstaff": "party", "ae-mediator": "mediator"}
        return {"by": "admin", "members": members, "name": "Hotline"}
    if kind == "message":
        return {
            "by": "duty-officer",
            "deadline": _ts(TS0 + pos * 10 + 600_000),
            "lang": "en",
            "precedence": "routine",
            "text": f"Line check {pos}: all clear on our side.",
        }
    if kind == "ack":
        return {"by": "duty-officer", "event": last_id}
    return {}


def write_bundle(path: Path, events: int) -> float:
    """A bundle of ``events`` events, made with the functions ``parley export`` uses."""
    started = time.perf_counter()
    raws = generate(events)
    leaves = [leaf_hash(raw) for raw in raws]
    # Other channels' events after these make the inclusion proof non-empty.
    leaves += [hashlib.sha256(b"other %d" % i).digest() for i in range(7)]
    size = len(leaves)
    root = root_of(leaves)
    exporter = Ed25519Signer.from_seed(SEEDS["us-eucom"])
    body = Checkpoint("us-eucom", size, root).body()
    note = sign_note(body, "us-eucom", exporter)
    for witness in PARTIES[1:]:
        signer = Ed25519Signer.from_seed(SEEDS[witness])
        note += format_signature_line(cosign(body, witness, signer, TS0 // 1000))
    lines = [entry_line(i, raw) for i, raw in enumerate(raws)]
    parties = {p: (p, Ed25519Signer.from_seed(SEEDS[p]).public_key) for p in PARTIES}
    header = header_line(
        channel=CHANNEL,
        exported_by="us-eucom",
        exported_at=_ts(TS0),
        parties=parties,
        checkpoint=note,
        proof=_proof_nodes(leaves, size, len(raws)),
        lines=lines,
        signer=exporter,
    )
    with path.open("wb") as handle:
        handle.write(header)
        handle.writelines(lines)
    return time.perf_counter() - started


def _proof_nodes(leaves: list[bytes], size: int, bundled: int) -> dict[tuple[int, int], bytes]:
    needed = batch_nodes(size, range(bundled))
    out = {}
    for level, index in needed:
        start, end = index << level, min((index + 1) << level, size)
        out[(level, index)] = root_of(leaves[start:end])
    return out


def bench_verify(events: int, workdir: Path) -> dict[str, Any]:
    path = workdir / f"bundle_{events}.jsonl"
    made = write_bundle(path, events)
    results: dict[str, Any] = {
        "events": events,
        "bundle_mb": path.stat().st_size / 2**20,
        "generate_s": made,
    }
    for label, workers in (("one process", 1), ("all cores", os.cpu_count() or 1)):
        results[label] = _timed_verify(path, workers, events)
    results["ratio"] = results["one process"]["seconds"] / results["all cores"]["seconds"]
    return results


def _timed_verify(path: Path, workers: int, events: int) -> dict[str, Any]:
    """Wall time, CPU of this process and of its workers (the machine is shared: CPU per
    event is the figure that does not move with the load), peak memory, load average."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = time.process_time()
    started = time.perf_counter()
    report = verify_bundle(path, workers=workers)
    seconds = time.perf_counter() - started
    main_cpu = time.process_time() - cpu
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    workers_cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    assert len(report.entries) == events
    return {
        "workers": workers,
        "seconds": seconds,
        "events_per_s": events / seconds,
        "main_cpu_s": main_cpu,
        "workers_cpu_s": workers_cpu,
        "cpu_us_per_event": (main_cpu + workers_cpu) / events * 1e6,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "load_average": os.getloadavg(),
    }


# -- proofs at 10 million entries ----------------------------------------------------------------
def _leaf(i: int) -> bytes:
    return hashlib.sha256(b"leaf %d" % i).digest()


def _event_id(i: int) -> str:
    return hashlib.sha256(b"event %d" % i).hexdigest()


def fill_log(database: Path, size: int) -> tuple[float, list[bytes]]:
    """A store whose log holds ``size`` entries, written as the sequencer writes them: through
    ``append_log``, ``log_batch`` entries a transaction."""
    started = time.perf_counter()
    store = SqlStore.open(f"sqlite:///{database}")  # the schema, by the migrations
    tree = CompactRange.empty()
    leaves = [_leaf(i) for i in range(size)]
    batch = Settings().log_batch
    for start in range(0, size, batch):
        end = min(start + batch, size)
        nodes = [node for leaf in leaves[start:end] for node in tree.append(leaf)]
        ids = [_event_id(i) for i in range(start, end)]
        store.write_sync(lambda tx, at=start, ids=ids, nodes=nodes: tx.append_log(at, ids, nodes))
    store.close()
    return time.perf_counter() - started, leaves


def naive_inclusion(leaves: list[bytes], index: int, size: int) -> list[bytes]:
    """The baseline: every proof hash recomputed from the leaves (RFC 9162 PATH)."""
    return [root_of(leaves[a:b]) for a, b in inclusion_ranges(index, size)]


def bench_proofs(size: int, workdir: Path, samples: int) -> dict[str, Any]:
    database = workdir / "log.db"
    filled, leaves = fill_log(database, size)
    store = SqlStore.open(f"sqlite:///{database}")
    ctx = NodeContext(store, "us-eucom", SystemClock(), Settings(), Bus(), Ed25519Signer.generate())
    log = TransparencyLog(ctx)
    rng = random.Random(7)
    picks = [rng.randrange(size) for _ in range(samples)]
    root = root_of(leaves)
    # Wall time and this thread's CPU time: on a shared machine the wall time's tail is
    # mostly waiting for a core, the CPU time is what a proof costs.
    timings, cpu = [], []
    for index in picks:
        started, on_cpu = time.perf_counter(), time.thread_time()
        proof = log.inclusion_proof(_event_id(index), size)
        timings.append(time.perf_counter() - started)
        cpu.append(time.thread_time() - on_cpu)
        verify_inclusion(leaves[index], index, size, proof.proof, root)
    consistency, consistency_cpu = [], []
    for _ in range(samples // 4):
        first = rng.randrange(1, size)
        started, on_cpu = time.perf_counter(), time.thread_time()
        log.consistency_proof(first, size)
        consistency.append(time.perf_counter() - started)
        consistency_cpu.append(time.thread_time() - on_cpu)
    naive = []
    for index in picks[:3]:
        started = time.perf_counter()
        assert (
            naive_inclusion(leaves, index, size)
            == log.inclusion_proof(_event_id(index), size).proof
        )
        naive.append(time.perf_counter() - started)
    store.close()
    ours = percentiles(timings)
    return {
        "entries": size,
        "fill_s": filled,
        "database_mib": database.stat().st_size / 2**20,
        "inclusion_ms": ours,
        "inclusion_cpu_ms": percentiles(cpu),
        "consistency_ms": percentiles(consistency),
        "consistency_cpu_ms": percentiles(consistency_cpu),
        "load_average": os.getloadavg(),
        "naive_inclusion_ms": percentiles(naive),
        "ratio": percentiles(naive)["p50"] / ours["p50"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--log-size", type=int, default=10_000_000)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--quick", action="store_true", help="100k events, a 1M-entry log")
    parser.add_argument("--skip", choices=("proofs", "verify"), action="append", default=[])
    args = parser.parse_args()
    events = 100_000 if args.quick else args.events
    log_size = 1_000_000 if args.quick else args.log_size
    report: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()}
    }
    with tempfile.TemporaryDirectory(prefix="parley-record-bench-") as tmp:
        if "proofs" not in args.skip:
            report["proofs"] = bench_proofs(log_size, Path(tmp), args.samples)
            print_proofs(report["proofs"])
        if "verify" not in args.skip:
            report["verify"] = bench_verify(events, Path(tmp))
            print_verify(report["verify"])
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "record_bench.json").write_text(json.dumps(report, indent=2))
    return 0


def print_proofs(proofs: dict[str, Any]) -> None:
    print(
        f"Merkle log of {proofs['entries']:,} entries (SQLite {proofs['database_mib']:.0f} MiB, "
        f"written in {proofs['fill_s']:.0f} s)"
    )
    print(f"  {'':<28}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    for label, key in (
        ("inclusion proof (tiles)", "inclusion_ms"),
        ("  CPU time", "inclusion_cpu_ms"),
        ("consistency proof (tiles)", "consistency_ms"),
        ("  CPU time", "consistency_cpu_ms"),
        ("inclusion proof (naive)", "naive_inclusion_ms"),
    ):
        row = proofs[key]
        print(f"  {label:<28}{row['p50']:>10.3f}{row['p99']:>10.3f}{row['max']:>10.3f}")
    print(f"  ratio naive / tiles (p50): {proofs['ratio']:,.0f}x; target p99 < 1 ms")
    print("  load average: " + " ".join(f"{x:.2f}" for x in proofs["load_average"]))


def print_verify(verify: dict[str, Any]) -> None:
    print(
        f"parley verify, {verify['events']:,} events ({verify['bundle_mb']:.0f} MiB bundle, "
        f"made in {verify['generate_s']:.0f} s)"
    )
    print(f"  {'':<12}{'workers':>8}{'s':>8}{'events/s':>10}{'CPU us/ev':>10}{'RSS MiB':>9}  load")
    for label in ("one process", "all cores"):
        row = verify[label]
        print(
            f"  {label:<12}{row['workers']:>8}{row['seconds']:>8.1f}{row['events_per_s']:>10,.0f}"
            f"{row['cpu_us_per_event']:>10.1f}{row['peak_rss_mib']:>9.0f}  "
            f"{row['load_average'][0]:.2f}"
        )
    print(
        f"  ratio (one process / all cores): {verify['ratio']:.2f}x; "
        "target < 60 s for 1M events (17,000 events/s)"
    )


if __name__ == "__main__":
    sys.exit(main())
