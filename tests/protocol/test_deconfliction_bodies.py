"""Bodies of cancellation, amendment and deconfliction events: each bad field is named."""

from __future__ import annotations

import pytest

from parley.errors import ParleyError
from parley.protocol import validate_body

A, B = "a" * 64, "b" * 64
SIDE_A = {"key": A, "event": A, "party": "ru-genstaff", "kind": "activity"}
SIDE_B = {"key": f"{B}#impact_area", "event": B, "party": "us-eucom", "kind": "launch"}
SITE = {
    "key": "site:us-eucom:17",
    "party": "us-eucom",
    "kind": "protected_site",
    "site": {"name": "Dam", "category": "dam", "coordinates": [33.4, 47.9]},
}
ALERT = {
    "a": SIDE_A,
    "b": SIDE_B,
    "area_km2": 120.5,
    "distance_km": 0.0,
    "window": {"start": "2026-02-06T06:00:00.000Z", "end": None},
    "severity": "medium",
}
NOTIFICATION: dict[str, object] = {
    "form": "military_activity/1",
    "data": {},
    "precedence": "routine",
    "by": "duty1",
    "released_by": None,
    "deadline": None,
    "late": False,
}


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("cancellation", {"event": A, "reason": "called off", "by": "duty1"}),
        ("notification", {**NOTIFICATION, "supersedes": A}),
        ("deconfliction_alert", ALERT),
        ("deconfliction_alert", {**ALERT, "b": SITE}),
        ("deconfliction_alert", {**ALERT, "summary": {"total": 70, "alerted": 50}}),
        ("deconfliction_withdrawn", {"alert": A, "a": A, "b": B, "reason": "cancelled: x"}),
    ],
)
def test_valid_bodies_pass(kind: str, body: dict[str, object]) -> None:
    validate_body(kind, body)


@pytest.mark.parametrize(
    ("kind", "body", "field"),
    [
        ("cancellation", {"event": "x", "reason": "r", "by": "duty1"}, "body.event"),
        ("cancellation", {"event": A, "reason": " ", "by": "duty1"}, "body.reason"),
        ("cancellation", {"event": A, "by": "duty1"}, "body.reason"),
        ("notification", {**NOTIFICATION, "supersedes": "latest"}, "body.supersedes"),
        ("deconfliction_alert", {**ALERT, "a": SIDE_B, "b": SIDE_A}, "body.b.key"),
        ("deconfliction_alert", {**ALERT, "a": {**SIDE_A, "kind": "fleet"}}, "body.a.kind"),
        ("deconfliction_alert", {**ALERT, "a": {**SIDE_A, "party": "US"}}, "body.a.party"),
        ("deconfliction_alert", {**ALERT, "a": {**SIDE_A, "extra": 1}}, "body.a.extra"),
        ("deconfliction_alert", {**ALERT, "area_km2": -1}, "body.area_km2"),
        ("deconfliction_alert", {**ALERT, "distance_km": True}, "body.distance_km"),
        (
            "deconfliction_alert",
            {**ALERT, "window": {"start": "soon", "end": None}},
            "body.window.start",
        ),
        ("deconfliction_alert", {**ALERT, "severity": "grave"}, "body.severity"),
        ("deconfliction_alert", {**ALERT, "severity": ["high"]}, "body.severity"),
        ("deconfliction_alert", {**ALERT, "a": {**SIDE_A, "kind": {}}}, "body.a.kind"),
        ("deconfliction_withdrawn", {"alert": A, "a": B, "b": A, "reason": "x"}, "body.b"),
        ("deconfliction_withdrawn", {"alert": "1", "a": A, "b": B, "reason": "x"}, "body.alert"),
    ],
)
def test_bad_bodies_name_the_field(kind: str, body: dict[str, object], field: str) -> None:
    with pytest.raises(ParleyError) as caught:
        validate_body(kind, body)
    assert caught.value.errors[0].field == field
