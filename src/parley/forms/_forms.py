"""The forms Parley knows, each declared once, as in docs/forms.md."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from ._spec import N_, Field, FormKind, FormSpec, Value

__all__ = ["FORMS"]

_H = timedelta(hours=1)
_PERIOD = Field("window", N_("Period"), Value.INTERVAL)
_DESCRIPTION = Field("description", N_("Description"), Value.FREE)
_AGREEMENT = Field("agreement", N_("Agreement"), Value.FREE)
_OCCURRED_AT = Field("occurred_at", N_("Occurred at"), Value.MOMENT)
_LOCATION = Field("location", N_("Location"), Value.AREA)
_ALLEGATION = Field("allegation", N_("Allegation"), Value.IDENT)

FORMS: Final[tuple[FormSpec, ...]] = (
    FormSpec(
        "military_activity",
        1,
        FormKind.NOTIFICATION,
        N_("Notice of military activity"),
        (
            Field("activity", N_("Activity"), Value.ACTIVITY),
            _DESCRIPTION,
            Field("area", N_("Area"), Value.AREA, item="activity"),
            _PERIOD,
            Field("forces", N_("Forces"), Value.FORCES),
            Field("max_altitude", N_("Maximum altitude"), Value.QUANTITY),
        ),
        ack_deadline=24 * _H,
        prior_notice=True,
    ),
    FormSpec(
        "missile_launch",
        1,
        FormKind.NOTIFICATION,
        N_("Notice of missile launch"),
        (
            Field("missile_type", N_("Missile type"), Value.FREE),
            Field("launch_area", N_("Launch area"), Value.AREA, item="launch"),
            Field("impact_area", N_("Impact area"), Value.AREA, item="launch"),
            _PERIOD,
            # TRANSLATORS: label of the number of missiles to be launched
            Field("count", N_("Count"), Value.MISSILES),
            Field("late", N_("Late notice"), Value.YES_NO),
            Field("late_reason", N_("Reason for late notice"), Value.FREE),
        ),
        ack_deadline=24 * _H,
        min_lead=24 * _H,
        prior_notice=True,
    ),
    FormSpec(
        "declared_presence",
        1,
        FormKind.NOTIFICATION,
        N_("Declaration of presence"),
        (
            # TRANSLATORS: label of a list of ships, submarines, aircraft, convoys and units
            Field("units", N_("Units"), Value.UNITS),
            Field("area", N_("Area"), Value.AREA, item="presence"),
            _PERIOD,
        ),
    ),
    FormSpec(
        "protected_site",
        1,
        FormKind.NOTIFICATION,
        N_("Notice of protected site"),
        (
            Field("site_name", N_("Site name"), Value.FREE),
            Field("category", N_("Category"), Value.SITE_CATEGORY),
            Field("location", N_("Location"), Value.AREA, item="protected_site"),
            _AGREEMENT,
            _PERIOD,
        ),
    ),
    FormSpec(
        "incident_report",
        1,
        FormKind.NOTIFICATION,
        N_("Incident report"),
        (
            Field("kind", N_("Type of incident"), Value.INCIDENT_KIND),
            _OCCURRED_AT,
            _LOCATION,
            _DESCRIPTION,
            Field("casualties", N_("Casualties"), Value.CASUALTIES),
        ),
        ack_deadline=1 * _H,
    ),
    FormSpec(
        "violation_allegation",
        1,
        FormKind.NOTIFICATION,
        N_("Allegation of violation"),
        (
            _AGREEMENT,
            _OCCURRED_AT,
            _DESCRIPTION,
            _LOCATION,
            Field("evidence", N_("Evidence"), Value.FREE_LIST),
        ),
        ack_deadline=24 * _H,
    ),
    # The accused answers by the channel's deadline for allegation_answer (72 h by default):
    # that clock is the allegation's, kept by services/_allegations.py, not its ack's.
    FormSpec(
        "violation_allegation",
        2,
        FormKind.NOTIFICATION,
        N_("Allegation of violation"),
        (
            Field("agreement", N_("Agreement"), Value.IDENT),
            # TRANSLATORS: label of the party said to have breached an agreement
            Field("accused", N_("Accused party"), Value.IDENT),
            _OCCURRED_AT,
            _LOCATION,
            _DESCRIPTION,
            Field("evidence", N_("Evidence"), Value.EVIDENCE),
        ),
        ack_deadline=24 * _H,
    ),
    FormSpec(
        "allegation_answer",
        1,
        FormKind.NOTIFICATION,
        N_("Answer to an allegation"),
        (
            _ALLEGATION,
            # TRANSLATORS: label of what the accused party answers to an allegation
            Field("answer", N_("Response"), Value.ANSWER),
            Field("explanation", N_("Explanation"), Value.FREE),
        ),
        ack_by_precedence=True,
    ),
    FormSpec(
        "allegation_finding",
        1,
        FormKind.NOTIFICATION,
        N_("Finding on an allegation"),
        (
            _ALLEGATION,
            Field("finding", N_("Finding"), Value.FINDING),
            Field("reasoning", N_("Reasoning"), Value.FREE),
        ),
        ack_by_precedence=True,
    ),
    FormSpec(
        "request_for_explanation",
        1,
        FormKind.REQUEST,
        N_("Request for explanation"),
        (
            Field("subject", N_("Subject"), Value.FREE),
            Field("questions", N_("Questions"), Value.FREE_LIST),
            Field("regarding", N_("Regarding event"), Value.IDENT),
        ),
        ack_deadline=48 * _H,
    ),
    FormSpec(
        "reply",
        1,
        FormKind.REPLY,
        N_("Reply"),
        (
            Field("in_reply_to", N_("In reply to"), Value.IDENT),
            # TRANSLATORS: label of the text of a reply
            Field("answer", N_("Answer"), Value.FREE),
        ),
        ack_by_precedence=True,
    ),
    FormSpec(
        "exchange_list",
        1,
        FormKind.NOTIFICATION,
        N_("Exchange list"),
        (
            # TRANSLATORS: label of the name of an exchange (of prisoners, of remains...)
            Field("exchange", N_("Exchange"), Value.FREE),
            Field("persons", N_("Persons"), Value.PERSONS),
            Field("handover_place", N_("Place of handover"), Value.FREE),
            Field("handover_at", N_("Time of handover"), Value.MOMENT),
        ),
        ack_deadline=72 * _H,
    ),
    FormSpec(
        "free_text",
        1,
        FormKind.NOTIFICATION,
        N_("Message"),
        (
            Field("text", N_("Text"), Value.FREE),
            Field("lang", N_("Language"), Value.LANGUAGE),
        ),
        ack_by_precedence=True,
    ),
)
