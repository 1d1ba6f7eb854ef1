"""Forms rendered as text in Arabic, English, Russian and Ukrainian (docs/forms.md).

A form's title and its fields' labels come from its ``FormSpec``; each field is written by the
function its ``Value`` maps to, in words from the gettext catalogues and with numbers, times
and places written by ``Formatter`` for the locale. What people wrote (descriptions, names,
questions, answers...) is shown exactly as given: never translated, trimmed or escaped.

``render`` expects data that ``validate_form`` accepted: fields it does not know are not shown.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from babel.lists import format_list

from parley.errors import InvalidInput

from ._format import SUPPORTED_LOCALES, UNITS, Formatter
from ._registry import get_form
from ._spec import N_, FormSpec, Value

__all__ = ["SUPPORTED_LOCALES", "VALUE_WORDS", "render"]

_ACTIVITIES = {
    "naval_exercise": N_("Naval exercise"),
    "air_exercise": N_("Air exercise"),
    "land_exercise": N_("Land exercise"),
    "missile_firing": N_("Missile firing"),
    # TRANSLATORS: a value of a list (activity, site category, incident type): "other"
    "other": N_("Other"),
}
_SITE_CATEGORIES = {
    "refinery": N_("Oil refinery"),
    "pipeline": N_("Pipeline"),
    "power_plant": N_("Power plant"),
    "substation": N_("Electrical substation"),
    "nuclear_plant": N_("Nuclear power plant"),
    "dam": N_("Dam"),
    "hospital": N_("Hospital"),
    "other": N_("Other"),
}
_INCIDENT_KINDS = {
    "unsafe_approach": N_("Unsafe approach"),
    "collision": N_("Collision"),
    "airspace_violation": N_("Airspace violation"),
    "weapons_fire": N_("Weapons fire"),
    "other": N_("Other"),
}
_PERSON_CATEGORIES = {
    # TRANSLATORS: category of a person on an exchange list
    "military": N_("military"),
    # TRANSLATORS: category of a person on an exchange list
    "civilian": N_("civilian"),
}
_ANSWERS = {
    # TRANSLATORS: the accused party's answer to an allegation
    "accept": N_("Accepted"),
    # TRANSLATORS: the accused party's answer to an allegation
    "dispute": N_("Disputed"),
    # TRANSLATORS: the accused party's answer to an allegation: it asks for more information
    "request_information": N_("Information requested"),
}
_FINDINGS = {
    # TRANSLATORS: the finding on an allegation: the agreement was breached
    "found": N_("Violation found"),
    # TRANSLATORS: the finding on an allegation: the agreement was not breached
    "not_found": N_("No violation found"),
    # TRANSLATORS: the finding on an allegation: it could not be decided
    "unresolved": N_("Unresolved"),
}
_FORCES = ("ships", "aircraft", "personnel")
# The words of enumerated values as a notification renders them, for anything else that names
# them (the console's choices): one message id per value, translated once.
VALUE_WORDS = {
    **_ACTIVITIES,
    **_SITE_CATEGORIES,
    **_INCIDENT_KINDS,
    **UNITS,
    **_ANSWERS,
    **_FINDINGS,
}


def render(form_id: str, data: Mapping[str, Any], locale: str) -> str:
    """The form as lines of text in ``locale`` (one of ``SUPPORTED_LOCALES``).

    A title line, then one line per field present: its label and its value. Lists (units,
    persons, questions, evidence) follow their label as numbered, indented lines.
    """
    spec = get_form(form_id)
    if locale not in SUPPORTED_LOCALES:
        raise InvalidInput.for_field(
            "lang", f"cannot render in {locale!r}; supported: {', '.join(SUPPORTED_LOCALES)}"
        )
    text = Formatter(locale)
    return "\n".join(text.line(line) for line in _lines(spec, data, text))


def _lines(spec: FormSpec, data: Mapping[str, Any], text: Formatter) -> list[str]:
    lines = [text.tr.gettext(spec.title)]
    for field in spec.fields:
        value = data.get(field.key)
        if value is None:
            continue
        shown = _SHOWN[field.value](text, value)
        if shown is None:
            continue
        label = text.tr.gettext(field.label)
        if isinstance(shown, str):
            lines.append(f"{label}: {shown}")
        else:
            lines.append(f"{label}:")
            lines.extend(f"  {text.count(n)}. {item}" for n, item in enumerate(shown, 1))
    return lines


def _counted(text: Formatter, kind: str, n: int) -> str:
    tr = text.tr
    match kind:
        case "ship" | "ships":
            message = tr.ngettext("{count} ship", "{count} ships", n)
        case "submarine":
            message = tr.ngettext("{count} submarine", "{count} submarines", n)
        case "aircraft":
            message = tr.ngettext("{count} aircraft", "{count} aircraft", n)
        case "convoy":
            message = tr.ngettext("{count} convoy", "{count} convoys", n)
        case "unit":
            # TRANSLATORS: a military unit (formation), as declared present in an area
            message = tr.ngettext("{count} unit", "{count} units", n)
        case "personnel":
            message = tr.ngettext("{count} service member", "{count} service members", n)
        case "missiles":
            message = tr.ngettext("{count} missile", "{count} missiles", n)
        case "casualties":
            # TRANSLATORS: casualties (killed or wounded) of an incident
            message = tr.ngettext("{count} person", "{count} people", n)
        case _:
            return f"{text.count(n)} {text.ltr(kind)}"
    return message.format(count=text.count(n))


def _forces(text: Formatter, value: Mapping[str, int]) -> str | None:
    parts = [_counted(text, key, value[key]) for key in _FORCES if value.get(key) is not None]
    return format_list(parts, locale=text.locale) if parts else None


def _units(text: Formatter, value: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = []
    for unit in value:
        counted = _counted(text, unit["kind"], unit["count"])
        name = unit.get("name")
        lines.append(f"{counted}: {text.free(name)}" if name is not None else counted)
    return lines


def _persons(text: Formatter, value: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = []
    for person in value:
        name = text.free(person["name"])
        category = text.enum(_PERSON_CATEGORIES, person["category"])
        ident = person.get("id")
        if ident is None:
            lines.append(f"{name} ({category})")
        else:
            lines.append(
                text.tr.gettext("{name} ({category}, ID {id})").format(
                    name=name, category=category, id=text.free(ident)
                )
            )
    return lines


def _evidence(text: Formatter, value: Sequence[Mapping[str, Any]]) -> list[str]:
    """Each file by its name, type, size and the hash that a reader checks it against."""
    lines = []
    for item in value:
        size = text.tr.ngettext("{count} byte", "{count} bytes", item["size"])
        lines.append(
            text.tr.gettext("{name} ({media_type}, {size}, SHA-256 {sha256})").format(
                name=text.free(item["name"]),
                media_type=text.ltr(item["media_type"]),
                size=size.format(count=text.count(item["size"])),
                sha256=text.ltr(item["sha256"]),
            )
        )
    return lines


# What a field's value is shown as: one line of text, numbered lines, or nothing.
_Shown = str | list[str] | None

_SHOWN: Final[Mapping[Value, Callable[[Formatter, Any], _Shown]]] = {
    Value.FREE: Formatter.free,
    Value.FREE_LIST: lambda text, value: [text.free(item) for item in value],
    Value.IDENT: Formatter.ltr,
    Value.YES_NO: Formatter.yes_no,
    Value.LANGUAGE: Formatter.language,
    Value.ACTIVITY: lambda text, value: text.enum(_ACTIVITIES, value),
    Value.SITE_CATEGORY: lambda text, value: text.enum(_SITE_CATEGORIES, value),
    Value.INCIDENT_KIND: lambda text, value: text.enum(_INCIDENT_KINDS, value),
    Value.QUANTITY: Formatter.quantity,
    Value.MISSILES: lambda text, n: _counted(text, "missiles", n),
    Value.CASUALTIES: lambda text, n: _counted(text, "casualties", n),
    Value.FORCES: _forces,
    Value.UNITS: _units,
    Value.PERSONS: _persons,
    Value.MOMENT: Formatter.moment,
    Value.INTERVAL: Formatter.interval,
    Value.AREA: Formatter.area,
    Value.EVIDENCE: _evidence,
    Value.ANSWER: lambda text, value: text.enum(_ANSWERS, value),
    Value.FINDING: lambda text, value: text.enum(_FINDINGS, value),
}
