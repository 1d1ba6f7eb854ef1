"""The index's geometry conventions: antimeridian, poles, geodesic areas and distances."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from pyproj import Geod
from shapely.geometry import MultiPolygon, Point, Polygon, box

from parley.deconflict import geodesic_area_km2, geodesic_distances_km, normalize
from parley.forms import area_geometry

GEOD = Geod(ellps="WGS84")
# A 64-point geodesic circle has (64/2π)·sin(2π/64) = 0.9984 of the true circle's area.
CIRCLE = 64 / (2 * math.pi) * math.sin(2 * math.pi / 64)


def circle(lon: float, lat: float, radius_km: float):
    return area_geometry({"type": "Point", "coordinates": [lon, lat], "radius_km": radius_km})


def test_a_geometry_inside_the_range_is_kept_as_it_is():
    shape = box(10, 20, 11, 21)
    assert normalize(shape) is shape
    split = MultiPolygon([box(170, 0, 180, 10), box(-180, 0, -170, 10)])
    assert normalize(split) is split  # already cut at the antimeridian: nothing to do


@pytest.mark.parametrize(
    "shape",
    [
        box(170, 0, 190, 10),  # longitudes beyond 180
        Polygon([(170, 0), (-170, 0), (-170, 10), (170, 10)]),  # edges the short way round
        box(-190, 0, -170, 10),  # beyond -180
    ],
    ids=["beyond-180", "short-way-round", "beyond-minus-180"],
)
def test_a_polygon_across_the_antimeridian_is_cut_into_two_parts(shape):
    result = normalize(shape)
    assert isinstance(result, MultiPolygon)
    assert sorted(part.bounds for part in result.geoms) == [
        (-180.0, 0.0, -170.0, 10.0),
        (170.0, 0.0, 180.0, 10.0),
    ]


def test_a_circle_across_the_antimeridian_keeps_its_geodesic_area():
    shape = normalize(circle(179.8, 10.0, 50))
    assert isinstance(shape, MultiPolygon)
    minx, _, maxx, _ = shape.bounds
    assert (minx, maxx) == (-180.0, 180.0)
    assert geodesic_area_km2(shape) == pytest.approx(math.pi * 50**2 * CIRCLE, rel=2e-3)
    assert shape.contains(Point(-179.9, 10.0))  # 21.9 km from the centre, across 180°
    assert not shape.contains(Point(0, 10.0))


@pytest.mark.parametrize("lat", [89.8, -89.9])
def test_a_circle_around_a_pole_is_closed_over_the_pole(lat):
    shape = normalize(circle(20.0, lat, 50))
    assert shape.is_valid
    pole = 90.0 if lat > 0 else -90.0
    assert shape.intersects(Point(123.0, pole))
    assert geodesic_area_km2(shape) == pytest.approx(math.pi * 50**2 * CIRCLE, rel=5e-3)
    # 25 km beyond the pole on the far side: inside; 80 km: outside.
    for distance_km, inside in ((25.0, True), (80.0, False)):
        lon, lat2, _ = GEOD.fwd(20.0 + 180.0, pole, 0 if pole < 0 else 180, distance_km * 1000)
        assert shape.contains(Point(lon, lat2)) is inside


@pytest.mark.parametrize("lat", [0.0, 60.0, -75.0])
def test_a_50_km_circle_is_50_km_at_every_latitude(lat):
    shape = normalize(circle(30.0, lat, 50))
    assert geodesic_area_km2(shape) == pytest.approx(math.pi * 50**2 * CIRCLE, rel=2e-3)
    for azimuth in (0.0, 90.0, 200.0):
        for distance_km, inside in ((49.0, True), (51.0, False)):
            lon, lat2, _ = GEOD.fwd(30.0, lat, azimuth, distance_km * 1000)
            assert shape.contains(Point(lon, lat2)) is inside


def test_geodesic_area_subtracts_holes_whatever_the_ring_orientation():
    ring = box(0, 0, 1, 1).exterior.coords  # both rings counter-clockwise
    holed = Polygon(ring, [box(0.25, 0.25, 0.75, 0.75).exterior.coords])
    whole, hole = geodesic_area_km2(box(0, 0, 1, 1)), geodesic_area_km2(box(0.25, 0.25, 0.75, 0.75))
    assert geodesic_area_km2(holed) == pytest.approx(whole - hole)
    assert geodesic_area_km2(box(0, 0, 1, 1).reverse()) == pytest.approx(whole)
    assert whole == pytest.approx(12_308.78, rel=1e-4)  # 1°x1° at the equator
    assert geodesic_area_km2(Point(0, 0)) == 0.0


def test_geodesic_distance_between_points_and_across_the_antimeridian():
    others = np.array([Point(0, 1), Point(-179.9, 0), box(2, -1, 3, 1)], dtype=object)
    got = geodesic_distances_km(Point(179.9, 0), others)
    _, _, one_degree = GEOD.inv(179.9, 0, 0, 1)
    assert got[0] == pytest.approx(one_degree / 1000)
    assert got[1] == pytest.approx(22.264, rel=1e-3)  # 0.2° of the equator
    at_60 = geodesic_distances_km(Point(0, 60), np.array([Point(1, 60)], dtype=object))
    assert at_60[0] == pytest.approx(55.8, rel=1e-2)  # a degree of longitude at 60° N
    assert geodesic_distances_km(box(0, 0, 1, 1), np.array([Point(0.5, 0.5)]))[0] == 0.0


def test_bad_geometries_are_refused():
    with pytest.raises(ValueError, match="latitude"):
        normalize(Point(0, 91))
    with pytest.raises(ValueError, match="empty"):
        normalize(Polygon())
    assert normalize(Point(190, 5)).equals(Point(-170, 5))
    assert shapely.get_coordinates(normalize(Point(-540, 5))).tolist() == [[-180.0, 5.0]]
