"""Property: the index finds exactly what a naive loop over every item finds."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely import affinity
from shapely.geometry import Point, Polygon, box
from shapely.geometry.base import BaseGeometry

from parley.deconflict import KINDS, Item, SpaceTimeIndex, geodesic_area_km2, severity

PARTIES = ("red", "blue", "green")


@st.composite
def shapes(draw: st.DrawFn) -> BaseGeometry:
    # A small grid, in half degrees: shapes often share edges and corners, or nest in holes.
    x, y = draw(st.integers(-12, 10)), draw(st.integers(-12, 10))
    if draw(st.integers(0, 3)) == 0:
        return Point(x / 2, y / 2)
    w, h = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    outer = box(x / 2, y / 2, (x + w) / 2, (y + h) / 2)
    if w >= 3 and h >= 3 and draw(st.booleans()):
        hole = box((x + 1) / 2, (y + 1) / 2, (x + w - 1) / 2, (y + h - 1) / 2)
        return Polygon(outer.exterior.coords, [hole.exterior.coords])
    return outer


@st.composite
def windows(draw: st.DrawFn) -> tuple[int | None, int | None]:
    start = draw(st.none() | st.integers(0, 8))
    end = draw(st.none() | st.integers(1, 6))
    if start is not None and end is not None:
        end += start
    return start, end


@st.composite
def items(draw: st.DrawFn, key: str) -> Item:
    start, end = draw(windows())
    return Item(
        key,
        draw(st.sampled_from(PARTIES)),
        draw(st.sampled_from(KINDS)),
        draw(shapes()),
        start,
        end,
    )


@dataclass
class Scenario:
    bulk: list[Item]
    added: list[Item]
    removed: list[str]


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    n_bulk, n_added = draw(st.integers(0, 25)), draw(st.integers(0, 25))
    bulk = [draw(items(f"b{i}")) for i in range(n_bulk)]
    added = [draw(items(f"a{i}")) for i in range(n_added)]
    keys = [item.key for item in bulk + added]
    removed = draw(st.lists(st.sampled_from(keys), unique=True, max_size=8)) if keys else []
    return Scenario(bulk, added, removed)


def wrapped(xy):
    """Longitudes into [-180, 180)."""
    out = xy.copy()
    out[:, 0] = (out[:, 0] + 180) % 360 - 180
    return out


def meets(a_start, a_end, b_start, b_end) -> bool:
    lo = max(x for x in (a_start, b_start, -(10**9)) if x is not None)
    hi = min(x for x in (a_end, b_end, 10**9) if x is not None)
    return lo < hi


def naive(everything: list[Item], shape: BaseGeometry, start, end, exclude):
    found = {}
    for item in everything:
        if item.party == exclude or not meets(item.start_ms, item.end_ms, start, end):
            continue
        if shape.intersects(item.geometry):
            touching = shape.touches(item.geometry)
            both = shapely.get_dimensions(shape) == 2 == shapely.get_dimensions(item.geometry)
            area = geodesic_area_km2(shape.intersection(item.geometry)) if both else 0.0
            found[item.key] = (touching, 0.0 if touching else area)
    return found


def load(scenario: Scenario, threshold: int) -> tuple[SpaceTimeIndex, list[Item]]:
    index = SpaceTimeIndex(rebuild_threshold=threshold)
    index.bulk_load(scenario.bulk)
    for item in scenario.added:
        index.add(item)
    for key in scenario.removed:
        index.remove(key)
    alive = [i for i in scenario.bulk + scenario.added if i.key not in scenario.removed]
    return index, alive


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    scenario=scenarios(),
    threshold=st.sampled_from([1, 3, 1000]),
    shape=shapes(),
    window=windows(),
    exclude=st.none() | st.sampled_from(PARTIES),
)
def test_query_agrees_with_a_naive_loop(scenario, threshold, shape, window, exclude):
    index, alive = load(scenario, threshold)
    assert len(index) == len(alive)
    got = {
        item.key: (match.touching, match.area_km2)
        for item, match in index.query(shape, *window, exclude_party=exclude)
    }
    want = naive(alive, shape, *window, exclude)
    assert got.keys() == want.keys()
    for key, (touching, area) in want.items():
        assert got[key][0] is touching
        assert got[key][1] == pytest.approx(area, rel=1e-9, abs=1e-9)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios(), threshold=st.sampled_from([2, 1000]), new=items("new"))
def test_overlaps_for_agrees_with_a_naive_loop(scenario, threshold, new):
    index, alive = load(scenario, threshold)
    want = naive(alive, new.geometry, new.start_ms, new.end_ms, new.party)
    kinds = {item.key: item.kind for item in alive}
    got = index.overlaps_for(new)
    assert [(o.a, o.b) for o in got] == [tuple(sorted((new.key, key))) for key in sorted(want)]
    for overlap in got:
        other = overlap.a if overlap.b == "new" else overlap.b
        touching, _ = want[other]
        assert overlap.severity == severity(new.kind, kinds[other], touching=touching)
    index.rebuild()
    assert index.overlaps_for(new) == got


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios(), shape=shapes(), window=windows(), wrap=st.booleans())
def test_moving_everything_onto_the_antimeridian_changes_nothing(scenario, shape, window, wrap):
    """Shifted by 180° (and, if ``wrap``, given in [-180, 180]) every answer is the same."""

    def moved(geometry: BaseGeometry) -> BaseGeometry:
        shifted = affinity.translate(geometry, 180.0)
        if not wrap:
            return shifted  # longitudes beyond 180
        return shapely.transform(shifted, wrapped)

    def answers(index: SpaceTimeIndex, query: BaseGeometry):
        return {
            item.key: (match.touching, match.area_km2)
            for item, match in index.query(query, *window)
        }

    plain, _ = load(scenario, 4)
    shifted = Scenario(
        [
            Item(i.key, i.party, i.kind, moved(i.geometry), i.start_ms, i.end_ms)
            for i in scenario.bulk
        ],
        [
            Item(i.key, i.party, i.kind, moved(i.geometry), i.start_ms, i.end_ms)
            for i in scenario.added
        ],
        scenario.removed,
    )
    across, _ = load(shifted, 4)
    # Cutting an edge at 180° adds a vertex there: a geodesic area moves by ~1e-5.
    want = {
        key: (touching, pytest.approx(area, rel=1e-3))
        for key, (touching, area) in answers(plain, shape).items()
    }
    assert answers(across, moved(shape)) == want


@st.composite
def rings_and_points(draw: st.DrawFn) -> tuple[BaseGeometry, list[Point]]:
    """A many-sided polygon off the grid and points on and near its edges and corners: the
    points the index tests by their coordinates, where rounding decides boundary or not."""
    sides = draw(st.integers(3, 40))
    x, y = draw(st.floats(-170, 170)), draw(st.floats(-80, 80))
    radius = draw(st.floats(0.001, 5))
    turn = draw(st.floats(0, 1))
    corners = [
        (
            x + radius * math.cos(2 * math.pi * (i + turn) / sides),
            y + radius * math.sin(2 * math.pi * (i + turn) / sides),
        )
        for i in range(sides)
    ]
    ring = Polygon(corners)
    points = []
    for _ in range(draw(st.integers(1, 20))):
        i = draw(st.integers(0, sides - 1))
        (ax, ay), (bx, by) = corners[i], corners[(i + 1) % sides]
        t = draw(st.sampled_from([0.0, 0.5, 1.0]) | st.floats(-0.2, 1.2))
        points.append(Point(ax + t * (bx - ax), ay + t * (by - ay)))
    points.append(Point(x, y))
    return ring, points


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=rings_and_points(), threshold=st.sampled_from([1, 1000]))
def test_points_on_and_near_a_boundary_agree_with_a_naive_loop(case, threshold):
    ring, points = case
    sites = [Item(f"p{i}", "blue", "protected_site", p) for i, p in enumerate(points)]
    notice = Item("notice", "red", "activity", ring, 0, 10)
    index, alive = load(Scenario(sites[::2], sites[1::2], []), threshold)
    want = naive(alive, ring, 0, 10, "red")
    got = index.overlaps_for(notice)
    assert [o.a if o.b == "notice" else o.b for o in got] == sorted(want)
    for overlap in got:
        touching, _ = want[overlap.a if overlap.b == "notice" else overlap.b]
        assert overlap.severity == severity("activity", "protected_site", touching=touching)
