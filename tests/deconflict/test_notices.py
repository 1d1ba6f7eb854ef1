"""Items of notifications and imported sites: kinds, keys, windows and shapes."""

from __future__ import annotations

from typing import get_args

import numpy as np
import pytest
import shapely
from hypothesis import given
from hypothesis import strategies as st

from parley.clock import parse_ts, to_ms
from parley.deconflict import KINDS, NOTICE_FORMS, notice_items, notices_items, site_items
from parley.forms import ItemKind, area_geometry, get_form, list_forms
from tests.forms.examples import VALID
from tests.services.test_notify import EXERCISE, LAUNCH

E = "e" * 64


def test_an_activity_is_one_item_keyed_by_its_event_for_its_window():
    [item] = notice_items(E, "ru-genstaff", "military_activity/1", EXERCISE)
    assert (item.key, item.party, item.kind) == (E, "ru-genstaff", "activity")
    assert item.start_ms == to_ms(parse_ts(EXERCISE["window"]["start"]))
    assert item.end_ms == to_ms(parse_ts(EXERCISE["window"]["end"]))
    assert item.geometry.bounds == (31.0, 32.5, 35.0, 35.5)


def test_a_launch_is_two_items_one_per_area():
    launch, impact = notice_items(E, "ru-genstaff", "missile_launch/1", LAUNCH)
    assert (launch.key, impact.key) == (f"{E}#launch_area", f"{E}#impact_area")
    assert {launch.kind, impact.kind} == {"launch"}
    assert impact.geometry.bounds == (60.0, 47.0, 62.0, 48.0)


def test_a_protected_site_without_a_window_is_open_ended_and_other_forms_have_no_item():
    site = {
        "site_name": "Dam",
        "category": "dam",
        "location": {"type": "Point", "coordinates": [33.4, 47.9], "radius_km": 2},
    }
    [item] = notice_items(E, "us-eucom", "protected_site/1", site)
    assert (item.kind, item.start_ms, item.end_ms) == ("protected_site", None, None)
    assert notice_items(E, "us-eucom", "free_text/1", {"text": "x", "lang": "en"}) == []


def test_imported_sites_are_their_points_or_their_polygons():
    square = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}
    point, polygon = site_items(
        [
            ("site:us-eucom:1", "us-eucom", 30.5, 50.4, None, 1, 2),
            ("site:us-eucom:2", "us-eucom", 0.5, 0.5, square, None, None),
        ]
    )
    assert (point.key, point.kind, point.party) == ("site:us-eucom:1", "protected_site", "us-eucom")
    assert (point.geometry.x, point.geometry.y, point.start_ms, point.end_ms) == (30.5, 50.4, 1, 2)
    assert polygon.geometry.area == 1.0
    assert site_items([]) == []


def presence(area: dict) -> dict:
    return {"units": [{"kind": "ship", "count": 1}], "area": area, "window": EXERCISE["window"]}


def same_shape(made, area: dict) -> bool:
    """Exactly the shape the forms make of the area: the same coordinates, in order."""
    return np.array_equal(
        shapely.get_coordinates(made), shapely.get_coordinates(area_geometry(area))
    )


@given(lon=st.floats(-180, 180), lat=st.floats(-89.99, 89.99), radius_km=st.floats(0.01, 3000))
def test_a_circle_made_vectorised_is_the_forms_own_circle(lon, lat, radius_km):
    area = {"type": "Point", "coordinates": [lon, lat], "radius_km": radius_km}
    [item] = notice_items(E, "us-eucom", "declared_presence/1", presence(area))
    assert same_shape(item.geometry, area)


def test_many_notices_are_made_at_once_each_with_its_own_items_in_order():
    circle = {"type": "Point", "coordinates": [179.9, 60.0], "radius_km": 40}
    notices = [
        (E, "ru-genstaff", "missile_launch/1", LAUNCH),
        ("a" * 64, "us-eucom", "free_text/1", {"text": "x", "lang": "en"}),
        ("b" * 64, "us-eucom", "declared_presence/1", presence(circle)),
        ("c" * 64, "ru-genstaff", "military_activity/1", EXERCISE),
    ]

    launch, text, declared, activity = notices_items(notices)

    assert [i.key for i in launch] == [f"{E}#launch_area", f"{E}#impact_area"]
    assert same_shape(launch[0].geometry, LAUNCH["launch_area"])
    assert same_shape(launch[1].geometry, LAUNCH["impact_area"])
    assert text == []
    assert [(i.key, i.party, i.kind) for i in declared] == [("b" * 64, "us-eucom", "presence")]
    assert same_shape(declared[0].geometry, circle)
    assert same_shape(activity[0].geometry, EXERCISE["area"])
    assert notices_items([]) == []


def test_the_areas_indexed_are_those_the_forms_specs_declare():
    assert {s.id: s.indexed_areas for s in list_forms() if s.indexed_areas} == NOTICE_FORMS
    assert set(get_args(ItemKind)) == set(KINDS)


@pytest.mark.parametrize(("form_id", "data"), [(form_id, data) for form_id, data, _ in VALID])
def test_each_form_gives_one_item_per_area_its_spec_indexes(form_id, data):
    areas = get_form(form_id).indexed_areas
    items = notice_items(E, "us-eucom", form_id, data)
    keys = [E] if len(areas) == 1 else [f"{E}#{field}" for field, _ in areas]
    assert [(i.key, i.kind) for i in items] == list(zip(keys, [k for _, k in areas], strict=True))
    for item, (field, _) in zip(items, areas, strict=True):
        assert same_shape(item.geometry, data[field])
