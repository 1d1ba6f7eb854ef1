"""validate_form: every form accepts the scenario's data; every rule refuses with a field path."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from parley.errors import InvalidInput
from parley.forms import CheckedForm, get_form, validate_form

from .examples import (
    ABU_DHABI_NOW,
    ALLEGATION_FINDING,
    DECLARED_PRESENCE,
    EXCHANGE_LIST,
    EXERCISE_BOX,
    FREE_TEXT_AR,
    INCIDENT_REPORT,
    MILITARY_ACTIVITY,
    MISSILE_LAUNCH,
    NOTICE_NOW,
    PROTECTED_SITE,
    REPLY,
    REQUEST_FOR_EXPLANATION,
    VALID,
    VIOLATION_ALLEGATION,
    VIOLATION_ALLEGATION_2,
    changed,
)


def refusal(form_id: str, data: Any, now: datetime = NOTICE_NOW) -> list[tuple[str, str]]:
    with pytest.raises(InvalidInput) as caught:
        validate_form(form_id, data, now=now)
    assert caught.value.errors, "an InvalidInput from validate_form names its fields"
    return [(e.field, e.message) for e in caught.value.errors]


@pytest.mark.parametrize(
    ("form_id", "data", "now"), VALID, ids=[f"{f}-{i}" for i, (f, _, _) in enumerate(VALID)]
)
def test_scenario_examples_are_valid_and_returned_unchanged(form_id, data, now):
    checked = validate_form(form_id, data, now=now)
    assert isinstance(checked, CheckedForm)
    assert checked.spec == get_form(form_id)
    assert checked.data == data
    assert checked.data is not data
    assert checked.late is False
    assert json.loads(json.dumps(checked.data)) == data


def test_every_form_has_a_valid_example():
    from parley.forms import list_forms

    assert {spec.id for spec in list_forms()} == {form_id for form_id, _, _ in VALID}


def test_the_157_for_157_exchange_list_is_valid():
    checked = validate_form("exchange_list/1", EXCHANGE_LIST, now=ABU_DHABI_NOW)
    assert len(checked.data["persons"]) == 157


# --- one refusal per rule, each with its exact field path --------------------------------

LONG = "x" * 501
SELF_INTERSECTING = {
    "type": "Polygon",
    "coordinates": [[[31.0, 32.5], [35.0, 35.5], [35.0, 32.5], [31.0, 35.5], [31.0, 32.5]]],
}
UNCLOSED = {
    "type": "Polygon",
    "coordinates": [[[31.0, 32.5], [35.0, 32.5], [35.0, 35.5], [31.0, 35.5]]],
}
TOO_FEW = {"type": "Polygon", "coordinates": [[[31.0, 32.5], [35.0, 32.5], [31.0, 32.5]]]}
BAD_LAT = {
    "type": "Polygon",
    "coordinates": [[[31.0, 32.5], [35.0, 32.5], [35.0, 95.5], [31.0, 35.5], [31.0, 32.5]]],
}
BAD_LON = {"type": "Point", "coordinates": [181.0, 34.0], "radius_km": 5}
OVERLAPPING = {
    "type": "MultiPolygon",
    "coordinates": [
        EXERCISE_BOX["coordinates"],
        [[[32.0, 33.0], [36.0, 33.0], [36.0, 36.0], [32.0, 36.0], [32.0, 33.0]]],
    ],
}


def many_vertices(n: int) -> dict[str, Any]:
    """A valid (convex) ring of n positions around (33, 34)."""
    import math

    ring = [
        [33 + math.cos(2 * math.pi * i / (n - 1)), 34 + math.sin(2 * math.pi * i / (n - 1))]
        for i in range(n - 1)
    ]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


MA = "military_activity/1"
ML = "missile_launch/1"
LAUNCH_SOON = {"start": "2026-02-06T10:00:00.000Z", "end": "2026-02-06T12:00:00.000Z"}

RULES: list[tuple[str, str, dict[str, Any], datetime, str, str]] = [
    # (case, form, data, now, field, message)
    (
        "missing field",
        MA,
        changed(MILITARY_ACTIVITY, "window", ...),
        NOTICE_NOW,
        "data.window",
        "is required",
    ),
    (
        "missing nested field",
        MA,
        changed(MILITARY_ACTIVITY, "window.end", ...),
        NOTICE_NOW,
        "data.window.end",
        "is required",
    ),
    (
        "wrong enum",
        MA,
        changed(MILITARY_ACTIVITY, "activity", "naval"),
        NOTICE_NOW,
        "data.activity",
        "is not one of naval_exercise, air_exercise, land_exercise, missile_firing, other",
    ),
    (
        "too-long text",
        MA,
        changed(MILITARY_ACTIVITY, "description", LONG),
        NOTICE_NOW,
        "data.description",
        "must be at most 500 characters",
    ),
    (
        "empty text",
        MA,
        changed(MILITARY_ACTIVITY, "description", ""),
        NOTICE_NOW,
        "data.description",
        "must not be empty",
    ),
    (
        "blank text",
        MA,
        changed(MILITARY_ACTIVITY, "description", "  \n "),
        NOTICE_NOW,
        "data.description",
        "must be plain text: not blank, without control or bidi override characters",
    ),
    (
        "bidi override in text",
        MA,
        changed(MILITARY_ACTIVITY, "description", "a\u202eb"),
        NOTICE_NOW,
        "data.description",
        "must be plain text: not blank, without control or bidi override characters",
    ),
    (
        "extra field",
        MA,
        changed(MILITARY_ACTIVITY, "extra", 1),
        NOTICE_NOW,
        "data.extra",
        "is an unknown field",
    ),
    (
        "extra field in an area",
        MA,
        changed(MILITARY_ACTIVITY, "area.bbox", [31, 32, 35, 35]),
        NOTICE_NOW,
        "data.area.bbox",
        "is an unknown field",
    ),
    (
        "wrong type",
        MA,
        changed(MILITARY_ACTIVITY, "forces.ships", "ten"),
        NOTICE_NOW,
        "data.forces.ships",
        "must be a whole number",
    ),
    (
        "negative count",
        MA,
        changed(MILITARY_ACTIVITY, "forces.ships", -1),
        NOTICE_NOW,
        "data.forces.ships",
        "must be at least 0",
    ),
    (
        "not an object",
        MA,
        changed(MILITARY_ACTIVITY, "area", "the sea"),
        NOTICE_NOW,
        "data.area",
        "must be an object",
    ),
    (
        "unknown area type",
        MA,
        changed(MILITARY_ACTIVITY, "area", {"type": "LineString"}),
        NOTICE_NOW,
        "data.area.type",
        "is not one of Polygon, MultiPolygon, Point, NamedArea",
    ),
    (
        "self-intersecting polygon",
        MA,
        changed(MILITARY_ACTIVITY, "area", SELF_INTERSECTING),
        NOTICE_NOW,
        "data.area.coordinates",
        "is not a valid polygon: Self-intersection[33 34]",
    ),
    (
        "overlapping multipolygon",
        ML,
        changed(MISSILE_LAUNCH, "impact_area", OVERLAPPING),
        ABU_DHABI_NOW,
        "data.impact_area.coordinates",
        "is not a valid multipolygon: Self-intersection[35 33]",
    ),
    (
        "unclosed ring",
        MA,
        changed(MILITARY_ACTIVITY, "area", UNCLOSED),
        NOTICE_NOW,
        "data.area.coordinates.0",
        "is not closed: the last position must equal the first",
    ),
    (
        "ring of three positions",
        MA,
        changed(MILITARY_ACTIVITY, "area", TOO_FEW),
        NOTICE_NOW,
        "data.area.coordinates.0",
        "a ring needs at least 4 positions, the last equal to the first; it has 3",
    ),
    (
        "out-of-range lat",
        MA,
        changed(MILITARY_ACTIVITY, "area", BAD_LAT),
        NOTICE_NOW,
        "data.area.coordinates.0.2.1",
        "must be a latitude between -90 and 90",
    ),
    (
        "out-of-range lon",
        MA,
        changed(MILITARY_ACTIVITY, "area", BAD_LON),
        NOTICE_NOW,
        "data.area.coordinates.0",
        "must be a longitude between -180 and 180",
    ),
    (
        "position with altitude",
        MA,
        changed(
            MILITARY_ACTIVITY, "area", {"type": "Point", "coordinates": [33, 34, 0], "radius_km": 5}
        ),
        NOTICE_NOW,
        "data.area.coordinates",
        "must have at most 2 items",
    ),
    (
        "more than 10,000 vertices",
        MA,
        changed(MILITARY_ACTIVITY, "area", many_vertices(10_001)),
        NOTICE_NOW,
        "data.area.coordinates",
        "has 10,001 positions; the limit is 10,000",
    ),
    (
        "zero radius",
        MA,
        changed(
            MILITARY_ACTIVITY, "area", {"type": "Point", "coordinates": [33, 34], "radius_km": 0}
        ),
        NOTICE_NOW,
        "data.area.radius_km",
        "must be greater than 0",
    ),
    (
        "radius over 5,000 km",
        MA,
        changed(
            MILITARY_ACTIVITY,
            "area",
            {"type": "Point", "coordinates": [33, 34], "radius_km": 5000.5},
        ),
        NOTICE_NOW,
        "data.area.radius_km",
        "must be at most 5000",
    ),
    (
        "point without radius",
        MA,
        changed(MILITARY_ACTIVITY, "area", {"type": "Point", "coordinates": [33, 34]}),
        NOTICE_NOW,
        "data.area.radius_km",
        "is required",
    ),
    (
        "infinite number",
        MA,
        changed(
            MILITARY_ACTIVITY,
            "area",
            {"type": "Point", "coordinates": [33, 34], "radius_km": float("inf")},
        ),
        NOTICE_NOW,
        "data.area.radius_km",
        "must be a finite number",
    ),
    (
        "unknown named area",
        MA,
        changed(MILITARY_ACTIVITY, "area", {"type": "NamedArea", "name": "north_sea"}),
        NOTICE_NOW,
        "data.area.name",
        "is not a known area; known areas: baltic_sea, black_sea, "
        "eastern_mediterranean, persian_gulf, red_sea, sea_of_azov",
    ),
    (
        "end before start",
        MA,
        changed(MILITARY_ACTIVITY, "window.end", "2024-11-28T05:59:59.999Z"),
        NOTICE_NOW,
        "data.window.end",
        "must be after start",
    ),
    (
        "end equal to start",
        MA,
        changed(MILITARY_ACTIVITY, "window.end", "2024-11-28T06:00:00.000Z"),
        NOTICE_NOW,
        "data.window.end",
        "must be after start",
    ),
    (
        "timestamp without Z",
        MA,
        changed(MILITARY_ACTIVITY, "window.start", "2024-11-28T06:00:00+00:00"),
        NOTICE_NOW,
        "data.window.start",
        "must be a UTC timestamp like 2026-02-05T14:02:11.123Z",
    ),
    (
        "impossible date",
        "incident_report/1",
        changed(INCIDENT_REPORT, "occurred_at", "2026-02-30T02:30:00.000Z"),
        ABU_DHABI_NOW,
        "data.occurred_at",
        "is not a valid date and time",
    ),
    (
        "start in the past",
        MA,
        MILITARY_ACTIVITY,
        datetime(2024, 11, 28, 6, 0, 1, tzinfo=UTC),
        "data.window.start",
        "must not be in the past (now is 2024-11-28T06:00:01.000Z)",
    ),
    (
        "launch start in the past even if late",
        ML,
        changed(MISSILE_LAUNCH, "late", True) | {"late_reason": "x"},
        datetime(2026, 2, 7, 3, 0, 1, tzinfo=UTC),
        "data.window.start",
        "must not be in the past (now is 2026-02-07T03:00:01.000Z)",
    ),
    (
        "launch < 24 h without late",
        ML,
        changed(MISSILE_LAUNCH, "window", LAUNCH_SOON),
        ABU_DHABI_NOW,
        "data.window.start",
        "must be at least 24 h after now (2026-02-05T14:00:00.000Z); a later notice needs "
        "late: true and a late_reason",
    ),
    (
        "launch < 24 h with late false",
        ML,
        changed(MISSILE_LAUNCH, "window", LAUNCH_SOON) | {"late": False},
        ABU_DHABI_NOW,
        "data.window.start",
        "must be at least 24 h after now (2026-02-05T14:00:00.000Z); a later notice needs "
        "late: true and a late_reason",
    ),
    (
        "late without reason",
        ML,
        changed(MISSILE_LAUNCH, "window", LAUNCH_SOON) | {"late": True},
        ABU_DHABI_NOW,
        "data.late_reason",
        "is required",
    ),
    (
        "late with a blank reason",
        ML,
        changed(MISSILE_LAUNCH, "window", LAUNCH_SOON) | {"late": True, "late_reason": " "},
        ABU_DHABI_NOW,
        "data.late_reason",
        "must be plain text: not blank, without control or bidi override characters",
    ),
    (
        "missing unit",
        MA,
        changed(MILITARY_ACTIVITY, "max_altitude.unit", ...),
        NOTICE_NOW,
        "data.max_altitude.unit",
        "is required",
    ),
    (
        "unit not a length",
        MA,
        changed(MILITARY_ACTIVITY, "max_altitude.unit", "kt"),
        NOTICE_NOW,
        "data.max_altitude.unit",
        "is not one of m, ft, km",
    ),
    (
        "missile type too long",
        ML,
        changed(MISSILE_LAUNCH, "missile_type", "x" * 101),
        ABU_DHABI_NOW,
        "data.missile_type",
        "must be at most 100 characters",
    ),
    (
        "zero missiles",
        ML,
        changed(MISSILE_LAUNCH, "count", 0),
        ABU_DHABI_NOW,
        "data.count",
        "must be at least 1",
    ),
    (
        "no units",
        "declared_presence/1",
        changed(DECLARED_PRESENCE, "units", []),
        NOTICE_NOW,
        "data.units",
        "must have at least 1 item",
    ),
    (
        "unit count zero",
        "declared_presence/1",
        changed(DECLARED_PRESENCE, "units.0.count", 0),
        NOTICE_NOW,
        "data.units.0.count",
        "must be at least 1",
    ),
    (
        "unit of unknown kind",
        "declared_presence/1",
        changed(DECLARED_PRESENCE, "units.1.kind", "drone"),
        NOTICE_NOW,
        "data.units.1.kind",
        "is not one of ship, submarine, aircraft, convoy, unit",
    ),
    (
        "unknown field in a unit",
        "declared_presence/1",
        changed(DECLARED_PRESENCE, "units.0.flag", "US"),
        NOTICE_NOW,
        "data.units.0.flag",
        "is an unknown field",
    ),
    (
        "site category unknown",
        "protected_site/1",
        changed(PROTECTED_SITE, "category", "bridge"),
        NOTICE_NOW,
        "data.category",
        "is not one of refinery, pipeline, power_plant, substation, nuclear_plant, dam, "
        "hospital, other",
    ),
    (
        "site name too long",
        "protected_site/1",
        changed(PROTECTED_SITE, "site_name", "x" * 201),
        NOTICE_NOW,
        "data.site_name",
        "must be at most 200 characters",
    ),
    (
        "incident without location",
        "incident_report/1",
        changed(INCIDENT_REPORT, "location", ...),
        ABU_DHABI_NOW,
        "data.location",
        "is required",
    ),
    (
        "incident description too long",
        "incident_report/1",
        changed(INCIDENT_REPORT, "description", "x" * 2001),
        ABU_DHABI_NOW,
        "data.description",
        "must be at most 2000 characters",
    ),
    (
        "too much evidence",
        "violation_allegation/1",
        changed(VIOLATION_ALLEGATION, "evidence", ["e"] * 21),
        ABU_DHABI_NOW,
        "data.evidence",
        "must have at most 20 items",
    ),
    (
        "too many questions",
        "request_for_explanation/1",
        changed(REQUEST_FOR_EXPLANATION, "questions", ["Why?"] * 11),
        NOTICE_NOW,
        "data.questions",
        "must have at most 10 items",
    ),
    (
        "question too long",
        "request_for_explanation/1",
        changed(REQUEST_FOR_EXPLANATION, "questions.1", "x" * 1001),
        NOTICE_NOW,
        "data.questions.1",
        "must be at most 1000 characters",
    ),
    (
        "bad event id",
        "reply/1",
        changed(REPLY, "in_reply_to", "E" * 64),
        NOTICE_NOW,
        "data.in_reply_to",
        "must be an event id (64 lower-case hex digits)",
    ),
    (
        "answer too long",
        "reply/1",
        changed(REPLY, "answer", "x" * 4001),
        NOTICE_NOW,
        "data.answer",
        "must be at most 4000 characters",
    ),
    (
        "more than 1,000 persons",
        "exchange_list/1",
        changed(EXCHANGE_LIST, "persons", EXCHANGE_LIST["persons"] * 7),
        ABU_DHABI_NOW,
        "data.persons",
        "must have at most 1000 items",
    ),
    (
        "person of unknown category",
        "exchange_list/1",
        changed(EXCHANGE_LIST, "persons.156.category", "prisoner"),
        ABU_DHABI_NOW,
        "data.persons.156.category",
        "is not one of military, civilian",
    ),
    (
        "free text over 16 KiB of UTF-8",
        "free_text/1",
        changed(FREE_TEXT_AR, "text", "ب" * 8193),
        ABU_DHABI_NOW,
        "data.text",
        "is 16,386 bytes of UTF-8; the limit is 16,384",
    ),
    (
        "free text language not BCP 47",
        "free_text/1",
        changed(FREE_TEXT_AR, "lang", "Arabic language"),
        ABU_DHABI_NOW,
        "data.lang",
        "must be a BCP 47 language tag such as 'ar' or 'en-US'",
    ),
    (
        "evidence named by an upper-case hash",
        "violation_allegation/2",
        changed(VIOLATION_ALLEGATION_2, "evidence.0.sha256", "C3" * 32),
        ABU_DHABI_NOW,
        "data.evidence.0.sha256",
        "must be a SHA-256 digest (64 lower-case hex digits)",
    ),
    (
        "a dispute without explanation",
        "allegation_answer/1",
        {"allegation": "b2" * 32, "answer": "dispute"},
        ABU_DHABI_NOW,
        "data.explanation",
        "is required",
    ),
    (
        "finding not of the list",
        "allegation_finding/1",
        changed(ALLEGATION_FINDING, "finding", "guilty"),
        ABU_DHABI_NOW,
        "data.finding",
        "is not one of found, not_found, unresolved",
    ),
    (
        "free text language unknown",
        "free_text/1",
        changed(FREE_TEXT_AR, "lang", "zz"),
        ABU_DHABI_NOW,
        "data.lang",
        "unknown language tag 'zz'",
    ),
]


@pytest.mark.parametrize(
    ("form_id", "data", "now", "field", "message"),
    [r[1:] for r in RULES],
    ids=[r[0] for r in RULES],
)
def test_each_rule_refuses_with_its_field_path_and_message(form_id, data, now, field, message):
    assert refusal(form_id, data, now) == [(field, message)]


def test_every_form_has_a_refusal_case():
    from parley.forms import list_forms

    assert {spec.id for spec in list_forms()} <= {r[1] for r in RULES}


def test_data_that_is_not_an_object_is_refused_at_data():
    assert refusal(MA, ["not", "a", "form"]) == [("data", "must be an object")]


def test_all_problems_are_reported_together_in_path_order():
    data = changed(MILITARY_ACTIVITY, "activity", "naval")
    data = changed(data, "description", LONG)
    data = changed(data, "extra", True)
    data = changed(data, "forces.tanks", 3)
    assert [field for field, _ in refusal(MA, data)] == [
        "data.activity",
        "data.description",
        "data.extra",
        "data.forces.tanks",
    ]


def test_several_missing_fields_each_get_an_error():
    assert refusal(MA, {}) == [
        ("data.activity", "is required"),
        ("data.area", "is required"),
        ("data.description", "is required"),
        ("data.window", "is required"),
    ]


def test_time_and_geometry_problems_are_reported_together():
    data = changed(MILITARY_ACTIVITY, "area", SELF_INTERSECTING)
    data = changed(data, "window.end", data["window"]["start"])
    assert [field for field, _ in refusal(MA, data)] == ["data.area.coordinates", "data.window.end"]


def test_invalid_input_detail_names_the_form_and_the_fields():
    with pytest.raises(InvalidInput) as caught:
        validate_form(MA, changed(MILITARY_ACTIVITY, "window", ...), now=NOTICE_NOW)
    assert caught.value.detail == "military_activity/1 is not valid: data.window: is required"
    assert caught.value.status == 422


def test_position_errors_are_capped_for_a_ring_full_of_bad_positions():
    ring = [[200.0, 0.0]] * 50
    area = {"type": "Polygon", "coordinates": [ring]}
    errors = refusal(MA, changed(MILITARY_ACTIVITY, "area", area))
    assert 1 <= len(errors) <= 10


def test_a_polygon_with_a_hole_is_valid():
    hole = [[32.0, 33.0], [32.0, 34.0], [33.0, 34.0], [33.0, 33.0], [32.0, 33.0]]
    area = {"type": "Polygon", "coordinates": [EXERCISE_BOX["coordinates"][0], hole]}
    validate_form(MA, changed(MILITARY_ACTIVITY, "area", area), now=NOTICE_NOW)


def test_a_hole_outside_its_shell_is_refused():
    hole = [[40.0, 33.0], [40.0, 34.0], [41.0, 34.0], [41.0, 33.0], [40.0, 33.0]]
    area = {"type": "Polygon", "coordinates": [EXERCISE_BOX["coordinates"][0], hole]}
    [(field, message)] = refusal(MA, changed(MILITARY_ACTIVITY, "area", area))
    assert field == "data.area.coordinates"
    assert message.startswith("is not a valid polygon: Hole lies outside shell")


def test_exactly_10000_positions_is_accepted():
    validate_form(MA, changed(MILITARY_ACTIVITY, "area", many_vertices(10_000)), now=NOTICE_NOW)


def test_military_activity_starting_now_is_accepted():
    now = datetime(2024, 11, 28, 6, 0, tzinfo=UTC)
    assert validate_form(MA, MILITARY_ACTIVITY, now=now).late is False


def test_launch_exactly_24_h_ahead_is_on_time():
    now = datetime(2026, 2, 6, 3, 0, tzinfo=UTC)
    assert validate_form(ML, MISSILE_LAUNCH, now=now).late is False


def test_launch_less_than_24_h_ahead_with_late_and_reason_is_accepted_as_late():
    data = changed(MISSILE_LAUNCH, "window", LAUNCH_SOON) | {
        "late": True,
        "late_reason": "The test was moved forward by a technical decision.",
    }
    checked = validate_form(ML, data, now=ABU_DHABI_NOW)
    assert checked.late is True
    assert checked.data == data


def test_launch_declared_late_but_sent_in_time_is_not_late():
    data = MISSILE_LAUNCH | {"late": True, "late_reason": "Precaution."}
    assert validate_form(ML, data, now=ABU_DHABI_NOW).late is False


def test_late_true_without_reason_is_refused_even_when_in_time():
    assert refusal(ML, MISSILE_LAUNCH | {"late": True}, ABU_DHABI_NOW) == [
        ("data.late_reason", "is required")
    ]


def test_late_is_not_a_field_of_other_notices():
    assert refusal(MA, MILITARY_ACTIVITY | {"late": True}) == [("data.late", "is an unknown field")]


def test_forms_without_notice_rule_accept_past_windows():
    validate_form("declared_presence/1", DECLARED_PRESENCE, now=ABU_DHABI_NOW)
    validate_form("protected_site/1", PROTECTED_SITE, now=ABU_DHABI_NOW)


def test_unknown_form_is_refused_on_the_form_field():
    with pytest.raises(InvalidInput) as caught:
        validate_form("military_activity/9", MILITARY_ACTIVITY, now=NOTICE_NOW)
    [error] = caught.value.errors
    assert error.field == "form"
    assert "military_activity/1" in error.message
    assert "free_text/1" in error.message


def test_now_must_be_aware():
    with pytest.raises(ValueError, match="aware"):
        validate_form(MA, MILITARY_ACTIVITY, now=datetime(2024, 11, 27, 9, 0))


def test_the_input_is_not_modified_and_the_result_is_a_copy():
    data = changed(MILITARY_ACTIVITY, "forces.ships", 10)
    snapshot = json.dumps(data, sort_keys=True)
    checked = validate_form(MA, data, now=NOTICE_NOW)
    checked.data["forces"]["ships"] = 99
    assert json.dumps(data, sort_keys=True) == snapshot


def test_whole_window_checks_use_the_given_now_not_the_wall_clock():
    later = NOTICE_NOW + timedelta(days=3650)
    with pytest.raises(InvalidInput):
        validate_form(MA, MILITARY_ACTIVITY, now=later)
