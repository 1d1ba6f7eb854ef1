"""Valid form data from the scenario (docs: shared/scenario.md), one or more per form.

Each example has the moment it is validated at: notices are checked against ``now``.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

# 2024-11-27: the Russian General Staff gives notice of a naval exercise in the eastern
# Mediterranean, to avoid incidents with US and NATO ships nearby.
NOTICE_NOW = datetime(2024, 11, 27, 9, 0, tzinfo=UTC)
# 2026-02-05: the Abu Dhabi round, the exchange, the restored military dialogue.
ABU_DHABI_NOW = datetime(2026, 2, 5, 14, 0, tzinfo=UTC)

EXERCISE_BOX = {
    "type": "Polygon",
    "coordinates": [[[31.0, 32.5], [35.0, 32.5], [35.0, 35.5], [31.0, 35.5], [31.0, 32.5]]],
}
EVENT_ID = "3f" * 32

MILITARY_ACTIVITY: dict[str, Any] = {
    "activity": "naval_exercise",
    "description": "Naval exercise of the Russian Navy in the eastern Mediterranean; "
    "ships of other navies are asked to keep clear of the area.",
    "area": EXERCISE_BOX,
    "window": {"start": "2024-11-28T06:00:00.000Z", "end": "2024-12-03T18:00:00.000Z"},
    "forces": {"ships": 10, "aircraft": 4, "personnel": 1000},
    "max_altitude": {"value": 8000, "unit": "m"},
}
MISSILE_LAUNCH: dict[str, Any] = {
    "missile_type": "Intermediate-range ballistic missile (test)",
    "launch_area": {"type": "Point", "coordinates": [45.8, 48.6], "radius_km": 10},
    "impact_area": {
        "type": "Polygon",
        "coordinates": [[[70.0, 46.0], [72.0, 46.0], [72.0, 47.0], [70.0, 47.0], [70.0, 46.0]]],
    },
    "window": {"start": "2026-02-07T03:00:00.000Z", "end": "2026-02-07T09:00:00.000Z"},
    "count": 1,
}
DECLARED_PRESENCE: dict[str, Any] = {
    "units": [
        {"kind": "ship", "name": "US Navy destroyer group", "count": 2},
        {"kind": "aircraft", "name": "Maritime patrol aircraft", "count": 1},
    ],
    "area": {"type": "Point", "coordinates": [33.5, 34.2], "radius_km": 40},
    "window": {"start": "2024-11-27T00:00:00.000Z", "end": "2024-12-10T00:00:00.000Z"},
}
PROTECTED_SITE: dict[str, Any] = {
    "site_name": "Kharkiv thermal power plant",
    "category": "power_plant",
    "location": {"type": "Point", "coordinates": [36.23, 49.99], "radius_km": 3},
    "agreement": "Moratorium on strikes on energy infrastructure (2025-03-18, 30 days)",
    "window": {"start": "2025-03-18T00:00:00.000Z", "end": "2025-04-17T00:00:00.000Z"},
}
INCIDENT_REPORT: dict[str, Any] = {
    "kind": "weapons_fire",
    "occurred_at": "2026-02-04T02:30:00.000Z",
    "location": {"type": "Point", "coordinates": [30.52, 50.45], "radius_km": 15},
    "description": "A heat plant in Kyiv was damaged; more than 1,100 buildings are "
    "without heating.",
    "casualties": 0,
}
VIOLATION_ALLEGATION: dict[str, Any] = {
    "agreement": "Moratorium on strikes on energy infrastructure",
    "occurred_at": "2026-02-04T01:00:00.000Z",
    "description": "183 attack drones and 2 ballistic missiles were launched; energy "
    "infrastructure in Kharkiv was damaged.",
    "location": {
        "type": "MultiPolygon",
        "coordinates": [
            [[[36.0, 49.8], [36.5, 49.8], [36.5, 50.2], [36.0, 50.2], [36.0, 49.8]]],
            [[[30.2, 50.3], [30.8, 50.3], [30.8, 50.6], [30.2, 50.6], [30.2, 50.3]]],
        ],
    },
    "evidence": [
        "156 of 183 drones intercepted (air force statement)",
        "photographs of the damaged heat plant",
    ],
}
AGREEMENT_ID = "a1" * 32
ALLEGATION_ID = "b2" * 32
VIOLATION_ALLEGATION_2: dict[str, Any] = {
    "agreement": AGREEMENT_ID,
    "accused": "ru-genstaff",
    "occurred_at": "2026-02-04T01:00:00.000Z",
    "location": {"type": "Point", "coordinates": [36.23, 49.99], "radius_km": 3},
    "description": "Strikes damaged energy infrastructure in Kharkiv.",
    "evidence": [
        {
            "name": "heat-plant.jpg",
            "sha256": "c3" * 32,
            "size": 482113,
            "media_type": "image/jpeg",
        }
    ],
}
ALLEGATION_ANSWER: dict[str, Any] = {
    "allegation": ALLEGATION_ID,
    "answer": "dispute",
    "explanation": "No strike was carried out in that area on that night.",
}
ALLEGATION_FINDING: dict[str, Any] = {
    "allegation": ALLEGATION_ID,
    "finding": "unresolved",
    "reasoning": "The evidence does not show who launched the drones.",
}
REQUEST_FOR_EXPLANATION: dict[str, Any] = {
    "subject": "Exercise area close to declared US presence",
    "questions": [
        "How many ships take part in the exercise?",
        "Will live firing take place, and where?",
    ],
    "regarding": EVENT_ID,
}
REPLY: dict[str, Any] = {
    "in_reply_to": EVENT_ID,
    "answer": "Ten ships take part; no live firing is planned inside the declared area.",
}
EXCHANGE_LIST: dict[str, Any] = {
    "exchange": "Exchange of 157 for 157, mediated by the United Arab Emirates",
    "persons": [
        {
            "name": f"Person {i:03d}",
            "category": "military" if i % 3 else "civilian",
            "id": f"UA-{i:05d}",
        }
        for i in range(1, 158)
    ],
    "handover_place": "Abu Dhabi",
    "handover_at": "2026-02-05T12:00:00.000Z",
}
FREE_TEXT_AR: dict[str, Any] = {
    "text": "نؤكد استلام الإشعار ونقترح اتصالاً في الساعة 14:00 بالتوقيت العالمي.",
    "lang": "ar",
}
FREE_TEXT_UK: dict[str, Any] = {"text": "Підтверджуємо отримання списку.", "lang": "uk"}

# (form id, data, now): every form has at least one.
VALID: list[tuple[str, dict[str, Any], datetime]] = [
    ("military_activity/1", MILITARY_ACTIVITY, NOTICE_NOW),
    (
        "military_activity/1",
        {**MILITARY_ACTIVITY, "area": {"type": "NamedArea", "name": "eastern_mediterranean"}},
        NOTICE_NOW,
    ),
    ("missile_launch/1", MISSILE_LAUNCH, ABU_DHABI_NOW),
    ("declared_presence/1", DECLARED_PRESENCE, NOTICE_NOW),
    ("protected_site/1", PROTECTED_SITE, datetime(2025, 3, 18, 20, 0, tzinfo=UTC)),
    ("incident_report/1", INCIDENT_REPORT, ABU_DHABI_NOW),
    ("violation_allegation/1", VIOLATION_ALLEGATION, ABU_DHABI_NOW),
    ("violation_allegation/2", VIOLATION_ALLEGATION_2, ABU_DHABI_NOW),
    ("allegation_answer/1", ALLEGATION_ANSWER, ABU_DHABI_NOW),
    ("allegation_answer/1", {"allegation": ALLEGATION_ID, "answer": "accept"}, ABU_DHABI_NOW),
    ("allegation_finding/1", ALLEGATION_FINDING, ABU_DHABI_NOW),
    ("request_for_explanation/1", REQUEST_FOR_EXPLANATION, NOTICE_NOW),
    ("reply/1", REPLY, NOTICE_NOW),
    ("exchange_list/1", EXCHANGE_LIST, ABU_DHABI_NOW),
    ("free_text/1", FREE_TEXT_AR, ABU_DHABI_NOW),
    ("free_text/1", FREE_TEXT_UK, ABU_DHABI_NOW),
]


def changed(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``data`` with the dotted ``path`` set to ``value`` (``...`` deletes it)."""
    result = copy.deepcopy(data)
    *parents, last = path.split(".")
    node: Any = result
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    key: Any = int(last) if isinstance(node, list) else last
    if value is ...:
        del node[key]
    else:
        node[key] = value
    return result
