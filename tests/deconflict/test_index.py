"""SpaceTimeIndex: exact geometry, half-open windows, severities, tombstones, delta and rebuild."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from pyproj import Geod
from shapely.geometry import MultiPolygon, Point, Polygon, box

from parley.deconflict import Item, Overlap, SpaceTimeIndex, geodesic_area_km2, severity
from parley.forms import area_geometry

GEOD = Geod(ellps="WGS84")
H = 3_600_000  # an hour in ms


def circle(lon: float, lat: float, radius_km: float):
    return area_geometry({"type": "Point", "coordinates": [lon, lat], "radius_km": radius_km})


def keys(found) -> list[str]:
    return [item.key for item, _ in found]


def index_of(*items: Item, threshold: int = 5000) -> SpaceTimeIndex:
    index = SpaceTimeIndex(rebuild_threshold=threshold)
    for item in items:
        index.add(item)
    return index


@pytest.fixture(params=["delta", "base"])
def where(request) -> str:
    """Every geometry case runs twice: items in the delta, and in the base tree."""
    return request.param


def build(where: str, *items: Item) -> SpaceTimeIndex:
    index = SpaceTimeIndex()
    if where == "delta":
        for item in items:
            index.add(item)
    else:
        index.bulk_load(items)
    return index


# -- space -------------------------------------------------------------------------------------


def test_overlapping_areas_report_the_geodesic_area_of_the_intersection(where):
    index = build(where, Item("a", "red", "activity", box(0, 0, 2, 2)))
    [(item, match)] = index.query(box(1, 1, 3, 3))
    assert item.key == "a"
    assert match.area_km2 == pytest.approx(geodesic_area_km2(box(1, 1, 2, 2)))
    assert match.area_km2 == pytest.approx(12_300, rel=1e-2)
    assert (match.touching, match.distance_km, match.start_ms, match.end_ms) == (
        False,
        0.0,
        None,
        None,
    )


def test_touching_edges_and_corners_count_with_no_area(where):
    index = build(
        where,
        Item("edge", "red", "activity", box(1, 0, 2, 1)),
        Item("corner", "red", "activity", box(1, 1, 2, 2)),
        Item("apart", "red", "activity", box(1.001, 0, 2, 1)),
        Item("on-boundary", "red", "protected_site", Point(1, 0.5)),
    )
    found = dict(index.query(box(0, 0, 1, 1)))
    assert sorted(item.key for item in found) == ["corner", "edge", "on-boundary"]
    for match in found.values():
        assert match.touching
        assert match.area_km2 == 0.0
    new = Item("new", "blue", "activity", box(0, 0, 1, 1))
    assert {o.severity for o in index.overlaps_for(new)} == {"low"}


def test_an_item_inside_a_hole_does_not_overlap_the_holed_area(where):
    ring = Polygon(box(0, 0, 10, 10).exterior.coords, [box(2, 2, 8, 8).exterior.coords])
    index = build(
        where,
        Item("ring", "red", "activity", ring),
        Item("in-hole", "red", "activity", box(3, 3, 4, 4)),
        Item("site-in-hole", "red", "protected_site", Point(5, 5)),
    )
    assert keys(index.query(box(4, 4, 5, 5))) == ["in-hole", "site-in-hole"]
    # Reaching from the hole into the ring's body overlaps it; the area excludes the hole.
    [(item, match)] = index.query(box(7, 4, 9, 5), exclude_party=None)[:1]
    assert item.key == "ring"
    assert match.area_km2 == pytest.approx(geodesic_area_km2(box(8, 4, 9, 5)), rel=1e-9)
    # The hole's own edge: touching.
    [(item, match)] = index.query(box(2, 6, 2.5, 6.5))
    assert (item.key, match.touching) == ("ring", True)


def test_multipolygons_meet_through_any_part(where):
    shape = MultiPolygon([box(0, 0, 1, 1), box(20, 20, 21, 21)])
    index = build(where, Item("m", "red", "activity", shape))
    assert keys(index.query(Point(20.5, 20.5))) == ["m"]
    assert keys(index.query(box(0.5, 0.5, 21, 0.6))) == ["m"]
    assert index.query(box(5, 5, 15, 15)) == []  # between the parts, inside their bounds
    [(_, match)] = index.query(box(0.5, 0.5, 20.5, 20.5))
    expected = geodesic_area_km2(box(0.5, 0.5, 1, 1)) + geodesic_area_km2(box(20, 20, 20.5, 20.5))
    assert match.area_km2 == pytest.approx(expected)


def test_an_area_across_the_antimeridian_meets_items_on_both_sides(where):
    index = build(
        where,
        Item("east", "red", "presence", Point(179.5, 5)),
        Item("west", "red", "presence", Point(-179.5, 5)),
        Item("far", "red", "presence", Point(0, 5)),
        Item("west-box", "red", "activity", box(-179, 0, -178, 10)),
    )
    for shape in (
        box(179, 0, 181.5, 10),  # beyond 180
        Polygon([(179, 0), (-178.5, 0), (-178.5, 10), (179, 10)]),  # the short way round
        MultiPolygon([box(179, 0, 180, 10), box(-180, 0, -178.5, 10)]),  # cut as GeoJSON says
        circle(180.0, 5.0, 150),  # a geodesic circle from the forms, centred on 180°
    ):
        found = {item.key: match for item, match in index.query(shape)}
        assert sorted(found) == ["east", "west", "west-box"]
        assert found["west-box"].area_km2 > 0


def test_items_across_the_antimeridian_are_found_from_either_side(where):
    index = build(
        where,
        Item("cut", "red", "activity", box(170, 0, 190, 10)),
        Item("seam-east", "red", "activity", box(175, 20, 180, 21)),
        Item("circle", "red", "activity", circle(-179.9, 40, 50)),
    )
    assert keys(index.query(Point(175, 5))) == ["cut"]
    assert keys(index.query(Point(-175, 5))) == ["cut"]
    # Meeting exactly at the seam, from the other side: touching, not missed.
    [(item, match)] = index.query(box(-180, 20, -179, 21))
    assert (item.key, match.touching, match.area_km2) == ("seam-east", True, 0.0)
    assert keys(index.query(Point(179.9, 40))) == ["circle"]  # 17 km from the centre
    # On the seam, inside an area cut there: inside, not touching its artificial edge.
    for point in (Point(180, 5), Point(-180, 5)):
        [(item, match)] = index.query(point)
        assert (item.key, match.touching) == ("cut", False)
    [(item, match)] = index.query(Point(180, 20.5))
    assert (item.key, match.touching) == ("seam-east", True)  # its real edge


def test_near_the_poles(where):
    index = build(
        where,
        Item("polar", "red", "activity", circle(0, 89.8, 50)),
        Item("station", "red", "protected_site", Point(100, 89.9)),
        Item("south", "red", "activity", circle(45, -89.95, 30)),
    )
    # Across the pole from the polar circle's centre (22 km to the pole, 11 km further).
    assert keys(index.query(Point(180, 89.9))) == ["polar"]
    assert keys(index.query(Point(-90, 89.4))) == []
    assert keys(index.query(circle(100, 89.85, 10))) == ["polar", "station"]
    assert keys(index.query(Point(-135, -89.95))) == ["south"]
    found = {item.key: match for item, match in index.query(box(-180, 89.5, 180, 90))}
    assert sorted(found) == ["polar", "station"]
    assert 0.5 * math.pi * 50**2 < found["polar"].area_km2 < math.pi * 50**2


def test_point_with_radius_from_the_forms_is_geodesic_at_60_north(where):
    centre = (25.0, 60.0)
    sites = []
    for i, (azimuth, distance_km) in enumerate([(0, 49.5), (90, 49.5), (90, 50.5), (270, 52)]):
        lon, lat, _ = GEOD.fwd(*centre, azimuth, distance_km * 1000)
        sites.append(Item(f"site-{i}", "red", "protected_site", Point(lon, lat)))
    index = build(where, *sites)
    notice = Item("firing", "blue", "activity", circle(*centre, 50), 0, 10 * H)
    overlaps = index.overlaps_for(notice)
    assert [(o.a, o.b, o.severity) for o in overlaps] == [
        ("firing", "site-0", "critical"),
        ("firing", "site-1", "critical"),
    ]


def test_margin_reports_near_items_with_their_geodesic_distance(where):
    lon, lat, _ = GEOD.fwd(10.0, 60.0, 90, 30_000)  # 30 km east of (10, 60)
    index = build(where, Item("near", "red", "protected_site", Point(lon, lat)))
    assert index.query(Point(10, 60)) == []
    [(_, match)] = index.query(Point(10, 60), margin_km=31)
    assert match.distance_km == pytest.approx(30.0, rel=1e-6)
    assert not match.touching
    assert index.query(Point(10, 60), margin_km=29) == []
    [overlap] = index.overlaps_for(Item("x", "blue", "activity", Point(10, 60)), margin_km=40)
    assert (overlap.severity, round(overlap.distance_km, 3)) == ("low", 30.0)
    # Across the antimeridian too.
    index.add(Item("dateline", "red", "presence", Point(-179.95, 0)))
    [(item, match)] = index.query(Point(179.95, 0), margin_km=20)
    assert item.key == "dateline"
    assert match.distance_km == pytest.approx(11.13, rel=1e-3)


# -- time --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("window", "meets"),
    [
        ((0, 1 * H), False),  # ends when the item starts: [0, 1h) and [1h, 2h) do not meet
        ((2 * H, 3 * H), False),  # starts when the item ends
        ((0, 1 * H + 1), True),  # one millisecond of overlap
        ((2 * H - 1, 3 * H), True),
        ((None, 1 * H), False),
        ((None, None), True),
        ((2 * H, None), False),
        ((H + H // 2, None), True),
    ],
)
def test_time_windows_are_half_open(where, window, meets):
    index = build(where, Item("a", "red", "activity", box(0, 0, 1, 1), 1 * H, 2 * H))
    assert bool(index.query(box(0, 0, 1, 1), *window)) is meets


def test_unbounded_items_and_the_overlap_window(where):
    index = build(
        where,
        Item("always", "red", "protected_site", Point(0.5, 0.5)),
        Item("from", "red", "activity", box(0, 0, 1, 1), 5 * H, None),
        Item("until", "red", "activity", box(0, 0, 1, 1), None, 5 * H),
    )
    windows = {item.key: (m.start_ms, m.end_ms) for item, m in index.query(box(0, 0, 1, 1))}
    assert windows == {"always": (None, None), "from": (5 * H, None), "until": (None, 5 * H)}
    found = index.query(box(0, 0, 1, 1), H, 9 * H)
    windows = {item.key: (m.start_ms, m.end_ms) for item, m in found}
    assert windows == {"always": (H, 9 * H), "from": (5 * H, 9 * H), "until": (H, 5 * H)}


def test_empty_or_reversed_windows_are_refused():
    with pytest.raises(ValueError, match="empty"):
        Item("a", "red", "activity", box(0, 0, 1, 1), H, H)
    with pytest.raises(ValueError, match="empty"):
        SpaceTimeIndex().query(box(0, 0, 1, 1), 2 * H, H)
    with pytest.raises(ValueError, match="kind"):
        Item("a", "red", "exercise", box(0, 0, 1, 1))


# -- parties and severity ----------------------------------------------------------------------


def test_severity_rules():
    assert severity("activity", "protected_site", touching=False) == "critical"
    assert severity("protected_site", "launch", touching=False) == "critical"
    assert severity("presence", "activity", touching=False) == "high"
    assert severity("launch", "presence", touching=False) == "high"
    assert severity("activity", "launch", touching=False) == "medium"
    assert severity("activity", "activity", touching=False) == "medium"
    assert severity("activity", "protected_site", touching=True) == "low"
    assert severity("activity", "activity", touching=False, distance_km=3.0) == "low"
    assert severity("presence", "protected_site", touching=False) == "low"
    assert severity("presence", "presence", touching=False) == "low"


def test_overlaps_for_a_new_item_names_other_parties_items_only(where):
    index = build(
        where,
        Item("site", "blue", "protected_site", Point(0.5, 0.5)),
        Item("own-site", "red", "protected_site", Point(0.6, 0.6)),
        Item("ships", "blue", "presence", box(0.2, 0.2, 0.4, 0.4), 0, 10 * H),
        Item("own-ships", "red", "presence", box(0.2, 0.2, 0.4, 0.4), 0, 10 * H),
        Item("drill", "green", "activity", box(0.9, 0.9, 3, 3), 2 * H, 4 * H),
        Item("later", "green", "activity", box(0, 0, 1, 1), 8 * H, 9 * H),
        Item("L#launch_area", "green", "launch", box(-1, 0, 0, 1), 0, H),
    )
    new = Item("firing", "red", "activity", box(0, 0, 1, 1), H, 5 * H)
    assert index.overlaps_for(new) == [
        Overlap(
            "drill",
            "firing",
            pytest.approx(geodesic_area_km2(box(0.9, 0.9, 1, 1))),
            0.0,
            2 * H,
            4 * H,
            "medium",
        ),
        Overlap(
            "firing",
            "ships",
            pytest.approx(geodesic_area_km2(box(0.2, 0.2, 0.4, 0.4))),
            0.0,
            H,
            5 * H,
            "high",
        ),
        Overlap("firing", "site", 0.0, 0.0, H, 5 * H, "critical"),
    ]
    # Of another party, and a protected site of each: both critical.
    launch = Item("L2#impact_area", "green", "launch", box(0.4, 0.4, 0.7, 0.7), 0, H + 1)
    assert [(o.a, o.b, o.severity) for o in index.overlaps_for(launch)] == [
        ("L2#impact_area", "own-ships", "low"),  # touching the edge only
        ("L2#impact_area", "own-site", "critical"),
        ("L2#impact_area", "ships", "low"),
        ("L2#impact_area", "site", "critical"),
    ]


def test_overlaps_for_an_indexed_item_does_not_name_itself(where):
    a = Item("a", "red", "activity", box(0, 0, 1, 1))
    index = build(where, a, Item("b", "blue", "activity", box(0, 0, 1, 1)))
    assert [(o.a, o.b) for o in index.overlaps_for(a)] == [("a", "b")]


def test_overlaps_for_many_agrees_with_one_by_one(where):
    rng = np.random.default_rng(3)
    items = [
        Item(
            f"i{i}",
            f"p{i % 3}",
            ("activity", "presence", "protected_site")[i % 3],
            shapely.buffer(Point(*rng.uniform(-5, 5, 2)), float(rng.uniform(0.1, 1))),
            int(t),
            int(t) + 3 * H,
        )
        for i, t in enumerate(rng.integers(0, 20 * H, 300))
    ]
    index = build(where, *items[:200])
    # More than one chunk (256), indexed items among them (never their own overlap).
    checks = [*items[200:], *items[:200], Item("cut", "p0", "activity", box(175, -5, 185, 5))]
    assert index.overlaps_for_many(checks) == [index.overlaps_for(c) for c in checks]
    assert sum(map(len, index.overlaps_for_many(checks))) > 20


# -- changes -----------------------------------------------------------------------------------


def test_remove_leaves_a_tombstone_that_a_rebuild_compacts(where):
    index = build(where, *(Item(f"k{i}", "red", "activity", box(i, 0, i + 1, 1)) for i in range(5)))
    index.remove("k2")
    assert "k2" not in index
    assert len(index) == 4
    assert keys(index.query(box(0, 0, 5, 1))) == ["k0", "k1", "k3", "k4"]
    with pytest.raises(KeyError):
        index.remove("k2")
    index.rebuild()
    assert keys(index.query(box(0, 0, 5, 1))) == ["k0", "k1", "k3", "k4"]
    index.add(Item("k2", "red", "activity", box(2.2, 0.2, 2.8, 0.8)))  # the key is free again
    assert keys(index.query(box(2.4, 0.4, 2.6, 0.6))) == ["k2"]
    assert index.get("k2") is not None
    assert index.get("k9") is None


def test_duplicate_keys_are_refused_and_bulk_load_is_all_or_nothing():
    index = index_of(Item("a", "red", "activity", box(0, 0, 1, 1)))
    with pytest.raises(ValueError, match="already"):
        index.add(Item("a", "blue", "activity", box(0, 0, 1, 1)))
    with pytest.raises(ValueError, match="repeated"):
        index.bulk_load([Item("b", "red", "activity", box(0, 0, 1, 1))] * 2)
    with pytest.raises(ValueError, match="latitude"):
        index.bulk_load(
            [
                Item("c", "red", "activity", box(0, 0, 1, 1)),
                Item("d", "red", "activity", Point(0, 95)),
            ]
        )
    assert len(index) == 1
    assert keys(index.query(box(0, 0, 1, 1))) == ["a"]


def test_results_are_the_same_before_and_after_rebuilds():
    rng = np.random.default_rng(11)
    kinds = ("activity", "launch", "presence", "protected_site")
    index = SpaceTimeIndex(rebuild_threshold=25)
    shadow = SpaceTimeIndex(rebuild_threshold=10**9)  # never rebuilt: all in its delta
    alive: list[str] = []
    for i in range(400):
        if alive and rng.random() < 0.25:
            key = alive.pop(int(rng.integers(len(alive))))
            index.remove(key)
            shadow.remove(key)
            continue
        centre = Point(*rng.uniform(-3, 3, 2))
        shape = centre if i % 4 == 3 else shapely.buffer(centre, float(rng.uniform(0.1, 1)))
        start = int(rng.integers(0, 10)) * H
        item = Item(f"k{i}", f"p{i % 3}", kinds[i % 4], shape, start, start + 2 * H)
        index.add(item)
        shadow.add(item)
        alive.append(item.key)
        assert index.delta_size <= 25
        if i % 20 == 0:
            probe = Item("probe", "p0", "activity", box(-2, -2, 2, 2), 3 * H, 6 * H)
            assert index.overlaps_for(probe) == shadow.overlaps_for(probe)
    probes = [box(x, y, x + 1.5, y + 1.5) for x in range(-4, 3) for y in range(-4, 3)]
    before = [index.query(p, 2 * H, 5 * H) for p in probes]
    assert before == [shadow.query(p, 2 * H, 5 * H) for p in probes]
    index.rebuild()
    assert [index.query(p, 2 * H, 5 * H) for p in probes] == before
    assert len(index) == len(alive) == len(shadow)


def test_bulk_load_of_many_points_and_wrapped_longitudes():
    rng = np.random.default_rng(5)
    coords = np.column_stack([rng.uniform(-180, 180, 100_000), rng.uniform(-80, 80, 100_000)])
    points = shapely.points(coords)
    index = SpaceTimeIndex()
    index.bulk_load(
        Item(f"s{i}", "red", "protected_site", p) for i, p in enumerate(points.tolist())
    )
    index.bulk_load([Item("wrapped", "red", "protected_site", Point(190, 0))])
    assert len(index) == 100_001
    query = box(10, 10, 15, 15)
    inside = np.flatnonzero(shapely.intersects(query, points))
    assert keys(index.query(query)) == sorted(f"s{i}" for i in inside)
    near = np.flatnonzero(shapely.intersects(box(-171, -1, -169, 1), points))
    assert keys(index.query(box(-171, -1, -169, 1))) == sorted(
        ["wrapped", *(f"s{i}" for i in near)]
    )
