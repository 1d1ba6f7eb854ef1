#!/usr/bin/env python
"""Soak: three real nodes replicate through a network that keeps breaking.

Starts ``parley serve`` for us-eucom, ru-genstaff and ae-mediator (``LocalCluster``) with a
fault-injecting proxy (``tests/support/faultproxy.py``) on each of the six directed links,
opens the hotline (us <-> ru) and a three-party channel with the mediator, then for the
chosen time:

* every party posts on every channel it is in, at a steady rate (one thread each);
* every few seconds the links get new faults at random: clean, lossy (drops, delays,
  duplicates, reordering, truncated bodies), a cut link, the direct us <-> ru link cut
  both ways (traffic must go through the mediator), or one node cut off entirely.

Then every link is healed and the script waits for convergence: every event that got a
201 is on every member of its channel, the members' journals are identical, no event is
stored twice and every chain runs 1..n linked by ``prev``.

    .venv/bin/python bench/soak.py             # 2 minutes of faults
    .venv/bin/python bench/soak.py --quick     # 20 seconds
    .venv/bin/python bench/soak.py --minutes 10 --seed 7 --rate 3
    .venv/bin/python bench/soak.py --quick --no-faults   # the same load on a clean network

Results: a table on the terminal and ``bench/results/soak.json``. The exit code is 1 if
anything was lost or duplicated, or the journals did not converge.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests/support/faultproxy.py is shared with the test suite

from tests.support.faultproxy import Fault, FaultPolicy, FaultProxy  # noqa: E402

from parley.cli._cluster import LocalCluster  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "soak.json"
US, RU, AE = "us-eucom", "ru-genstaff", "ae-mediator"
PARTIES = {
    US: "United States European Command",
    RU: "Russian General Staff",
    AE: "United Arab Emirates (mediator)",
}
SETTINGS = {
    "password_time_cost": 1,
    "password_memory_kib": 64,
    "anti_entropy_interval_s": 1.0,
    "receipt_delay_s": 0.2,
    "retry_max_s": 2.0,
    "peer_timeout_s": 5.0,
    "link_test_interval_s": 15.0,
}
LINKS = [(a, b) for a in PARTIES for b in PARTIES if a != b]
CLEAN = FaultPolicy()
CUT = FaultPolicy(partition=True)
CONVERGENCE_TIMEOUT_S = 180.0
REQUEST_TIMEOUT_S = 10.0
Link = tuple[str, str]


def lossy(rng: random.Random) -> FaultPolicy:
    return FaultPolicy(
        drop=rng.uniform(0.05, 0.3),
        delay_s=(0.0, rng.uniform(0.05, 0.5)),
        duplicate=rng.uniform(0.0, 0.2),
        reorder=rng.uniform(0.0, 0.2),
        truncate=rng.uniform(0.0, 0.15),
        seed=rng.randrange(2**32),
        max_hold_s=0.5,
    )


@dataclass
class FaultPlan:
    """Switches the links' policies at random; remembers what it did."""

    proxies: dict[Link, FaultProxy]
    rng: random.Random
    switches: Counter[str] = field(default_factory=Counter)

    def switch(self) -> str:
        scene = self.rng.choices(
            ["clean", "lossy", "cut-one-link", "direct-link-down", "isolate-node", "mixed"],
            weights=[1, 3, 2, 2, 1, 3],
        )[0]
        policies: dict[Link, FaultPolicy] = dict.fromkeys(self.proxies, CLEAN)
        if scene == "lossy":
            policies = {link: lossy(self.rng) for link in self.proxies}
        elif scene == "cut-one-link":
            policies[self.rng.choice(LINKS)] = CUT
        elif scene == "direct-link-down":
            policies[US, RU] = policies[RU, US] = CUT
            policies.update({link: lossy(self.rng) for link in LINKS if AE in link})
        elif scene == "isolate-node":
            node = self.rng.choice(list(PARTIES))
            policies.update({link: CUT for link in LINKS if node in link})
        elif scene == "mixed":
            policies = {
                link: self.rng.choices([CLEAN, CUT, lossy(self.rng)], weights=[2, 1, 3])[0]
                for link in self.proxies
            }
        for link, policy in policies.items():
            self.proxies[link].set_policy(policy)
        self.switches[scene] += 1
        return scene

    def heal(self) -> None:
        for proxy in self.proxies.values():
            proxy.set_policy(CLEAN)


class Poster:
    """Posts on one node's API at a steady rate from a thread; keeps the id of every 201."""

    def __init__(self, cluster: LocalCluster, party: str, channel: str, rate: float) -> None:
        self.party, self.channel, self.interval = party, channel, 1.0 / rate
        self.client = httpx.Client(
            base_url=cluster.nodes[party].url + "/api/v1",
            headers=dict(cluster.client(party).headers),
            timeout=REQUEST_TIMEOUT_S,
            trust_env=False,
        )
        self.ids: list[str] = []
        self.failures: Counter[str] = Counter()
        self.post_ms: list[float] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, name=f"post-{party}", daemon=True)

    def run(self) -> None:
        next_at = time.monotonic()
        index = 0
        while not self.stop.is_set():
            index += 1
            started = time.monotonic()
            try:
                answer = self.client.post(
                    f"/channels/{self.channel}/messages",
                    json={"precedence": "routine", "text": f"{self.party} #{index}", "lang": "en"},
                )
            except httpx.HTTPError as exc:
                self.failures[type(exc).__name__] += 1
            else:
                if answer.status_code == 201:
                    self.ids.append(answer.json()["id"])
                    self.post_ms.append((time.monotonic() - started) * 1000)
                else:
                    self.failures[str(answer.status_code)] += 1
            next_at += self.interval
            self.stop.wait(max(0.0, next_at - time.monotonic()))

    def close(self) -> None:
        self.stop.set()
        self.thread.join(REQUEST_TIMEOUT_S + 5)
        self.client.close()


def poll(predicate: Callable[[], bool], timeout_s: float) -> float | None:
    """Seconds until ``predicate`` held, or None if it never did within ``timeout_s``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        try:
            if predicate():
                return time.monotonic() - start
        except (httpx.HTTPError, RuntimeError):
            pass
        time.sleep(0.1)
    return None


def converged(cluster: LocalCluster, channel: str, members: list[str], ids: set[str]) -> bool:
    journals = [cluster.journal(p, channel) for p in members]
    return ids <= journals[0] and all(j == journals[0] for j in journals)


def audit(
    cluster: LocalCluster, channel: str, members: list[str], ids: list[str]
) -> dict[str, Any]:
    """Delivered, lost and duplicated events, broken chains and delivery latency."""
    listings = {p: cluster.events(p, channel) for p in members}
    stored = {p: Counter(item["id"] for item in events) for p, events in listings.items()}
    duplicates = 0
    broken_chains = 0
    for events in listings.values():
        duplicates += sum(n - 1 for n in Counter(item["id"] for item in events).values())
        slots = Counter((item["event"]["author"], item["event"]["seq"]) for item in events)
        duplicates += sum(n - 1 for n in slots.values())
        broken_chains += _broken_chains(events)
    delivered = sum(all(stored[p][i] for p in members) for i in ids)
    latencies = _latencies(listings)
    return {
        "channel": channel,
        "members": members,
        "sent": len(ids),
        "delivered": delivered,
        "lost": len(ids) - delivered,
        "duplicates": duplicates,
        "broken_chains": broken_chains,
        "journal_sizes": {p: len(events) for p, events in listings.items()},
        "journals_identical": len({frozenset(c) for c in stored.values()}) == 1,
        "latencies_ms": latencies,
    }


def _broken_chains(events: list[dict[str, Any]]) -> int:
    chains: dict[str, list[dict[str, Any]]] = {}
    for item in events:
        chains.setdefault(item["event"]["author"], []).append(item)
    broken = 0
    for chain in chains.values():
        chain.sort(key=lambda item: item["event"]["seq"])
        seqs = [item["event"]["seq"] for item in chain]
        prevs = [item["event"]["prev"] for item in chain]
        links = [None] + [item["id"] for item in chain[:-1]]
        broken += seqs != list(range(1, len(chain) + 1)) or prevs != links
    return broken


def _latencies(listings: dict[str, list[dict[str, Any]]]) -> list[float]:
    """For each message and each other member: stored there minus stored at its author."""
    stored_at: dict[str, dict[str, datetime]] = {}
    authors: dict[str, str] = {}
    for party, events in listings.items():
        for item in events:
            if item["event"]["type"] == "message":
                authors[item["id"]] = item["event"]["author"]
                stored_at.setdefault(item["id"], {})[party] = _ts(item["stored_at"])
    latencies = []
    for event_id, author in authors.items():
        times = stored_at[event_id]
        if author in times:
            latencies.extend(
                (at - times[author]).total_seconds() * 1000
                for party, at in times.items()
                if party != author
            )
    return latencies


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def soak(
    seconds: float, rate: float, seed: int, console: Console, faults: bool = True
) -> dict[str, Any]:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="parley-soak-") as tmp, ExitStack() as stack:
        cluster = LocalCluster(Path(tmp), PARTIES, settings=SETTINGS)
        proxies: dict[Link, FaultProxy] = {}
        for a, b in LINKS:
            proxies[a, b] = proxy = FaultProxy(cluster.nodes[b].url)
            stack.callback(proxy.stop)
            proxy.start()
        stack.enter_context(cluster)
        cluster.init(lambda a, b: [proxies[a, b].url])
        cluster.start()
        hotline = cluster.open_channel(US, "hotline", {RU: "party"})
        talks = cluster.open_channel(US, "talks", {RU: "party", AE: "mediator"})
        members = {hotline: [US, RU], talks: [US, RU, AE]}
        console.print(f"nodes up, channels {hotline} and {talks}; faults for {seconds:.0f} s")

        posters = [Poster(cluster, p, ch, rate) for ch, parties in members.items() for p in parties]
        for poster in posters:
            stack.callback(poster.close)
        plan = FaultPlan(proxies, rng)
        started = time.monotonic()
        for poster in posters:
            poster.thread.start()
        while time.monotonic() - started < seconds:
            scene = plan.switch() if faults else "clean (baseline)"
            console.print(f"  {time.monotonic() - started:6.1f} s  {scene}")
            time.sleep(min(rng.uniform(1.0, 5.0), max(0.0, seconds - (time.monotonic() - started))))
        for poster in posters:
            poster.close()
        fault_stats = _fault_stats(proxies)
        plan.heal()
        healed = time.monotonic()
        console.print(f"healed after {healed - started:.1f} s; waiting for convergence")

        sent = {ch: [i for p in posters if p.channel == ch for i in p.ids] for ch in members}
        waits = {
            ch: poll(
                lambda ch=ch: converged(cluster, ch, members[ch], set(sent[ch])),
                CONVERGENCE_TIMEOUT_S - (time.monotonic() - healed),
            )
            for ch in members
        }
        convergence_s = (
            None if any(w is None for w in waits.values()) else time.monotonic() - healed
        )
        # Convergence is checked channel by channel; the figure is until the last one held.
        channels = [audit(cluster, ch, members[ch], sent[ch]) for ch in members]
        post_ms = [ms for p in posters for ms in p.post_ms]
        failures = sum((p.failures for p in posters), Counter())

    latencies = [ms for c in channels for ms in c.pop("latencies_ms")]
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "nproc": os.cpu_count(),
            "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "seed": seed,
        "faults": faults,
        "fault_seconds": round(seconds, 1),
        "rate_per_poster": rate,
        "posters": len(posters),
        "sent": sum(c["sent"] for c in channels),
        "delivered": sum(c["delivered"] for c in channels),
        "lost": sum(c["lost"] for c in channels),
        "duplicates": sum(c["duplicates"] for c in channels),
        "broken_chains": sum(c["broken_chains"] for c in channels),
        "converged": convergence_s is not None,
        "convergence_s": None if convergence_s is None else round(convergence_s, 2),
        "post_failures": dict(failures),
        "post_ms_p50": _round(percentile(post_ms, 0.5)),
        "post_ms_p99": _round(percentile(post_ms, 0.99)),
        "delivery_ms_p50": _round(percentile(latencies, 0.5)),
        "delivery_ms_p99": _round(percentile(latencies, 0.99)),
        "delivery_ms_max": _round(max(latencies, default=None)),
        "delivery_ms_mean": _round(statistics.fmean(latencies) if latencies else None),
        "fault_switches": dict(plan.switches),
        "proxy": fault_stats,
        "channels": channels,
    }


def _fault_stats(proxies: dict[Link, FaultProxy]) -> dict[str, int]:
    totals: Counter[str] = Counter()
    for proxy in proxies.values():
        stats = proxy.stats
        totals["requests"] += stats.requests
        totals["forwarded"] += stats.forwarded
        for fault in Fault:
            totals[fault.value] += stats[fault]
    return dict(totals)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def report(result: dict[str, Any], console: Console) -> None:
    what = "of faults" if result["faults"] else "on a clean network (baseline)"
    title = f"Parley soak: {result['fault_seconds']} s {what}, seed {result['seed']}"
    table = Table(title=title)
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows: Iterable[tuple[str, Any]] = [
        ("messages sent (201)", result["sent"]),
        ("delivered to every member", result["delivered"]),
        ("lost", result["lost"]),
        ("duplicates", result["duplicates"]),
        ("broken chains", result["broken_chains"]),
        ("convergence after last fault (s)", result["convergence_s"]),
        ("post p50 / p99 (ms)", f"{result['post_ms_p50']} / {result['post_ms_p99']}"),
        (
            "delivery p50 / p99 / max (ms)",
            f"{result['delivery_ms_p50']} / {result['delivery_ms_p99']} / "
            f"{result['delivery_ms_max']}",
        ),
        ("local post failures", sum(result["post_failures"].values())),
        ("fault switches", ", ".join(f"{k} {v}" for k, v in result["fault_switches"].items())),
        (
            "proxy requests / faults",
            f"{result['proxy']['requests']} / "
            + ", ".join(
                f"{k} {v}"
                for k, v in result["proxy"].items()
                if k not in ("requests", "forwarded", "pass")
            ),
        ),
    ]
    for name, value in rows:
        table.add_row(name, str(value))
    console.print(table)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=2.0, help="how long faults go on")
    parser.add_argument("--quick", action="store_true", help="20 seconds of faults")
    parser.add_argument("--rate", type=float, default=2.0, help="posts per second per poster")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument(
        "--no-faults", action="store_true", help="baseline: the same load on a clean network"
    )
    args = parser.parse_args()
    if not 0 < args.minutes <= 24 * 60 or not 0 < args.rate <= 50:
        parser.error("--minutes must be in (0, 1440] and --rate in (0, 50]")
    seconds = 20.0 if args.quick else args.minutes * 60
    console = Console()
    result = soak(seconds, args.rate, args.seed, console, faults=not args.no_faults)
    report(result, console)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n", "utf-8")
    console.print(f"written to {args.output}")
    ok = result["converged"] and not (
        result["lost"] or result["duplicates"] or result["broken_chains"]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
