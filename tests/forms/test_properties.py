"""Property: generated valid forms validate and survive a JSON round trip unchanged."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from parley.clock import format_ts
from parley.errors import InvalidInput
from parley.forms import area_geometry, validate_form
from parley.protocol import plain_text_error

NOW = datetime(2026, 2, 5, 14, 0, tzinfo=UTC)
# Plain text: letters, digits, punctuation and spaces of any script; never blank.
TEXT_CHARS = st.characters(categories=("L", "N", "P", "Zs"))


def plain_text(max_size: int) -> st.SearchStrategy[str]:
    return st.text(TEXT_CHARS, min_size=1, max_size=max_size).filter(lambda s: s.strip() != "")


@st.composite
def boxes(draw: st.DrawFn) -> dict[str, Any]:
    # Milli-degrees keep the corners exact in JSON and the box never degenerate.
    west = draw(st.integers(-180_000, 179_000))
    south = draw(st.integers(-90_000, 89_000))
    east = draw(st.integers(west + 1, min(west + 40_000, 180_000))) / 1000
    north = draw(st.integers(south + 1, min(south + 40_000, 90_000))) / 1000
    w, s = west / 1000, south / 1000
    return {
        "type": "Polygon",
        "coordinates": [[[w, s], [east, s], [east, north], [w, north], [w, s]]],
    }


@st.composite
def circles(draw: st.DrawFn) -> dict[str, Any]:
    lon = draw(st.floats(-170, 170, allow_nan=False))
    lat = draw(st.floats(-60, 60, allow_nan=False))
    radius = draw(st.floats(0.001, 500, allow_nan=False))
    return {"type": "Point", "coordinates": [lon, lat], "radius_km": radius}


areas = st.one_of(
    boxes(),
    circles(),
    st.builds(
        lambda name: {"type": "NamedArea", "name": name},
        st.sampled_from(["eastern_mediterranean", "black_sea", "baltic_sea", "red_sea"]),
    ),
)


@st.composite
def windows(draw: st.DrawFn, *, lead: timedelta = timedelta(0)) -> dict[str, str]:
    start = NOW + lead + timedelta(milliseconds=draw(st.integers(0, 10**10)))
    end = start + timedelta(milliseconds=draw(st.integers(1, 10**10)))
    return {"start": format_ts(start), "end": format_ts(end)}


@st.composite
def military_activities(draw: st.DrawFn) -> dict[str, Any]:
    data: dict[str, Any] = {
        "activity": draw(
            st.sampled_from(
                ["naval_exercise", "air_exercise", "land_exercise", "missile_firing", "other"]
            )
        ),
        "description": draw(plain_text(500)),
        "area": draw(areas),
        "window": draw(windows()),
    }
    if draw(st.booleans()):
        data["forces"] = draw(
            st.fixed_dictionaries(
                {}, optional={k: st.integers(0, 10**7) for k in ("ships", "aircraft", "personnel")}
            ).filter(bool)
        )
    if draw(st.booleans()):
        data["max_altitude"] = {
            "value": draw(st.floats(0, 30_000, allow_nan=False)),
            "unit": draw(st.sampled_from(["m", "ft", "km"])),
        }
    return data


@st.composite
def missile_launches(draw: st.DrawFn) -> dict[str, Any]:
    late = draw(st.booleans())
    data: dict[str, Any] = {
        "missile_type": draw(plain_text(100)),
        "launch_area": draw(areas),
        "impact_area": draw(areas),
        "window": draw(windows(lead=timedelta(0) if late else timedelta(hours=24))),
        "count": draw(st.integers(1, 100)),
    }
    if late:
        data |= {"late": True, "late_reason": draw(plain_text(500))}
    return data


def round_trips(form_id: str, data: dict[str, Any]) -> bool:
    checked = validate_form(form_id, data, now=NOW)
    wire = json.loads(json.dumps(checked.data))
    assert wire == data
    assert validate_form(form_id, wire, now=NOW).data == data
    return checked.late


@settings(max_examples=60, deadline=None)
@given(military_activities())
def test_generated_military_activities_validate_and_round_trip(data):
    assert round_trips("military_activity/1", data) is False
    assert not area_geometry(data["area"]).is_empty


@settings(max_examples=60, deadline=None)
@given(missile_launches())
def test_generated_missile_launches_validate_and_are_late_only_when_early(data):
    late = round_trips("missile_launch/1", data)
    starts_soon = data["window"]["start"] < format_ts(NOW + timedelta(hours=24))
    assert late is (data.get("late", False) and starts_soon)


@settings(max_examples=40, deadline=None)
@given(
    st.fixed_dictionaries(
        {"text": plain_text(2000), "lang": st.sampled_from(["ar", "en", "ru", "uk", "en-US"])}
    )
)
def test_generated_free_text_validates_and_round_trips(data):
    assert round_trips("free_text/1", data) is False


# Any character, and those the text rule is about: controls, bidi, a lone surrogate, blanks.
ANY_CHARS = st.one_of(
    st.characters(max_codepoint=0x2100),
    st.sampled_from(["\x00", "\x1b", "\x7f", "\u202a", "\u202e", "\u2066", "\u2069", "\ud800"]),
    st.sampled_from([" ", "\n", "\t", "\u200f"]),
)


@given(st.text(ANY_CHARS, max_size=12))
def test_a_forms_text_and_a_messages_text_follow_one_rule(text: str) -> None:
    try:
        validate_form("free_text/1", {"text": text, "lang": "en"}, now=NOW)
    except InvalidInput as error:
        refused = "data.text" in [e.field for e in error.errors]
    else:
        refused = False
    assert refused == (plain_text_error(text) is not None)
