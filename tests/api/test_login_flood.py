"""A flood of wrong-password logins against a real ``parley serve`` with the default Argon2id
cost (64 MiB a hash): the flood is answered 429, the guesses let through are hashed two at a
time, and the node keeps answering everyone else quickly.

The flood runs in a process of its own, so the latencies measured here are the server's, not
those of a client sharing an interpreter with two hundred others.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.api.processes import PEER, ServedNode

FLOOD = 200
GUESSES_PER_ADDRESS = 20  # login_failures_per_address, default
MIB = 1024 * 1024
HASH_BYTES = 64 * MIB  # password_memory_kib, default
P99_LIMIT_S = 0.100


def flood(url: str) -> tuple[float, float, dict[int, int]]:
    """FLOOD concurrent wrong-password logins, for duty1 and for names nobody has."""

    async def run() -> dict[int, int]:
        limits = httpx.Limits(max_connections=FLOOD + 10)
        async with httpx.AsyncClient(
            base_url=url, limits=limits, timeout=120.0, trust_env=False
        ) as client:
            names = ["duty1" if n % 2 else f"guess{n}" for n in range(FLOOD)]
            answers = await asyncio.gather(
                *(
                    client.post(
                        "/api/v1/auth/token", json={"username": name, "password": "wrong guess"}
                    )
                    for name in names
                )
            )
        return dict(Counter(a.status_code for a in answers))

    started = time.time()
    statuses = asyncio.run(run())
    return started, time.time(), statuses


def memory_kib(pid: int, field: str) -> int:
    """VmRSS (now) or VmHWM (the peak so far) of a process, KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for process {pid}")


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[max(0, int(len(ordered) * 0.99) - 1)]


@pytest.mark.timeout(180)
def test_a_login_flood_is_throttled_and_the_node_stays_fast(served_node: ServedNode) -> None:
    server = served_node.start()  # default settings: Argon2id at 64 MiB, two password workers
    with server.client(server.login("admin")) as admin:
        created = admin.post("/channels", json={"name": "hotline", "members": {PEER: "party"}})
        assert created.status_code == 201, created.text
        channel = created.json()["event"]["event"]["channel"]
    duty1 = server.client(server.login("duty1"))
    rss_before = memory_kib(server.process.pid, "VmRSS")

    health: list[tuple[float, float]] = []
    posts: list[tuple[float, float]] = []
    spawn = multiprocessing.get_context("spawn")
    with (
        duty1,
        concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool,
    ):
        flooding = pool.submit(flood, server.url)
        n = 0
        while not flooding.done():
            n += 1
            began = time.time()
            assert duty1.get("/health").status_code == 200
            health.append((began, time.time() - began))
            began = time.time()
            posted = duty1.post(
                f"/channels/{channel}/messages",
                json={"precedence": "routine", "text": f"during the flood {n}", "lang": "en"},
            )
            assert posted.status_code == 201, posted.text
            posts.append((began, time.time() - began))
        started, ended, statuses = flooding.result()

    assert statuses == {401: GUESSES_PER_ADDRESS, 429: FLOOD - GUESSES_PER_ADDRESS}
    during = {
        name: [latency for at, latency in samples if started <= at <= ended]
        for name, samples in (("health", health), ("post", posts))
    }
    assert min(len(s) for s in during.values()) >= 20, "too few requests during the flood"
    slow = {name: round(p99(s), 3) for name, s in during.items() if p99(s) >= P99_LIMIT_S}
    assert slow == {}, f"p99 over {P99_LIMIT_S} s during the flood"
    # Twenty guesses hashed at once would take 20 x 64 MiB; two at a time, two of them.
    grown = (memory_kib(server.process.pid, "VmHWM") - rss_before) * 1024
    assert grown < 3 * HASH_BYTES, f"the server grew by {grown // MIB} MiB"
