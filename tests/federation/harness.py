"""Real nodes on loopback with a fault-injecting proxy on chosen links, and journal checks.

Every test here starts ``parley serve`` processes through :class:`LocalCluster`; a node
``a`` reaches node ``b`` through ``proxies[a, b]`` when that link is proxied.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from parley.cli._cluster import LocalCluster
from tests.support.faultproxy import FaultPolicy, FaultProxy

US, RU, AE = "us-eucom", "ru-genstaff", "ae-mediator"
NAMES = {
    US: "United States European Command",
    RU: "Russian General Staff",
    AE: "United Arab Emirates (mediator)",
}
FAST = {
    "password_time_cost": 1,
    "password_memory_kib": 64,
    "anti_entropy_interval_s": 0.5,
    "receipt_delay_s": 0.05,
    "retry_max_s": 1.0,
    "link_test_interval_s": 3600,
}
CLEAN = FaultPolicy()
PARTITIONED = FaultPolicy(partition=True)
Link = tuple[str, str]


@dataclass
class Net:
    cluster: LocalCluster
    proxies: dict[Link, FaultProxy]

    def set_policy(self, links: Iterable[Link], policy: FaultPolicy) -> None:
        for link in links:
            self.proxies[link].set_policy(policy)

    def heal_all(self) -> None:
        self.set_policy(self.proxies, CLEAN)


def both_ways(a: str, b: str) -> list[Link]:
    return [(a, b), (b, a)]


@contextmanager
def network(
    root: Path,
    parties: Iterable[str] = (US, RU, AE),
    proxied: Iterable[Link] = (),
    initial: Mapping[Link, FaultPolicy] | None = None,
    settings: Mapping[str, Any] | None = None,
) -> Iterator[Net]:
    """Start the nodes of ``parties``; ``proxied`` links go through a FaultProxy.

    ``settings`` change some of the FAST settings every node runs with.

    Everything (processes, proxies) is stopped on the way out, whatever happened.
    """
    with ExitStack() as stack:
        cluster = LocalCluster(
            root, {p: NAMES[p] for p in parties}, settings={**FAST, **(settings or {})}
        )
        proxies: dict[Link, FaultProxy] = {}
        for a, b in proxied:
            proxy = FaultProxy(cluster.nodes[b].url, policy=(initial or {}).get((a, b)))
            stack.callback(proxy.stop)
            proxy.start()
            proxies[a, b] = proxy

        def route(a: str, b: str) -> list[str]:
            proxy = proxies.get((a, b))
            return [proxy.url if proxy is not None else cluster.nodes[b].url]

        stack.enter_context(cluster)
        cluster.init(route)
        cluster.start()
        yield Net(cluster, proxies)


def post(cluster: LocalCluster, party: str, channel: str, text: str) -> dict[str, Any]:
    answer: dict[str, Any] = cluster.call(
        party,
        "POST",
        f"/channels/{channel}/messages",
        json={"precedence": "routine", "text": text, "lang": "en"},
    )
    return answer


class Poster:
    """Posts messages on one node from a background thread, recording every 201."""

    def __init__(
        self, cluster: LocalCluster, party: str, channel: str, count: int, pause_s: float = 0.0
    ) -> None:
        node = cluster.nodes[party]
        self._client = httpx.Client(
            base_url=node.url + "/api/v1",
            headers=dict(cluster.client(party).headers),
            timeout=10,
            trust_env=False,
        )
        self._party, self._channel = party, channel
        self._count, self._pause_s = count, pause_s
        self.ids: list[str] = []
        self.failures: list[str] = []
        self.stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"poster-{party}", daemon=True)

    def _run(self) -> None:
        for index in range(self._count):
            if self.stop.is_set():
                return
            try:
                answer = self._client.post(
                    f"/channels/{self._channel}/messages",
                    json={"precedence": "routine", "text": f"{self._party} #{index}", "lang": "en"},
                )
            except httpx.HTTPError as exc:
                self.failures.append(type(exc).__name__)
            else:
                if answer.status_code == 201:
                    self.ids.append(answer.json()["id"])
                else:
                    self.failures.append(f"{answer.status_code} {answer.text[:200]}")
            if self._pause_s:
                self.stop.wait(self._pause_s)

    def __enter__(self) -> Poster:
        self._thread.start()
        return self

    def join(self, timeout_s: float) -> None:
        self._thread.join(timeout_s)
        assert not self._thread.is_alive(), f"posting on {self._party} did not finish"

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        self._thread.join(15)
        self._client.close()


def all_present(
    cluster: LocalCluster, channel: str, parties: Iterable[str], ids: set[str]
) -> Callable[[], bool]:
    """A predicate: every id in ``ids`` is stored on each of ``parties``."""

    def check() -> bool:
        return all(ids <= cluster.journal(p, channel) for p in parties)

    return check


def converged_with(
    cluster: LocalCluster, channel: str, parties: list[str], ids: set[str]
) -> Callable[[], bool]:
    """A predicate: the journals of ``parties`` are identical and hold every id in ``ids``."""

    def check() -> bool:
        journals = [cluster.journal(p, channel) for p in parties]
        return ids <= journals[0] and all(j == journals[0] for j in journals)

    return check


def assert_journal_sound(events: list[dict[str, Any]], posted: Iterable[str]) -> None:
    """No repeated id, each (author, seq) once, chains contiguous from 1, each posted id once."""
    ids = Counter(item["id"] for item in events)
    repeated = {i: n for i, n in ids.items() if n > 1}
    assert not repeated, f"event ids stored more than once: {repeated}"
    slots = Counter((item["event"]["author"], item["event"]["seq"]) for item in events)
    doubled = {s: n for s, n in slots.items() if n > 1}
    assert not doubled, f"(author, seq) stored more than once: {doubled}"
    chains: dict[str, list[dict[str, Any]]] = {}
    for item in events:
        chains.setdefault(item["event"]["author"], []).append(item)
    for author, chain in chains.items():
        chain.sort(key=lambda item: item["event"]["seq"])
        seqs = [item["event"]["seq"] for item in chain]
        assert seqs == list(range(1, len(chain) + 1)), f"{author}'s chain has gaps: {seqs}"
        prevs = [item["event"]["prev"] for item in chain]
        assert prevs == [None] + [item["id"] for item in chain[:-1]], (
            f"{author}'s chain is not linked by prev"
        )
    posted = list(posted)
    missing = [i for i in posted if ids[i] != 1]
    assert not missing, f"{len(missing)} of {len(posted)} posted events missing: {missing[:5]}"
