#!/usr/bin/env python
"""The console's situation map with 100,000 protected sites: frame times while panning and
zooming in Chromium, against the naive way of drawing the same sites.

A real node (``parley serve`` on 127.0.0.1, one party, in a temporary folder) imports
``--sites`` protected sites with ``parley sites import`` (a seeded CSV: 60% around 150 towns
of eastern Europe and the Middle East, 40% spread over the region). Debian's Chromium
(Playwright, ``/usr/bin/chromium --no-sandbox``, 1280x720) signs in and opens /console/map,
then plays the same script of real input in each mode: per cycle, four wheel zooms in at the
map's centre, four mouse drags of 300 px (60 Hz moves), four zooms out, four more drags, with
0.5 s after each gesture for the map to settle; ``requestAnimationFrame`` records every frame
from the first gesture to the last settle. The modes:

* **clustered**: the page as it ships (supercluster, clusters and sites in view on a canvas);
* **naive (baseline)**: the same page with no sites of its own; every site is added as a
  plain ``L.circleMarker`` (Leaflet's default renderer, SVG), no clustering;
* **canvas, unclustered** (with ``--canvas-baseline``): the same markers on an ``L.canvas``
  renderer, to tell what the canvas does from what the clusters do.

    .venv/bin/python bench/console_map_bench.py                  # 100,000 sites, ~5 min
    .venv/bin/python bench/console_map_bench.py --quick          # 20,000 sites, 1 cycle
    .venv/bin/python bench/console_map_bench.py --canvas-baseline --cycles 3

Other options: ``--cycles N`` (2), ``--seed``, ``--skip-baseline``, ``--check`` (exit 1 when
the clustered map's p99 frame is 50 ms or more), ``--keep`` (keep the node's folder),
``--output PATH``. Results: a table on the terminal and ``bench/results/console_map_bench.json``
(git-ignored). The node is stopped on exit and on error.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from node_bench import machine, percentiles  # bench/ is sys.path[0]
from playwright.sync_api import Page, Route, sync_playwright

from parley.cli._cluster import LocalCluster

RESULTS = Path(__file__).resolve().parent / "results"
CHROMIUM = "/usr/bin/chromium"
PARTY = "us-eucom"
SETTINGS = {"password_time_cost": 1, "password_memory_kib": 64, "link_test_interval_s": 3600}
TARGET_MS = 50.0
SETTLE_MS = 500
DRAG_PX = 300
DRAG_STEPS = 30
WHEEL_PX = 60  # one zoom level of Leaflet per wheel turn (its wheelPxPerZoomLevel)
CATEGORIES = {"hospital": 30, "school": 25, "substation": 12, "water_supply": 10, "dam": 3}
CATEGORIES |= {"power_plant": 5, "refinery": 3, "pipeline": 4, "religious_site": 5, "other": 3}
# Leaflet's maps, for the baseline to draw on: taken as Leaflet creates them.
CAPTURE_MAPS = """
(() => {
  let leaflet;
  Object.defineProperty(window, "L", {
    configurable: true,
    get: () => leaflet,
    set: (value) => {
      leaflet = value;
      value.Map.addInitHook(function () { (window.benchMaps ||= []).push(this); });
    },
  });
})();
"""
START_FRAMES = """() => {
  window.benchFrames = [];
  window.benchRecording = true;
  let last = performance.now();
  const tick = (now) => {
    window.benchFrames.push(now - last);
    last = now;
    if (window.benchRecording) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}"""
STOP_FRAMES = """() => {
  window.benchRecording = false;
  return window.benchFrames.slice(1);
}"""
# The naive way: every site a circle marker of its own, added at once.
DRAW_ALL = """async (canvas) => {
  const document_ = await (await fetch("/console/live/map/sites?all")).json();
  const map = window.benchMaps[0];
  const started = performance.now();
  const options = { radius: 5, weight: 1, color: "#1f5fbf", fillOpacity: 0.8 };
  if (canvas) options.renderer = L.canvas();
  const layer = L.layerGroup();
  for (const [lon, lat] of document_.sites) L.circleMarker([lat, lon], options).addTo(layer);
  layer.addTo(map);
  await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
  return { sites: document_.sites.length, draw_ms: performance.now() - started };
}"""


def write_sites(path: Path, count: int, seed: int) -> None:
    rnd = random.Random(seed)
    towns = [(rnd.uniform(22, 48), rnd.uniform(29, 54)) for _ in range(150)]
    names, weights = list(CATEGORIES), list(CATEGORIES.values())
    with path.open("w", encoding="utf-8") as out:
        out.write("lon,lat,name,category\n")
        for i in range(count):
            if rnd.random() < 0.6:
                lon, lat = rnd.choice(towns)
                lon, lat = rnd.gauss(lon, 0.4), rnd.gauss(lat, 0.3)
            else:
                lon, lat = rnd.uniform(20, 50), rnd.uniform(28, 56)
            category = rnd.choices(names, weights)[0]
            out.write(f"{lon:.5f},{lat:.5f},Site {i} ({category}),{category}\n")


def import_sites(cluster: LocalCluster, path: Path) -> float:
    started = time.perf_counter()
    data = str(cluster.nodes[PARTY].data)
    command = ["parley", "sites", "import", "--data", data, str(path)]
    subprocess.run(
        [sys.executable, "-m", *command, "--agreement", "Benchmark agreement"],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def sign_in(page: Page, cluster: LocalCluster) -> None:
    node = cluster.nodes[PARTY]
    page.goto(f"{node.url}/console/login")
    page.fill("#username", "duty1")
    page.fill("#password", node.passwords["duty1"])
    page.click(".sign-in button")
    page.wait_for_url(f"{node.url}/console/")


def open_map(page: Page, cluster: LocalCluster) -> float:
    started = time.perf_counter()
    page.goto(f"{cluster.nodes[PARTY].url}/console/map")
    page.wait_for_selector("#situation-map[data-ready='true']", timeout=300_000)
    return time.perf_counter() - started


def drag(page: Page, x: float, y: float, dx: float, dy: float) -> None:
    page.mouse.move(x, y)
    page.mouse.down()
    for step in range(1, DRAG_STEPS + 1):
        page.mouse.move(x + dx * step / DRAG_STEPS, y + dy * step / DRAG_STEPS)
        page.wait_for_timeout(16)
    page.mouse.up()
    page.wait_for_timeout(SETTLE_MS)


def zoom(page: Page, x: float, y: float, levels: int) -> None:
    page.mouse.move(x, y)
    page.mouse.wheel(0, -WHEEL_PX * levels)
    page.wait_for_timeout(SETTLE_MS + 250)  # Leaflet's zoom animation, then the redraw


def play(page: Page, cycles: int) -> dict[str, Any]:
    """The gestures, with every frame recorded; the frame times and the zoom range."""
    box = page.locator("#situation-map").bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    moves = [(DRAG_PX, 0), (0, DRAG_PX), (-DRAG_PX, 0), (0, -DRAG_PX)]
    zooms: list[float] = []
    page.evaluate(START_FRAMES)
    started = time.perf_counter()
    for _ in range(cycles):
        for direction in (1, -1):
            for _ in range(4):
                zoom(page, x, y, direction)
                zooms.append(page.evaluate("() => window.benchMaps[0].getZoom()"))
            for dx, dy in moves:
                drag(page, x - dx / 2, y - dy / 2, dx, dy)
    seconds = time.perf_counter() - started
    frames = page.evaluate(STOP_FRAMES)
    stats = percentiles([ms / 1000 for ms in frames])
    slow = [ms for ms in frames if ms >= TARGET_MS]
    return {
        "seconds": round(seconds, 1),
        "frames": len(frames),
        "fps": round(len(frames) / seconds, 1),
        "frame_ms": stats,
        "p95": round(sorted(frames)[int(0.95 * len(frames))], 3),
        "over_50ms": len(slow),
        "over_50ms_share": round(len(slow) / len(frames), 4),
        "time_in_slow_frames_s": round(sum(slow) / 1000, 2),
        "zooms": [min(zooms), max(zooms)],
    }


def clustered(page: Page, cluster: LocalCluster, cycles: int) -> dict[str, Any]:
    load_s = open_map(page, cluster)
    shown = int(page.get_attribute("#situation-map", "data-sites") or 0)
    return {"load_s": round(load_s, 2), "sites": shown, **play(page, cycles)}


def naive(page: Page, cluster: LocalCluster, cycles: int, *, canvas: bool) -> dict[str, Any]:
    def no_sites(route: Route) -> None:
        empty = {"categories": [], "terms": [], "sites": []}
        route.fulfill(content_type="application/json", body=json.dumps(empty))

    page.route(lambda url: url.endswith("/console/live/map/sites"), no_sites)
    open_map(page, cluster)
    drawn = page.evaluate(DRAW_ALL, canvas)
    return {
        "sites": drawn["sites"],
        "draw_s": round(drawn["draw_ms"] / 1000, 2),
        **play(page, cycles),
    }


def run(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    report: dict[str, Any] = {"machine": machine(), "sites": args.sites, "cycles": args.cycles}
    with LocalCluster(
        root, {PARTY: "United States European Command"}, settings=SETTINGS
    ) as cluster:
        cluster.init()
        csv = root / "sites.csv"
        write_sites(csv, args.sites, args.seed)
        report["import_s"] = round(import_sites(cluster, csv), 1)
        cluster.start()
        modes: list[tuple[str, bool | None]] = [("clustered", None)]
        if not args.skip_baseline:
            modes.append(("naive (baseline)", False))
        if args.canvas_baseline:
            modes.append(("canvas, unclustered", True))
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            for label, canvas in modes:
                context = browser.new_context(viewport={"width": 1280, "height": 720})
                context.set_default_timeout(600_000)
                context.add_init_script(CAPTURE_MAPS)
                page = context.new_page()
                sign_in(page, cluster)
                print(f"{label}: playing {args.cycles} cycle(s)...", flush=True)
                report[label] = (
                    clustered(page, cluster, args.cycles)
                    if canvas is None
                    else naive(page, cluster, args.cycles, canvas=canvas)
                )
                context.close()
            browser.close()
    return report


def print_report(report: dict[str, Any]) -> None:
    load = ", ".join(f"{x:.1f}" for x in report["machine"]["loadavg"])
    print(f"\n{report['sites']:,} protected sites (import {report['import_s']} s), ", end="")
    print(f"{report['cycles']} cycle(s) of 8 zooms and 8 drags; load average {load}")
    columns = ("frames", "fps", "p50", "p95", "p99", "max", ">=50ms")
    widths = (8, 7, 8, 8, 8, 9, 8)
    header = "".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True))
    print(f"  {'mode (frame ms)':<22}{header}   ready / drawn")
    modes = [m for m in ("clustered", "naive (baseline)", "canvas, unclustered") if m in report]
    for mode in modes:
        row = report[mode]
        ms = row["frame_ms"]
        ready = f"{row['load_s']} s page" if "load_s" in row else f"{row['draw_s']} s add"
        print(
            f"  {mode:<22}{row['frames']:>8}{row['fps']:>7}{ms['p50']:>8.1f}{row['p95']:>8.1f}"
            f"{ms['p99']:>8.1f}{ms['max']:>9.1f}{row['over_50ms']:>8}   {ready}"
        )
    if "naive (baseline)" in report:
        base, ours = report["naive (baseline)"], report["clustered"]
        report["ratio_p99"] = round(base["frame_ms"]["p99"] / ours["frame_ms"]["p99"], 1)
        report["ratio_max"] = round(base["frame_ms"]["max"] / ours["frame_ms"]["max"], 1)
        print(f"  ratio naive / clustered: p99 {report['ratio_p99']}x, max {report['ratio_max']}x")
    verdict = "met" if report["clustered"]["frame_ms"]["p99"] < TARGET_MS else "NOT met"
    print(f"  target: frames < {TARGET_MS:.0f} ms while panning and zooming (p99): {verdict}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sites", type=int, default=100_000)
    parser.add_argument("--cycles", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="20,000 sites, one cycle")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--canvas-baseline", action="store_true")
    parser.add_argument("--check", action="store_true", help="exit 1 if the target is missed")
    parser.add_argument("--keep", action="store_true", help="keep the node's folder")
    parser.add_argument("--output", type=Path, default=RESULTS / "console_map_bench.json")
    args = parser.parse_args()
    if args.quick:
        args.sites, args.cycles = 20_000, 1
    if shutil.which(CHROMIUM) is None:
        print(f"{CHROMIUM} is missing: run `bash scripts/system-deps.sh`", file=sys.stderr)
        return 2
    root = Path(tempfile.mkdtemp(prefix="parley-map-bench-"))
    try:
        report = run(args, root)
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print_report(report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n", "utf-8")
    print(f"written to {args.output}")
    return 1 if args.check and report["clustered"]["frame_ms"]["p99"] >= TARGET_MS else 0


if __name__ == "__main__":
    sys.exit(main())
