"""area_geometry and the gazetteer: named areas, geodesic circles, GeoJSON shapes."""

from __future__ import annotations

import json
from importlib import resources

import pytest
import shapely
from pyproj import Geod
from shapely.geometry import MultiPolygon, Polygon

from parley.errors import InvalidInput
from parley.forms import GAZETTEER, GazetteerArea, area_geometry

from .examples import DECLARED_PRESENCE, EXERCISE_BOX, VIOLATION_ALLEGATION

REQUIRED_AREAS = {
    "eastern_mediterranean",
    "black_sea",
    "sea_of_azov",
    "baltic_sea",
    "persian_gulf",
    "red_sea",
}
GEOD = Geod(ellps="WGS84")


def test_gazetteer_has_the_required_areas_with_labels_in_four_locales():
    assert set(GAZETTEER) >= REQUIRED_AREAS
    for name, area in GAZETTEER.items():
        assert isinstance(area, GazetteerArea)
        assert area.name == name
        assert set(area.labels) == {"ar", "en", "ru", "uk"}
        assert all(label.strip() for label in area.labels.values())
    assert GAZETTEER["eastern_mediterranean"].labels["en"] == "Eastern Mediterranean"


def test_gazetteer_says_its_outlines_are_approximate():
    raw = json.loads(resources.files("parley.forms").joinpath("gazetteer.json").read_text("utf-8"))
    assert "approximate" in raw["about"].lower()


@pytest.mark.parametrize("name", sorted(REQUIRED_AREAS))
def test_every_named_area_is_a_valid_closed_polygon(name):
    geometry = GAZETTEER[name].geometry
    assert geometry["type"] == "Polygon"
    for ring in geometry["coordinates"]:
        assert ring[0] == ring[-1]
        assert len(ring) >= 4
    shape = area_geometry({"type": "NamedArea", "name": name})
    assert isinstance(shape, Polygon)
    assert shapely.is_valid(shape)


def test_eastern_mediterranean_is_the_scenario_box():
    shape = area_geometry({"type": "NamedArea", "name": "eastern_mediterranean"})
    assert shape.bounds == (31.0, 32.5, 35.0, 35.5)
    assert shape.equals(area_geometry(EXERCISE_BOX))


def test_point_with_radius_becomes_a_geodesic_circle_of_64_points():
    circle = area_geometry({"type": "Point", "coordinates": [33.5, 34.2], "radius_km": 40})
    assert isinstance(circle, Polygon)
    assert shapely.is_valid(circle)
    ring = list(circle.exterior.coords)
    assert len(ring) == 65  # 64 points and the closing one
    for lon, lat in ring:
        _, _, metres = GEOD.inv(33.5, 34.2, lon, lat)
        assert metres == pytest.approx(40_000, rel=1e-9)
    assert circle.exterior.is_ccw


def test_a_large_circle_keeps_its_geodesic_radius():
    circle = area_geometry({"type": "Point", "coordinates": [0, 60], "radius_km": 1000})
    area_m2, _ = GEOD.geometry_area_perimeter(circle)
    # A circle's area on the ellipsoid at this size is within a few % of pi r^2.
    assert abs(area_m2) == pytest.approx(3.1416e12, rel=0.03)


def test_polygon_and_multipolygon_are_taken_as_they_are():
    polygon = area_geometry(EXERCISE_BOX)
    assert isinstance(polygon, Polygon)
    assert polygon.bounds == (31.0, 32.5, 35.0, 35.5)
    multi = area_geometry(VIOLATION_ALLEGATION["location"])
    assert isinstance(multi, MultiPolygon)
    assert len(multi.geoms) == 2


def test_declared_us_presence_lies_inside_the_exercise_box():
    presence = area_geometry(DECLARED_PRESENCE["area"])
    exercise = area_geometry({"type": "NamedArea", "name": "eastern_mediterranean"})
    assert exercise.contains(presence)


def test_unknown_named_area_is_invalid_input():
    with pytest.raises(InvalidInput) as caught:
        area_geometry({"type": "NamedArea", "name": "atlantis"})
    assert caught.value.errors[0].field == "area.name"


def test_unknown_area_type_is_invalid_input():
    with pytest.raises(InvalidInput) as caught:
        area_geometry({"type": "LineString", "coordinates": [[0, 0], [1, 1]]})
    assert caught.value.errors[0].field == "area.type"
