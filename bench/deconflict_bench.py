#!/usr/bin/env python
"""Deconfliction index: build time, memory and check latency at 1.1 million items.

Builds, from a fixed seed, 1,000,000 protected-site points and 100,000 activity, launch and
presence areas (geodesic circles and boxes, worldwide or ``--layout regional``), loads them
into ``parley.deconflict.SpaceTimeIndex`` and measures:

* bulk-load time and memory (process RSS, from /proc and getrusage: GEOS memory included);
* the latency of checking one new notice (``overlaps_for``: a random circle or box and a
  window) over 1,000 notices, p50/p90/p99/max;
* the time to check 10,000 notices, one by one and in one ``overlaps_for_many`` batch;
* baselines in the same run, on a sample of the notices, extrapolated to 10,000 and clearly
  labelled: a naive Python loop over every item with shapely's ``intersects``, and a
  vectorised brute force (``shapely.intersects`` over an array of all items);
* incremental ``add`` cost (delta + rebuilds) and the latency with a full delta;
* check latency against index size (1%, 10%, 50%, 100% of the data), plotted to a PNG;
* PostGIS (``--postgis``, default on if ``/usr/lib/postgresql/*/bin/initdb`` and the postgis
  extension are there): a throw-away PostgreSQL on 127.0.0.1, the same rows with a GiST
  index, the same 1,000 + 10,000 notices as ``ST_Intersects`` queries over loopback;
* build from the store (``--from-store``, default on for the worldwide layout): the same
  sites and areas written to a node's SQLite store (the sites by the store's bulk import,
  the areas as signed notifications of the six parties, see ``write_store``), then, in a
  fresh process, ``Node.open`` and the deconfliction service's first pass (its start-up
  load, then its re-check of every live notice): time and RSS, against ``bulk_load``.

    .venv/bin/python bench/deconflict_bench.py                 # full run, ~4-5 minutes
    .venv/bin/python bench/deconflict_bench.py --scale 0.1     # a tenth of the data
    .venv/bin/python bench/deconflict_bench.py --no-postgis --layout regional
    .venv/bin/python bench/deconflict_bench.py --no-from-store     # skip the store build

Results: tables on the terminal, ``bench/results/deconflict_bench.json`` (or
``deconflict_bench_<layout>.json`` for a non-default layout) and a PNG beside it (matplotlib
if importable; otherwise only the JSON, and it says so).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import json
import logging
import math
import os
import platform
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import Geod

from parley.clock import ManualClock, format_ts
from parley.deconflict import Item, Overlap, SpaceTimeIndex, normalize
from parley.protocol import ChainHead, Ed25519Signer, Event, encode_public_key, sign_event
from parley.services import MORATORIUM_CATEGORIES, Node, Principal, Role, init_node
from parley.store import SiteRecord, StoreTx

RESULTS = Path(__file__).resolve().parent / "results"
GEOD = Geod(ellps="WGS84")
DAY = 86_400_000
HOUR = 3_600_000
EPOCH_2026 = 1_767_225_600_000  # 2026-01-01T00:00:00Z in ms
YEAR = 365 * DAY
PARTIES = ("us-eucom", "ru-genstaff", "ua-gs", "tr-tsk", "ae-mediator", "un-observer")
NO_START, NO_END = int(np.iinfo(np.int64).min), int(np.iinfo(np.int64).max)
CIRCLE_POINTS = 32
REGION = (20.0, 40.0, 45.0, 56.0)  # --layout regional: lon 20-45 E, lat 40-56 N
TARGETS = {"p99_ms": 5.0, "ten_thousand_s": 2.0, "build_s": 60.0, "memory_gib": 2.0}


# -- data --------------------------------------------------------------------------------------


@dataclass
class Data:
    sites: list[Item]
    areas: list[Item]
    notices: list[Item]
    area_forms: list[dict[str, Any]]  # each area as a form's Area (Point + radius_km, Polygon)
    area_centres: list[list[float]]  # [lon, lat] of each area's centre

    def subset(self, fraction: float) -> list[Item]:
        return (
            self.sites[: round(len(self.sites) * fraction)]
            + self.areas[: round(len(self.areas) * fraction)]
        )


def positions(rng: np.random.Generator, n: int, layout: str) -> tuple[np.ndarray, np.ndarray]:
    """Uniform on the sphere (worldwide) or in the region (regional)."""
    if layout == "regional":
        west, south, east, north = REGION
    else:
        west, south, east, north = -180.0, -90.0, 180.0, 90.0
    lon = rng.uniform(west, east, n)
    z = rng.uniform(math.sin(math.radians(south)), math.sin(math.radians(north)), n)
    return lon, np.degrees(np.arcsin(z))


def circles(lon: np.ndarray, lat: np.ndarray, radius_km: np.ndarray) -> np.ndarray:
    """Geodesic circles (CIRCLE_POINTS vertices), vectorised; some cross 180° or a pole."""
    n = len(lon)
    azimuths = np.tile(np.linspace(0.0, 360.0, CIRCLE_POINTS, endpoint=False), n)
    plon, plat, _ = GEOD.fwd(
        np.repeat(lon, CIRCLE_POINTS),
        np.repeat(lat, CIRCLE_POINTS),
        azimuths,
        np.repeat(radius_km * 1000.0, CIRCLE_POINTS),
    )
    rings = np.stack([plon, plat], axis=-1).reshape(n, CIRCLE_POINTS, 2)
    rings = np.concatenate([rings, rings[:, :1]], axis=1)
    return shapely.polygons(rings)


def boxes(lon: np.ndarray, lat: np.ndarray, half_km: np.ndarray) -> np.ndarray:
    """Lon/lat boxes about ``half_km`` each way (kept off the poles)."""
    lat = np.clip(lat, -85, 85)
    dlat = half_km / 110.6
    dlon = half_km / (111.3 * np.cos(np.radians(lat)))
    return shapely.box(lon - dlon, lat - dlat, lon + dlon, lat + dlat)


def log_uniform(rng: np.random.Generator, lo: float, hi: float, n: int) -> np.ndarray:
    return np.exp(rng.uniform(math.log(lo), math.log(hi), n))


def windows(
    rng: np.random.Generator, n: int, shortest_ms: float, longest_ms: float
) -> tuple[np.ndarray, np.ndarray]:
    start = EPOCH_2026 + rng.integers(0, YEAR, n)
    return start, start + log_uniform(rng, shortest_ms, longest_ms, n).astype(np.int64)


def make_data(n_sites: int, n_areas: int, n_notices: int, layout: str, seed: int) -> Data:
    rng = np.random.default_rng(seed)
    parties = np.array(PARTIES)

    lon, lat = positions(rng, n_sites, layout)
    points = shapely.points(np.column_stack([lon, lat]))
    site_party = parties[rng.integers(0, len(PARTIES), n_sites)].tolist()
    start, end = windows(rng, n_sites, 30 * DAY, 365 * DAY)
    bounded = (rng.random(n_sites) < 0.3).tolist()  # 30% under an agreement with a window
    sites = [
        Item(f"site-{i:07d}", p, "protected_site", g, s if b else None, e if b else None)
        for i, (g, p, s, e, b) in enumerate(
            zip(points.tolist(), site_party, start.tolist(), end.tolist(), bounded, strict=True)
        )
    ]

    lon, lat = positions(rng, n_areas, layout)
    kind = rng.choice(["activity", "launch", "presence"], n_areas, p=[0.6, 0.1, 0.3])
    radius = np.where(
        kind == "presence", log_uniform(rng, 2, 30, n_areas), log_uniform(rng, 5, 100, n_areas)
    )
    round_ = rng.random(n_areas) < 0.75
    shapes = np.where(round_, circles(lon, lat, radius), boxes(lon, lat, radius))
    start, end = windows(rng, n_areas, HOUR, 14 * DAY)
    area_party = parties[rng.integers(0, len(PARTIES), n_areas)].tolist()
    areas = [
        Item(f"area-{i:06d}", p, k, g, s, e)
        for i, (g, p, k, s, e) in enumerate(
            zip(
                shapes.tolist(),
                area_party,
                kind.tolist(),
                start.tolist(),
                end.tolist(),
                strict=True,
            )
        )
    ]
    area_forms = form_areas(lon, lat, radius, round_, shapes)
    area_centres = np.column_stack([lon, lat]).tolist()

    lon, lat = positions(rng, n_notices, layout)
    size = log_uniform(rng, 10, 100, n_notices)
    round_ = rng.random(n_notices) < 0.6
    shapes = np.where(round_, circles(lon, lat, size), boxes(lon, lat, size))
    kind = rng.choice(["activity", "launch"], n_notices, p=[0.85, 0.15])
    start, end = windows(rng, n_notices, HOUR, 7 * DAY)
    notice_party = parties[rng.integers(0, len(PARTIES), n_notices)].tolist()
    notices = [
        Item(f"notice-{i:05d}", p, k, g, s, e)
        for i, (g, p, k, s, e) in enumerate(
            zip(
                shapes.tolist(),
                notice_party,
                kind.tolist(),
                start.tolist(),
                end.tolist(),
                strict=True,
            )
        )
    ]
    return Data(sites, areas, notices, area_forms, area_centres)


def form_areas(
    lon: np.ndarray, lat: np.ndarray, radius: np.ndarray, round_: np.ndarray, shapes: np.ndarray
) -> list[dict[str, Any]]:
    """The areas as a party notifies them: a circle as its centre and radius (the node makes
    its geodesic circle, of 64 points), a box as a Polygon with longitudes in -180..180 (one
    reaching past 180° comes out crossing the antimeridian, which the index cuts)."""
    forms: list[dict[str, Any]] = []
    for i, is_round in enumerate(round_.tolist()):
        if is_round:
            centre = [float(lon[i]), float(lat[i])]
            forms.append({"type": "Point", "coordinates": centre, "radius_km": float(radius[i])})
        else:
            ring = shapely.get_coordinates(shapes[i])
            ring[:, 0] = (ring[:, 0] + 180.0) % 360.0 - 180.0
            forms.append({"type": "Polygon", "coordinates": [ring.tolist()]})
    return forms


# -- measuring ---------------------------------------------------------------------------------


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentiles(samples_s: Sequence[float], cpu_s: Sequence[float] = ()) -> dict[str, float]:
    """Wall-clock percentiles; with ``cpu_s`` (this thread's CPU time per check) its p50/p99
    too, which leave out the time the machine's other jobs took the core away."""
    ms = np.asarray(samples_s) * 1000
    out = {
        "n": len(ms),
        "p50_ms": round(float(np.percentile(ms, 50)), 4),
        "p90_ms": round(float(np.percentile(ms, 90)), 4),
        "p99_ms": round(float(np.percentile(ms, 99)), 4),
        "max_ms": round(float(ms.max()), 4),
        "mean_ms": round(float(ms.mean()), 4),
    }
    if len(cpu_s):
        cpu = np.asarray(cpu_s) * 1000
        out["cpu_p50_ms"] = round(float(np.percentile(cpu, 50)), 4)
        out["cpu_p99_ms"] = round(float(np.percentile(cpu, 99)), 4)
    return out


def timed_checks(
    check: Callable[[Item], Sequence[Any]], notices: Sequence[Item]
) -> tuple[list[float], int, list[float]]:
    """Wall and thread-CPU seconds of each check, and the overlaps found."""
    samples, cpu, hits = [], [], 0
    for notice in notices:
        c0, t0 = time.thread_time(), time.perf_counter()
        found = check(notice)
        samples.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
        hits += len(found)
    return samples, hits, cpu


class Naive:
    """The baselines: every item, every time (their geometries normalised once, untimed)."""

    def __init__(self, items: Sequence[Item]) -> None:
        self.items = list(items)
        self.geoms = [normalize(item.geometry) for item in self.items]
        self.array = np.array(self.geoms, dtype=object)
        self.start = np.array(
            [NO_START if i.start_ms is None else i.start_ms for i in self.items], dtype=np.int64
        )
        self.end = np.array(
            [NO_END if i.end_ms is None else i.end_ms for i in self.items], dtype=np.int64
        )
        self.party = np.array([i.party for i in self.items])

    def loop(self, notice: Item) -> list[str]:
        """A plain Python loop: window and party first (cheap), then shapely ``intersects``."""
        shape = normalize(notice.geometry)
        start = NO_START if notice.start_ms is None else notice.start_ms
        end = NO_END if notice.end_ms is None else notice.end_ms
        found = []
        for item, geometry in zip(self.items, self.geoms, strict=True):
            if item.party == notice.party:
                continue
            item_start = NO_START if item.start_ms is None else item.start_ms
            item_end = NO_END if item.end_ms is None else item.end_ms
            if item_start < end and start < item_end and shape.intersects(geometry):
                found.append(item.key)
        return found

    def vectorised(self, notice: Item) -> list[str]:
        """Brute force in C: numpy window/party filter, then ``shapely.intersects`` on arrays."""
        shape = normalize(notice.geometry)
        start = NO_START if notice.start_ms is None else notice.start_ms
        end = NO_END if notice.end_ms is None else notice.end_ms
        keep = np.flatnonzero(
            (self.start < end) & (self.end > start) & (self.party != notice.party)
        )
        hit = keep[shapely.intersects(shape, self.array[keep])]
        return [self.items[i].key for i in hit.tolist()]


def other_key(overlap: Overlap, mine: str) -> str:
    return overlap.b if overlap.a == mine else overlap.a


# -- PostGIS -----------------------------------------------------------------------------------


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_bin() -> Path | None:
    for initdb in sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True):
        version = initdb.parent.parent.name
        if Path(f"/usr/share/postgresql/{version}/extension/postgis.control").exists():
            return initdb.parent
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def postgres(bin_dir: Path) -> Iterator[str]:
    """A throw-away PostgreSQL on 127.0.0.1 (run as ``postgres`` when we are root); its DSN."""
    folder = Path(tempfile.mkdtemp(prefix="deconflict-pg-"))
    data, port = folder / "data", free_port()
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_postgres:
        shutil.chown(folder, "postgres", "postgres")
    run = [*as_postgres, str(bin_dir / "pg_ctl"), "-D", str(data)]
    started = False
    try:
        subprocess.run(
            [
                *as_postgres,
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        options = (
            f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c shared_buffers=512MB "
            "-c maintenance_work_mem=512MB -c jit=off -c max_wal_size=4GB"
        )
        subprocess.run(
            [*run, "-o", options, "-l", str(folder / "log"), "-w", "start"],
            check=True,
            capture_output=True,
            timeout=120,
        )
        started = True
        yield f"host=127.0.0.1 port={port} user=postgres dbname=postgres"
    finally:
        if started:
            subprocess.run([*run, "-m", "fast", "-w", "stop"], capture_output=True, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


PG_CHECK = """
WITH q AS (SELECT ST_GeomFromEWKB(%(g)s) AS g)
SELECT i.key,
       ST_Touches(i.geom, q.g) AS touching,
       CASE WHEN ST_Dimension(i.geom) = 2 AND NOT ST_Touches(i.geom, q.g)
            THEN ST_Area(ST_Intersection(i.geom, q.g)::geography) / 1e6 ELSE 0 END AS km2
FROM items i, q
WHERE ST_Intersects(i.geom, q.g)
  AND i.party <> %(party)s AND i.start_ms < %(end)s AND i.end_ms > %(start)s
"""


def bench_postgis(
    bin_dir: Path,
    items: Sequence[Item],
    notices: Sequence[Item],
    many: Sequence[Item],
    index: SpaceTimeIndex,
) -> dict[str, Any]:
    import psycopg

    out: dict[str, Any] = {"postgis_bin": str(bin_dir)}
    with postgres(bin_dir) as dsn, psycopg.connect(dsn, autocommit=True) as db:
        db.execute("CREATE EXTENSION postgis")
        out["versions"] = db.execute("SELECT version(), postgis_full_version()").fetchone()
        db.execute(
            "CREATE UNLOGGED TABLE items (key text PRIMARY KEY, party text NOT NULL, "
            "kind text NOT NULL, geom geometry(Geometry, 4326) NOT NULL, "
            "start_ms bigint NOT NULL, end_ms bigint NOT NULL)"
        )
        geoms = np.array([normalize(item.geometry) for item in items], dtype=object)
        wkb = shapely.to_wkb(shapely.set_srid(geoms, 4326), include_srid=True)
        t0 = time.perf_counter()
        with db.cursor().copy(
            "COPY items (key, party, kind, geom, start_ms, end_ms) FROM STDIN"
        ) as copy:
            for item, blob in zip(items, wkb.tolist(), strict=True):
                copy.write_row(
                    (
                        item.key,
                        item.party,
                        item.kind,
                        blob.hex(),
                        NO_START if item.start_ms is None else item.start_ms,
                        NO_END if item.end_ms is None else item.end_ms,
                    )
                )
        out["copy_s"] = round(time.perf_counter() - t0, 2)
        t0 = time.perf_counter()
        db.execute("CREATE INDEX items_geom ON items USING gist (geom)")
        db.execute("VACUUM ANALYZE items")
        out["gist_index_s"] = round(time.perf_counter() - t0, 2)
        out["load_s"] = round(out["copy_s"] + out["gist_index_s"], 2)
        out["table_and_indexes_mib"] = round(
            db.execute("SELECT pg_total_relation_size('items')").fetchone()[0] / 2**20, 1
        )

        def params(notice: Item) -> dict[str, Any]:
            shape = shapely.set_srid(normalize(notice.geometry), 4326)
            return {
                "g": shapely.to_wkb(shape, include_srid=True),
                "party": notice.party,
                "start": NO_START if notice.start_ms is None else notice.start_ms,
                "end": NO_END if notice.end_ms is None else notice.end_ms,
            }

        def check(notice: Item) -> list[tuple[Any, ...]]:
            return db.execute(PG_CHECK, params(notice)).fetchall()

        # The plan a check gets: the GiST index must be what finds the rows.
        plan = [row[0] for row in db.execute("EXPLAIN " + PG_CHECK, params(notices[0]))]
        out["plan"] = plan
        out["uses_gist_index"] = any("items_geom" in line for line in plan)
        for notice in notices[:50]:  # warm-up: prepared statement, caches
            check(notice)
        samples, hits, _ = timed_checks(check, notices)  # the client's CPU: not the point
        out["single"] = percentiles(samples) | {"hits": hits}
        backend = db.execute("SELECT pg_backend_pid()").fetchone()[0]
        load, t0 = os.getloadavg()[0], time.perf_counter()
        server0, c0 = process_cpu_s(backend), time.thread_time()
        _, hits, _ = timed_checks(check, many)
        out["ten_thousand_s"] = round(time.perf_counter() - t0, 3)
        # CPU of both sides (the server process and this client thread), which the time the
        # machine's other jobs take away does not inflate: the steadier comparison.
        out["ten_thousand_server_cpu_s"] = round(process_cpu_s(backend) - server0, 3)
        out["ten_thousand_client_cpu_s"] = round(time.thread_time() - c0, 3)
        out["ten_thousand_hits"] = hits
        out["ten_thousand_per_s"] = round(len(many) / out["ten_thousand_s"])
        out["ten_thousand_loadavg"] = (load, os.getloadavg()[0])  # 1-min, before and after
        # Same answers as the index? Keys, over the 1,000 notices.
        differ = 0
        for notice in notices:
            pg = {row[0] for row in check(notice)}
            mine = {other_key(o, notice.key) for o in index.overlaps_for(notice)}
            differ += pg != mine
        out["notices_with_different_answers"] = differ
    return out


# -- build from the store ----------------------------------------------------------------------

# The node whose start-up is measured: none of the six parties, so its first pass checks every
# live notice but sends no alert (a party's node would also read the stored pairs of each
# notice meeting one of its items, and find them all there after a restart).
STORE_NODE = "un-registry"
STORE_NOW = datetime(2025, 12, 31, tzinfo=UTC)  # before every window: every notice is live
FORMS = {
    "activity": "military_activity/1",
    "launch": "missile_launch/1",
    "presence": "declared_presence/1",
}
INGEST_SAMPLE = 500  # events of each party received through the full checks of ingest


def notice_data(kind: str, area: dict[str, Any], centre: list[float], item: Item) -> dict:
    window = {
        "start": format_ts(datetime.fromtimestamp(item.start_ms / 1000, UTC)),
        "end": format_ts(datetime.fromtimestamp(item.end_ms / 1000, UTC)),
    }
    if kind == "activity":
        return {
            "activity": "naval_exercise",
            "description": "Exercise",
            "area": area,
            "window": window,
        }
    if kind == "presence":
        return {"units": [{"kind": "ship", "count": 2}], "area": area, "window": window}
    launch_site = {"type": "Point", "coordinates": centre, "radius_km": 5}
    return {
        "missile_type": "test",
        "launch_area": launch_site,
        "impact_area": area,
        "window": window,
    }


def party_chain(signer: Ed25519Signer, party: str, data: Data, ts: str) -> list[Event]:
    """A channel ``party`` opens with the node, then its notices, signed in chain order."""
    channel = "ch_" + hashlib.sha256(party.encode()).hexdigest()[:20]
    events: list[Event] = []

    def append(kind: str, body: dict[str, Any]) -> None:
        prev = events[-1].id if events else None
        events.append(
            sign_event(
                signer,
                channel=channel,
                author=party,
                seq=len(events) + 1,
                prev=prev,
                seen={},
                ts=ts,
                type=kind,
                body=body,
            )
        )

    members = {party: "party", STORE_NODE: "party"}
    append("channel", {"name": f"bench {party}", "members": members, "by": "bench"})
    for item, area, centre in zip(data.areas, data.area_forms, data.area_centres, strict=True):
        if item.party == party:
            append(
                "notification",
                {
                    "form": FORMS[item.kind],
                    "data": notice_data(item.kind, area, centre, item),
                    "precedence": "routine",
                    "by": "bench",
                    "released_by": None,
                    "deadline": None,
                    "late": False,
                },
            )
    return events


def site_records(sites: Sequence[Item]) -> Iterator[SiteRecord]:
    coordinates = shapely.get_coordinates(np.array([s.geometry for s in sites], dtype=object))
    for i, (site, (lon, lat)) in enumerate(zip(sites, coordinates.tolist(), strict=True)):
        yield SiteRecord(
            0,
            site.party,
            "bench",
            f"Site {i}",
            MORATORIUM_CATEGORIES[i % 6],
            lon,
            lat,
            None,
            site.start_ms,
            site.end_ms,
        )


async def write_store(folder: Path, data: Data) -> dict[str, Any]:
    """The sites by the store's bulk import; the areas as signed notifications of the six
    parties, each party's channel opened and its first ``INGEST_SAMPLE`` events received
    through ``IngestService.receive`` (signatures, chains and forms checked, ~5 ms an event),
    the rest of its chain stored with the same ``insert_event`` in one transaction."""
    init_node(folder, STORE_NODE, "UN registry (bench)")
    node = Node.open(folder, clock=ManualClock(STORE_NOW))
    out: dict[str, Any] = {}
    try:
        admin = Principal("bench", Role.ADMIN, STORE_NODE)
        signers = {party: Ed25519Signer.generate() for party in PARTIES}
        for party, signer in signers.items():
            await node.pin_party(admin, party, party, encode_public_key(signer.public_key))
        t0 = time.perf_counter()
        out["sites"] = node.store.write_sync(
            lambda tx: tx.insert_sites(site_records(data.sites), "bench.csv", 0)
        )
        out["sites_import_s"] = round(time.perf_counter() - t0, 2)
        t0 = time.perf_counter()
        ts = format_ts(STORE_NOW)
        chains = [party_chain(signer, party, data, ts) for party, signer in signers.items()]
        out["notices_sign_s"] = round(time.perf_counter() - t0, 2)
        t0 = time.perf_counter()
        for chain in chains:
            await node.ingest.receive(chain[:INGEST_SAMPLE])
            node.store.write_sync(lambda tx, chain=chain: store_chain(tx, chain))
        out["notices"] = sum(len(chain) - 1 for chain in chains)
        out["notices_store_s"] = round(time.perf_counter() - t0, 2)
    finally:
        node.close()
    out["database_mib"] = round((folder / "parley.db").stat().st_size / 2**20, 1)
    return out


def store_chain(tx: StoreTx, chain: Sequence[Event]) -> None:
    """The events of ``chain`` not stored yet, after its head."""
    first = tx.chain_view(chain[0].channel, chain[0].author).head
    assert first is not None
    head: ChainHead = first
    for event in chain[head.seq :]:
        tx.insert_event(event, head, 0)
        head = ChainHead(event.seq, event.id, event.seen)


def store_load(folder: Path) -> dict[str, Any]:
    """In a fresh process: open the node and run the deconfliction service's first pass."""
    ready: list[float] = []

    class IndexReady(logging.Handler):
        """When the service says its index is loaded: between the load and the re-check."""

        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith("deconfliction index loaded"):
                ready.append(time.perf_counter())

    logger = logging.getLogger("parley.services._deconflict")
    logger.setLevel(logging.INFO)
    logger.addHandler(IndexReady())
    gc.collect()
    before = rss_mib()
    t0 = time.perf_counter()
    node = Node.open(folder, clock=ManualClock(STORE_NOW))
    try:
        sent = asyncio.run(node.deconfliction.flush())
        first_pass = time.perf_counter() - t0
        items = node.deconfliction.indexed()
        after = rss_mib()
    finally:
        node.close()
    return {
        "items": items,
        "alerts_sent": sent,
        "index_ready_s": round(ready[0] - t0, 2) if ready else None,
        "first_pass_s": round(first_pass, 2),
        "rss_before_mib": round(before, 1),
        "rss_after_mib": round(after, 1),
        "peak_rss_mib": round(peak_rss_mib(), 1),
    }


def bench_from_store(data: Data, bulk_load_s: float) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="deconflict-store-"))
    try:
        out = asyncio.run(write_store(folder / "node", data))
        say(f"  written: {out}")
        run = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--store-load", str(folder / "node")],
            capture_output=True,
            text=True,
            timeout=3600,
            check=False,
        )
        if run.returncode != 0:
            return out | {"error": run.stderr.strip()[-2000:]}
        out |= json.loads(run.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    out["index_ready_to_bulk_load"] = round(out["index_ready_s"] / max(bulk_load_s, 1e-9), 1)
    out["first_pass_to_bulk_load"] = round(out["first_pass_s"] / max(bulk_load_s, 1e-9), 1)
    return out


# -- the run -----------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the data (1.0)")
    parser.add_argument("--layout", choices=["worldwide", "regional"], default="worldwide")
    parser.add_argument("--seed", type=int, default=20261124)
    parser.add_argument("--naive-sample", type=int, default=5, help="notices for the loop")
    parser.add_argument("--brute-sample", type=int, default=20, help="for vectorised brute")
    parser.add_argument("--postgis", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument(
        "--gc-freeze",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="gc.freeze() after loading, as a service would (default on)",
    )
    parser.add_argument(
        "--from-store",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also build the index through a node's store (default: on for "
        "the worldwide layout; the regional one would re-check ~140 million "
        "overlaps at start)",
    )
    parser.add_argument("--store-load", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.store_load is not None:  # the fresh process of bench_from_store
        print(json.dumps(store_load(args.store_load)))
        return 0

    n_sites, n_areas = round(1_000_000 * args.scale), round(100_000 * args.scale)
    suffix = "" if args.layout == "worldwide" else f"_{args.layout}"
    output = args.output or RESULTS / f"deconflict_bench{suffix}.json"
    report: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "config": {
            "sites": n_sites,
            "areas": n_areas,
            "layout": args.layout,
            "seed": args.seed,
            "rebuild_threshold": 5000,
            "circle_points": CIRCLE_POINTS,
            "gc_freeze": args.gc_freeze,
        },
        "targets": TARGETS,
    }

    say(f"generating {n_sites:,} sites + {n_areas:,} areas ({args.layout}) ...")
    t0 = time.perf_counter()
    data = make_data(n_sites, n_areas, 11_000, args.layout, args.seed)
    items = data.sites + data.areas
    notices, many = data.notices[:1000], data.notices[1000:11_000]
    report["generate_s"] = round(time.perf_counter() - t0, 2)
    gc.collect()
    before = rss_mib()

    say("bulk_load ...")
    index = SpaceTimeIndex()
    t0 = time.perf_counter()
    index.bulk_load(items)
    build_s = time.perf_counter() - t0
    gc.collect()
    # The items and their geometries are the caller's (a service holds them anyway); the
    # index adds its arrays, its STRtree and normalised copies of the few that cross 180°.
    report["build"] = {
        "items": len(index),
        "bulk_load_s": round(build_s, 3),
        "rss_before_mib": round(before, 1),
        "rss_after_mib": round(rss_mib(), 1),
        "index_mib": round(rss_mib() - before, 1),
        "peak_rss_mib": round(peak_rss_mib(), 1),
    }
    say(f"  {build_s:.2f} s, index +{rss_mib() - before:.0f} MiB, peak {peak_rss_mib():.0f} MiB")
    if args.gc_freeze:
        # A big, long-lived heap: keep it out of the cyclic GC's full collections (as a
        # service would after loading); the GC stays on for everything allocated after this.
        gc.freeze()

    say("one notice at a time: 1,000 checks ...")
    timed_checks(index.overlaps_for, data.notices[-50:])  # warm-up
    samples, hits, cpu = timed_checks(index.overlaps_for, notices)
    report["single"] = percentiles(samples, cpu) | {"hits": hits, "hits_per_notice": hits / 1000}
    say(f"  {report['single']}")

    say("10,000 notices ...")
    load = os.getloadavg()[0]
    c0, t0 = time.thread_time(), time.perf_counter()
    _, hits, _ = timed_checks(index.overlaps_for, many)
    sequential, sequential_cpu = time.perf_counter() - t0, time.thread_time() - c0
    load = (load, os.getloadavg()[0])
    c0, t0 = time.thread_time(), time.perf_counter()
    batched_hits = 0
    for i in range(0, len(many), 1000):  # alerts go out and are dropped, 1,000 at a time
        batched_hits += sum(map(len, index.overlaps_for_many(many[i : i + 1000])))
    batched, batched_cpu = time.perf_counter() - t0, time.thread_time() - c0
    report["ten_thousand"] = {
        "sequential_s": round(sequential, 3),
        "sequential_cpu_s": round(sequential_cpu, 3),
        "sequential_per_s": round(len(many) / sequential),
        "sequential_loadavg": load,  # 1-min, before and after
        "batched_s": round(batched, 3),
        "batched_cpu_s": round(batched_cpu, 3),
        "hits": hits,
        "same_hits": hits == batched_hits,
    }
    say(f"  one by one {sequential:.2f} s, batched {batched:.2f} s, {hits:,} overlaps")

    say(f"baselines on samples ({args.naive_sample} loop, {args.brute_sample} vectorised) ...")
    naive = Naive(items)
    report["baselines"] = baselines(index, naive, notices, args.naive_sample, args.brute_sample)
    del naive

    say("incremental adds ...")
    report["incremental"] = incremental(index, data, notices)

    say("latency against index size ...")
    report["sizes"] = sizes(data, notices, index, report)

    use_postgis = args.postgis
    bin_dir = postgres_bin()
    if use_postgis is None:
        use_postgis = bin_dir is not None
    if use_postgis and bin_dir is not None:
        say("PostGIS ...")
        try:
            report["postgis"] = bench_postgis(bin_dir, items, notices, many, index)
        except Exception as exc:  # report it, keep the rest of the run
            report["postgis"] = {"error": f"{type(exc).__name__}: {exc}"}
    else:
        report["postgis"] = {"skipped": "no PostgreSQL with PostGIS" if use_postgis else "off"}

    store: dict[str, Any] = {"skipped": "off"}
    if args.from_store or (args.from_store is None and args.layout == "worldwide"):
        say("build from the store: writing a node's store ...")
        store = bench_from_store(data, build_s)
        say(f"  {store}")
    report["from_store"] = store

    # The build and memory targets are a node's: from its store, in its own process.
    built = store.get("first_pass_s", build_s)
    peak = store.get("peak_rss_mib", report["build"]["peak_rss_mib"])
    report["met"] = {
        "p99_ms": report["single"]["p99_ms"] < TARGETS["p99_ms"],
        "ten_thousand_s": sequential < TARGETS["ten_thousand_s"],
        "build_s": built < TARGETS["build_s"],
        "memory_gib": max(peak, report["build"]["peak_rss_mib"]) / 1024 < TARGETS["memory_gib"],
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2, default=str) + "\n")
    report["plot"] = plot(report, output.with_suffix(".png"))
    output.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print_tables(report)
    say(f"written {output}")
    return 0


def baselines(
    index: SpaceTimeIndex, naive: Naive, notices: Sequence[Item], n_loop: int, n_brute: int
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, check, n in (
        ("python_loop", naive.loop, n_loop),
        ("vectorised", naive.vectorised, n_brute),
    ):
        sample = notices[:n]
        samples, _, _ = timed_checks(check, sample)
        mismatches = sum(
            sorted(check(notice)) != [other_key(o, notice.key) for o in index.overlaps_for(notice)]
            for notice in sample[: min(n, 5)]
        )
        mean = float(np.mean(samples))
        out[name] = {
            "sample_notices": n,
            "mean_s_per_notice": round(mean, 4),
            "extrapolated_ten_thousand_s": round(mean * 10_000, 1),
            "measured_on": f"{n} notices, extrapolated to 10,000",
            "answers_differ_from_index": mismatches,
        }
        say(f"  {name}: {mean * 1000:.1f} ms/notice (sample of {n}), differ: {mismatches}")
    return out


def incremental(index: SpaceTimeIndex, data: Data, notices: Sequence[Item]) -> dict[str, Any]:
    """Add 10,000 new areas one by one (two rebuilds at the default threshold), remove them;
    then the latency with a nearly full delta (4,999 items)."""
    fresh = [
        Item(f"new-{i:05d}", n.party, n.kind, n.geometry, n.start_ms, n.end_ms)
        for i, n in enumerate(data.notices[1000:11_000])
    ]
    rebuilds, rebuild_s, add_s = 0, 0.0, []
    for item in fresh:
        before = index.delta_size
        t0 = time.perf_counter()
        index.add(item)
        took = time.perf_counter() - t0
        if index.delta_size < before:
            rebuilds, rebuild_s = rebuilds + 1, rebuild_s + took
        else:
            add_s.append(took)
    total = sum(add_s) + rebuild_s
    t0 = time.perf_counter()
    for item in fresh:
        index.remove(item.key)
    remove_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    index.rebuild()
    compact_s = time.perf_counter() - t0
    for item in fresh[:4999]:
        index.add(item)
    samples, _, cpu = timed_checks(index.overlaps_for, notices)
    for item in fresh[:4999]:
        index.remove(item.key)
    index.rebuild()
    out = {
        "adds": len(fresh),
        "total_s": round(total, 3),
        "amortised_us_per_add": round(total / len(fresh) * 1e6, 1),
        "delta_add_p50_us": round(float(np.percentile(add_s, 50)) * 1e6, 1),
        "rebuilds": rebuilds,
        "rebuild_s_each": round(rebuild_s / max(rebuilds, 1), 3),
        "remove_us_each": round(remove_s / len(fresh) * 1e6, 2),
        "compacting_rebuild_s": round(compact_s, 3),
        "single_with_full_delta": percentiles(samples, cpu),
    }
    say(f"  {out}")
    return out


def sizes(
    data: Data, notices: Sequence[Item], full: SpaceTimeIndex, report: dict[str, Any]
) -> list[dict[str, Any]]:
    rows = []
    for fraction in (0.01, 0.1, 0.5, 1.0):
        items = data.subset(fraction)
        if fraction == 1.0:
            index, build_s = full, report["build"]["bulk_load_s"]
        else:
            index = SpaceTimeIndex()
            t0 = time.perf_counter()
            index.bulk_load(items)
            build_s = time.perf_counter() - t0
        samples, hits, cpu = timed_checks(index.overlaps_for, notices[:500])
        row = {"items": len(items), "bulk_load_s": round(build_s, 3)}
        row |= {k: v for k, v in percentiles(samples, cpu).items() if k != "n"}
        row["hits_per_notice"] = hits / 500
        if fraction == 1.0:
            row["vectorised_ms"] = report["baselines"]["vectorised"]["mean_s_per_notice"] * 1000
            row["python_loop_ms"] = report["baselines"]["python_loop"]["mean_s_per_notice"] * 1000
        else:
            naive = Naive(items)
            row["vectorised_ms"] = float(np.mean(timed_checks(naive.vectorised, notices[:5])[0]))
            row["vectorised_ms"] *= 1000
            row["python_loop_ms"] = float(np.mean(timed_checks(naive.loop, notices[:2])[0]))
            row["python_loop_ms"] *= 1000
            del naive
        rows.append(row)
        say(f"  {row}")
        del index
        gc.collect()
    return rows


def plot(report: dict[str, Any], path: Path) -> str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed: no PNG; the data is in the JSON ('sizes')"
    rows = report["sizes"]
    x = [row["items"] for row in rows]
    fig, ax = plt.subplots(figsize=(7.5, 4.8), dpi=120)
    ax.plot(x, [r["p50_ms"] for r in rows], "o-", label="SpaceTimeIndex p50")
    ax.plot(x, [r["p99_ms"] for r in rows], "o--", label="SpaceTimeIndex p99")
    ax.plot(x, [r["cpu_p99_ms"] for r in rows], "o:", label="SpaceTimeIndex p99, CPU time")
    ax.plot(x, [r["vectorised_ms"] for r in rows], "s-", label="brute force, vectorised (mean)")
    ax.plot(x, [r["python_loop_ms"] for r in rows], "^-", label="naive Python loop (mean)")
    pg = report.get("postgis", {}).get("single")
    if pg:
        ax.plot([x[-1]], [pg["p50_ms"]], "D", label="PostGIS GiST p50 (loopback)")
        ax.plot([x[-1]], [pg["p99_ms"]], "d", label="PostGIS GiST p99 (loopback)")
    ax.axhline(TARGETS["p99_ms"], color="grey", lw=0.8, ls=":", label="target p99 5 ms")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("items in the index (points + areas)")
    ax.set_ylabel("check of one new notice (ms)")
    layout = report["config"]["layout"]
    ax.set_title(f"Deconfliction check latency against index size ({layout})")
    ax.grid(True, which="both", lw=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return str(
        path.relative_to(RESULTS.parent.parent)
        if path.is_relative_to(RESULTS.parent.parent)
        else path
    )


def print_tables(report: dict[str, Any]) -> None:
    b, s, t = report["build"], report["single"], report["ten_thousand"]
    loop, vec = report["baselines"]["python_loop"], report["baselines"]["vectorised"]
    pg = report["postgis"]
    print()
    print(f"{'what':<44} {'index':>12} {'py loop*':>12} {'vect.*':>10} {'PostGIS':>10}")
    pg_single = pg.get("single", {})

    def cell(value: Any, fmt: str = "{:,.2f}") -> str:
        return "-" if value is None else fmt.format(value)

    print(
        f"{'build (s)':<44} {b['bulk_load_s']:>12.2f} {'-':>12} {'-':>10} "
        f"{cell(pg.get('load_s')):>10}"
    )
    print(
        f"{'one notice p50 (ms)':<44} {s['p50_ms']:>12.3f} "
        f"{loop['mean_s_per_notice'] * 1000:>12.0f} {vec['mean_s_per_notice'] * 1000:>10.1f} "
        f"{cell(pg_single.get('p50_ms'), '{:.3f}'):>10}"
    )
    print(
        f"{'one notice p99 (ms)':<44} {s['p99_ms']:>12.3f} {'':>12} {'':>10} "
        f"{cell(pg_single.get('p99_ms'), '{:.3f}'):>10}"
    )
    print(f"{'one notice p99, thread CPU time (ms)':<44} {s['cpu_p99_ms']:>12.3f}")
    print(
        f"{'10,000 notices one by one (s)':<44} {t['sequential_s']:>12.2f} "
        f"{loop['extrapolated_ten_thousand_s']:>12,.0f} "
        f"{vec['extrapolated_ten_thousand_s']:>10,.0f} "
        f"{cell(pg.get('ten_thousand_s')):>10}"
    )
    print(f"{'10,000 notices one by one, thread CPU (s)':<44} {t['sequential_cpu_s']:>12.2f}")
    print(f"{'10,000 notices batched (s)':<44} {t['batched_s']:>12.2f}")
    print(
        f"{'peak RSS (MiB) / index alone (MiB)':<44} "
        f"{b['peak_rss_mib']:>6.0f}/{b['index_mib']:<5.0f}"
    )
    store = report.get("from_store", {})
    if "first_pass_s" in store:
        print(
            f"{'build from the store: index ready (s)':<44} {store['index_ready_s']:>12.2f}"
            f"   {store['index_ready_to_bulk_load']:.1f}x bulk_load"
        )
        print(
            f"{'  first pass, live notices re-checked (s)':<44} {store['first_pass_s']:>12.2f}"
            f"   {store['first_pass_to_bulk_load']:.1f}x bulk_load"
        )
        print(
            f"{'  node process RSS after / peak (MiB)':<44} "
            f"{store['rss_after_mib']:>6.0f}/{store['peak_rss_mib']:<5.0f}"
        )
    elif "error" in store:
        print(f"build from the store failed: {store['error']}")
    print("* measured on a sample, extrapolated to 10,000 (no areas computed: they only find)")
    ratio = loop["extrapolated_ten_thousand_s"] / max(t["sequential_s"], 1e-9)
    print(
        f"speed-up over the naive loop: {ratio:,.0f}x; over vectorised brute force: "
        f"{vec['extrapolated_ten_thousand_s'] / max(t['sequential_s'], 1e-9):,.0f}x"
    )
    if "ten_thousand_s" in pg:
        print(
            f"10,000 one by one: index {t['sequential_per_s']:,} notices/s (load "
            f"{t['sequential_loadavg'][0]:.1f}), PostGIS {pg['ten_thousand_per_s']:,} notices/s "
            f"(load {pg['ten_thousand_loadavg'][0]:.1f}, GiST index used: "
            f"{pg['uses_gist_index']}): "
            f"speed-up {pg['ten_thousand_s'] / max(t['sequential_s'], 1e-9):.1f}x"
        )
        pg_cpu = pg["ten_thousand_server_cpu_s"] + pg["ten_thousand_client_cpu_s"]
        print(
            f"  in CPU time: index {t['sequential_cpu_s']:.2f} s, PostGIS {pg_cpu:.2f} s "
            f"(server {pg['ten_thousand_server_cpu_s']:.2f} + client "
            f"{pg['ten_thousand_client_cpu_s']:.2f}): "
            f"{pg_cpu / max(t['sequential_cpu_s'], 1e-9):.1f}x"
        )
    print(f"targets met: {report['met']}")


def machine() -> dict[str, Any]:
    model = ""
    with suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    git = ""
    with suppress(OSError, subprocess.SubprocessError):
        repo = Path(__file__).resolve().parent.parent
        git = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        changes = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        git += "+dirty" if changes else ""
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "shapely": shapely.__version__,
        "geos": shapely.geos_version_string,
        "numpy": np.__version__,
        "loadavg_at_start": os.getloadavg(),
        "git": git,
    }


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
