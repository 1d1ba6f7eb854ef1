#!/usr/bin/env python
"""The duty-officer console in a real browser: how fast a full inbox first paints, and how
soon a message posted on the other node appears in an open console.

Two nodes, us-eucom and ru-genstaff (``parley serve`` processes on 127.0.0.1, started by
``LocalCluster``, a hotline between them), and Debian's Chromium driven by Playwright,
signed in to us-eucom's console as its duty officer. It is a script, not a test.

    .venv/bin/python bench/console_bench.py            # 10,000 events, ~4 min
    .venv/bin/python bench/console_bench.py --quick    # 2,000 events, fewer samples, ~1 min

1. **Live**, inbox nearly empty: ru-genstaff posts a flash message through its API; the
   sample is the time from the post's 201 to the moment a MutationObserver in the open inbox
   sees the item. us-eucom's duty officer then acknowledges it through the API and the next
   post waits until the item is gone. The page's clock (``performance.timeOrigin +
   performance.now()``) and this script's (``time.time()``) are both the machine's wall
   clock; their offset is measured before the samples (the read with the shortest round trip
   of 20) and taken off. **Baseline**: the same event seen on us-eucom's API stream
   (``GET /api/v1/stream``) by a Python client (httpx-sse) in this process.
2. **Load**: ru-genstaff posts ``--events`` messages (16 concurrent clients; 1 % flash, 9 %
   immediate, 30 % priority, the rest routine), all left unacknowledged; the script waits
   until us-eucom holds them all.
3. **First paint**: ``--loads`` loads of /console/ (one more first, not counted); from the
   Performance API: first-contentful-paint, response start and end, DOMContentLoaded, load.
   The inbox holds its 500 most urgent items and shows the first screenful of them (50),
   the rest when scrolled to. **Baseline**: the same channel's events fetched as JSON, every
   page of ``GET /api/v1/channels/{id}/events?limit=1000`` (what a client of the API reads
   to build the same inbox), by httpx.
4. **Live with the full inbox**: as in 1, with the page holding all 500 items (loaded by
   scrolling to the end of the inbox): a new flash sorts after the flash items of the load,
   past the first screenful.

Results: tables on the terminal and ``bench/results/console_bench.json`` (git-ignored).
``--check``: exit 1 when a target is missed (first paint < 1 s; live p99 < 200 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from operator import contains
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # tests.web.pages: the browser and its sign-in

import httpx  # noqa: E402
import httpx_sse  # noqa: E402
from node_bench import exit_on_sigterm, machine, percentiles  # noqa: E402  (bench/ is sys.path[0])
from playwright.sync_api import Page, sync_playwright  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from tests.web.pages import launch, sign_in, wait_live  # noqa: E402

from parley.cli._cluster import LocalCluster  # noqa: E402

US, RU = "us-eucom", "ru-genstaff"
NAMES = {US: "United States European Command", RU: "Russian General Staff"}
SETTINGS = {
    "password_time_cost": 1,
    "password_memory_kib": 64,
    "link_test_interval_s": 3600,
    "receipt_delay_s": 0.05,
    "retry_max_s": 1.0,
}
RESULTS = REPO / "bench" / "results" / "console_bench.json"
TARGET_FIRST_PAINT_MS = 1000.0
TARGET_LIVE_P99_MS = 200.0
LOADERS = 16
WARMUP = 5
TIMEOUT_S = 30.0

console = Console(width=None if sys.stdout.isatty() else 120)

# The page's clock, to the microsecond: the same wall clock as time.time(), read in the page.
PAGE_CLOCK = "() => performance.timeOrigin + performance.now()"
# When each item first showed in the inbox, by its event id.
WATCH_INBOX = """() => {
  window.seen = new Map();
  const inbox = document.getElementById("inbox");
  new MutationObserver(() => {
    const now = performance.timeOrigin + performance.now();
    for (const item of inbox.querySelectorAll("[data-item]")) {
      if (!window.seen.has(item.dataset.item)) window.seen.set(item.dataset.item, now);
    }
  }).observe(inbox, { childList: true, subtree: true });
}"""
# The timings of the page just loaded, once its first contentful paint is reported.
PAINT = """() => {
  const navigation = performance.getEntriesByType("navigation")[0];
  const paint = performance.getEntriesByName("first-contentful-paint")[0];
  if (!paint || !navigation || navigation.loadEventEnd === 0) return null;
  return {
    first_contentful_paint: paint.startTime,
    response_start: navigation.responseStart,
    response_end: navigation.responseEnd,
    dom_content_loaded: navigation.domContentLoadedEventEnd,
    load: navigation.loadEventEnd,
    html_bytes: navigation.encodedBodySize,
    items: document.querySelectorAll("[data-item]").length,
  };
}"""


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000, help="messages in the channel")
    parser.add_argument("--samples", type=int, default=200, help="live samples, empty inbox")
    parser.add_argument("--full-samples", type=int, default=50, help="live, full inbox")
    parser.add_argument("--loads", type=int, default=10, help="loads of the inbox measured")
    parser.add_argument("--quick", action="store_true", help="2,000 events, fewer samples")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--keep", action="store_true", help="keep the nodes' data folders")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.quick:
        args.events, args.samples, args.full_samples, args.loads = 2_000, 50, 20, 5
    return args


# -- the observers --------------------------------------------------------------------------------
class StreamWatcher(threading.Thread):
    """The baseline: when each event reaches a Python client of the node's API stream."""

    def __init__(self, url: str, token: str) -> None:
        super().__init__(daemon=True)
        self.url, self.token = url, token
        self.seen: dict[str, float] = {}  # event id -> wall clock, ms
        self.ready = threading.Event()

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        with (
            # No read timeout: the stream is quiet between posts (keep-alive pings aside).
            httpx.Client(
                base_url=self.url, timeout=httpx.Timeout(10, read=None), trust_env=False
            ) as http,
            httpx_sse.connect_sse(http, "GET", "/api/v1/stream", headers=headers) as source,
        ):
            for message in source.iter_sse():
                if message.event == "ready":
                    self.ready.set()
                elif message.event == "event":
                    self.seen[json.loads(message.data)["id"]] = time.time() * 1000


def clock_offset_ms(page: Page) -> dict[str, float]:
    """The page's clock minus this script's, from the read with the shortest round trip."""
    best: tuple[float, float] | None = None
    for _ in range(20):
        before = time.time() * 1000
        in_page: float = page.evaluate(PAGE_CLOCK)
        after = time.time() * 1000
        if best is None or after - before < best[1]:
            best = (in_page - (before + after) / 2, after - before)
    assert best is not None
    return {"offset_ms": round(best[0], 3), "uncertainty_ms": round(best[1] / 2, 3)}


# -- the measurements -----------------------------------------------------------------------------
def live(
    cluster: LocalCluster, channel: str, page: Page, stream: StreamWatcher, samples: int
) -> dict[str, Any]:
    """Post -> on screen in the open inbox, and post -> on the API stream, per sample."""
    page.goto(f"{cluster.nodes[US].url}/console/")
    wait_live(page)
    hold_all(page)
    page.evaluate(WATCH_INBOX)
    clock = clock_offset_ms(page)
    poster = cluster.client(RU)
    on_screen: list[float] = []
    on_stream: list[float] = []
    for index in range(WARMUP + samples):
        answer = poster.post(
            f"/api/v1/channels/{channel}/messages",
            json={"precedence": "flash", "text": f"Line check {index}", "lang": "en"},
        )
        posted_ms = time.time() * 1000
        if answer.status_code != 201:
            raise RuntimeError(f"post answered {answer.status_code}: {answer.text}")
        event_id = answer.json()["id"]
        page.wait_for_function("id => window.seen.has(id)", arg=event_id, polling=10)
        seen_ms: float = page.evaluate("id => window.seen.get(id)", event_id)
        LocalCluster.wait_for(partial(contains, stream.seen, event_id), TIMEOUT_S, "the stream")
        if index >= WARMUP:
            on_screen.append((seen_ms - clock["offset_ms"] - posted_ms) / 1000)
            on_stream.append((stream.seen[event_id] - posted_ms) / 1000)
        cluster.call(US, "POST", f"/channels/{channel}/events/{event_id}/ack")
        page.wait_for_function(
            'id => !document.querySelector(`[data-item="${id}"]`)', arg=event_id, polling=10
        )
    shown = page.locator("[data-item]").count()
    return {
        "samples": samples,
        "items_shown": shown,
        "clock": clock,
        "console_ms": percentiles(on_screen),
        "api_stream_ms": percentiles(on_stream),
    }


def hold_all(page: Page) -> None:
    """The rest of the inbox into the page, a part at a time, as scrolling to its end loads it:
    a new flash sorts after the flash items of the load, past the first screenful."""
    more = page.locator("#inbox .more")
    while more.is_visible():
        held = page.locator("[data-item]").count()
        more.scroll_into_view_if_needed()
        page.wait_for_function(
            "n => document.querySelectorAll('[data-item]').length > n"
            " || document.querySelector('#inbox .more').hidden",
            arg=held,
            polling=20,
        )


def load(cluster: LocalCluster, channel: str, events: int) -> dict[str, Any]:
    """ru-genstaff posts ``events`` messages; done when us-eucom holds every one."""
    node = cluster.nodes[RU]
    cluster.client(RU)  # signs in
    token = node.tokens["duty1"]
    started = time.monotonic()
    # In a thread of its own: Playwright's event loop runs in this one.
    with ThreadPoolExecutor(1) as loader:
        loader.submit(asyncio.run, _post_many(node.url, token, channel, events)).result()
    posted_s = time.monotonic() - started
    held = _Counter(cluster, channel)
    cluster.wait_for(lambda: held.more() >= events, 900, f"{US} to hold {events} messages")
    return {
        "events": events,
        "posted_s": round(posted_s, 1),
        "replicated_s": round(time.monotonic() - started, 1),
    }


def _precedence(index: int) -> str:
    if index % 100 == 0:
        return "flash"
    if index % 10 == 1:
        return "immediate"
    return "priority" if index % 10 in (2, 3, 4) else "routine"


async def _post_many(url: str, token: str, channel: str, events: int) -> None:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(events):
        queue.put_nowait(index)
    text = "Position report {}: units hold their lines; next report at the usual hour."

    async def poster(http: httpx.AsyncClient) -> None:
        while not queue.empty():
            index = queue.get_nowait()
            body = {"precedence": _precedence(index), "text": text.format(index), "lang": "en"}
            answer = await http.post(f"/api/v1/channels/{channel}/messages", json=body)
            if answer.status_code != 201:
                raise RuntimeError(f"post answered {answer.status_code}: {answer.text}")

    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        base_url=url, headers=headers, timeout=60, trust_env=False
    ) as http:
        await asyncio.gather(*(poster(http) for _ in range(LOADERS)))


class _Counter:
    """ru-genstaff's messages us-eucom holds, read a page at a time from where it left off."""

    def __init__(self, cluster: LocalCluster, channel: str) -> None:
        self.cluster, self.channel = cluster, channel
        self.after: int = 0
        self.count = 0

    def more(self) -> int:
        while True:
            page = self.cluster.call(
                US,
                "GET",
                f"/channels/{self.channel}/events",
                "audit1",
                params={"after": self.after, "limit": 1000},
            )
            self.count += sum(
                i["event"]["author"] == RU and i["event"]["type"] == "message"
                for i in page["items"]
            )
            if page["items"]:
                self.after = page["items"][-1]["pos"]
            if page["next_after"] is None:
                return self.count


def first_paint(cluster: LocalCluster, channel: str, page: Page, loads: int) -> dict[str, Any]:
    """Loads of the inbox (the first not counted), and the API's pages of the same events."""
    url = f"{cluster.nodes[US].url}/console/"
    timings: list[dict[str, float]] = []
    for index in range(loads + 1):
        page.goto(url, wait_until="load")
        timing = page.wait_for_function(PAINT, polling=20).json_value()
        if index:
            timings.append(timing)
    page.goto("about:blank")
    api_all: list[float] = []
    api_first: list[float] = []
    held = 0
    for index in range(loads + 1):
        started = time.perf_counter()
        cluster.call(
            US, "GET", f"/channels/{channel}/events", "audit1", params={"after": 0, "limit": 1000}
        )
        first_s = time.perf_counter() - started
        started = time.perf_counter()
        held = len(cluster.events(US, channel))
        if index:
            api_first.append(first_s)
            api_all.append(time.perf_counter() - started)
    return {
        "loads": loads,
        "events_in_channel": held,
        "items_shown": timings[-1]["items"],
        "html_bytes": timings[-1]["html_bytes"],
        "console_ms": {
            key: round(statistics.median(t[key] for t in timings), 1)
            for key in (
                "first_contentful_paint",
                "response_start",
                "response_end",
                "dom_content_loaded",
                "load",
            )
        },
        "console_first_paint_max_ms": round(max(t["first_contentful_paint"] for t in timings), 1),
        "api_first_page_ms": percentiles(api_first),
        "api_all_pages_ms": percentiles(api_all),
    }


# -- the run --------------------------------------------------------------------------------------
@contextmanager
def hotline(root: Path) -> Iterator[tuple[LocalCluster, str]]:
    with LocalCluster(root, NAMES, settings=SETTINGS) as cluster:
        cluster.init()
        cluster.start()
        yield cluster, cluster.open_channel(US, "hotline", {RU: "party"})


def run(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    with hotline(root) as (cluster, channel), sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            node = cluster.nodes[US]
            sign_in(page, node.url, "duty1", node.passwords["duty1"])
            cluster.client(US)  # signs in: the stream's token
            stream = StreamWatcher(node.url, node.tokens["duty1"])
            stream.start()
            stream.ready.wait(TIMEOUT_S)
            console.print(f"live, inbox nearly empty: {args.samples} samples")
            empty = live(cluster, channel, page, stream, args.samples)
            page.goto("about:blank")  # an open inbox would render again for every burst
            console.print(f"loading {args.events:,} messages from {RU}")
            loaded = load(cluster, channel, args.events)
            console.print(f"first paint: {args.loads} loads")
            paint = first_paint(cluster, channel, page, args.loads)
            console.print(f"live, inbox full: {args.full_samples} samples")
            full = live(cluster, channel, page, stream, args.full_samples)
        finally:
            browser.close()
    return {"load": loaded, "first_paint": paint, "live_empty": empty, "live_full": full}


def report(results: dict[str, Any]) -> bool:
    paint = results["first_paint"]
    fcp = paint["console_ms"]["first_contentful_paint"]
    api = paint["api_all_pages_ms"]["p50"]
    table = Table(
        title=f"Inbox first paint, {paint['events_in_channel']:,} events in the channel "
        f"({paint['items_shown']} items shown, {paint['html_bytes']:,} bytes of HTML), "
        f"median of {paint['loads']} loads",
        title_justify="left",
    )
    for column in ("", "time", "vs. console first paint"):
        table.add_column(column, justify="right" if column else "left")
    table.add_row("console: first contentful paint", f"{fcp:.0f} ms", "1.00x")
    for key, label in (
        ("response_start", "console: first byte of the page"),
        ("response_end", "console: whole page received"),
        ("load", "console: load event"),
    ):
        value = paint["console_ms"][key]
        table.add_row(label, f"{value:.0f} ms", f"{value / fcp:.2f}x")
    first = paint["api_first_page_ms"]["p50"]
    table.add_row(
        "API: first page of 1,000 events (JSON)", f"{first:.0f} ms", f"{first / fcp:.2f}x"
    )
    table.add_row("API: every page (baseline)", f"{api:.0f} ms", f"{api / fcp:.2f}x")
    console.print(table)

    table = Table(title="Post on ru-genstaff (201) -> seen on us-eucom", title_justify="left")
    for column in ("inbox", "observer", "samples", "p50", "p90", "p99", "max", "ratio p99"):
        table.add_column(column, justify="left" if column in ("inbox", "observer") else "right")
    for key, label in (("live_empty", "nearly empty"), ("live_full", "full")):
        run_ = results[key]
        base = run_["api_stream_ms"]["p99"]
        for observer, found in (
            ("console", run_["console_ms"]),
            ("API stream", run_["api_stream_ms"]),
        ):
            table.add_row(
                f"{label} ({run_['items_shown']} items)",
                observer,
                str(run_["samples"]),
                *(f"{found[q]:.1f} ms" for q in ("p50", "p90", "p99", "max")),
                f"{found['p99'] / base:.2f}x",
            )
    console.print(table)
    clock = results["live_empty"]["clock"]
    console.print(
        f"page clock - script clock: {clock['offset_ms']:+.3f} ms (± {clock['uncertainty_ms']:.3f})"
    )
    live_p99 = results["live_empty"]["console_ms"]["p99"]
    met = {
        f"first paint < {TARGET_FIRST_PAINT_MS:.0f} ms": fcp < TARGET_FIRST_PAINT_MS,
        f"live p99 < {TARGET_LIVE_P99_MS:.0f} ms": live_p99 < TARGET_LIVE_P99_MS,
    }
    for target, ok in met.items():
        console.print(f"target {target}: {'[green]met[/]' if ok else '[red]not met[/]'}")
    results["targets"] = met
    return all(met.values())


def main() -> None:
    args = arguments()
    started = datetime.now(UTC)
    root = Path(tempfile.mkdtemp(prefix="parley-console-bench-"))
    try:
        results = run(args, root)
    finally:
        if args.keep:
            console.print(f"data folders kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    passed = report(results)
    results.update(
        {
            "started": started.isoformat(timespec="seconds"),
            "arguments": {k: str(v) for k, v in vars(args).items()},
            "machine": machine(),
        }
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n", "utf-8")
    console.print(f"results written to {args.output}")
    if args.check and not passed:
        raise SystemExit(1)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    main()
