"""Forms rendered as text in Arabic, English, Russian and Ukrainian (docs/forms.md).

Every word Parley writes comes from the gettext catalogues in ``locale/`` (domain ``parley``,
managed with Babel: ``make i18n``); dates, times, numbers and lists are formatted by Babel for
the locale, always in UTC. What people wrote (descriptions, names, questions, answers...) is
shown exactly as given: never translated, trimmed or escaped.

``render`` expects data that ``validate_form`` accepted: fields it does not know are not shown.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_interval, format_skeleton, get_datetime_format
from babel.lists import format_list
from babel.numbers import format_decimal
from babel.support import Translations

from parley.clock import parse_ts
from parley.errors import InvalidInput

__all__ = ["SUPPORTED_LOCALES", "render"]

SUPPORTED_LOCALES = ("ar", "en", "ru", "uk")
RIGHT_TO_LEFT = frozenset({"ar"})
DOMAIN = "parley"
LOCALE_DIR = Path(__file__).with_name("locale")
GAZETTEER_FILE = Path(__file__).with_name("gazetteer.json")

# Unicode directional isolates (UAX #9). An Arabic rendering is right-to-left, but it embeds
# left-to-right runs: Latin digits (Babel's ``ar`` writes 0-9), coordinates, ids, and free text
# in any script. Left alone, the bidi algorithm lets such runs interact with their neighbours:
# a minus sign, a degree sign, a colon or a parenthesis next to a number can jump to the wrong
# side, and two adjacent numbers can swap places. So, for Arabic only:
# - each line is wrapped in RLI ... PDI: a right-to-left isolate that neither affects nor is
#   affected by whatever the text is later placed in (a log, an LTR web page, a mail);
# - numbers, coordinates and ids are wrapped in LRI ... PDI (always left-to-right);
# - free text is wrapped in FSI ... PDI (direction from its own first strong letter), so an
#   English or Russian description reads left-to-right inside an Arabic line. The text itself
#   is never touched; form validation refuses bidi control characters inside it. A line break
#   inside free text ends the paragraph and with it the open isolates (rule BD8); the next
#   paragraph then takes its direction from its own first letter, which is what its author
#   wrote.
# A viewer that picks a paragraph's direction from its first strong letter skips isolates
# (rule P2), so it shows these lines right-to-left but aligned as its default: set the
# direction from the locale (``dir="rtl"``) where alignment matters.
# English, Russian and Ukrainian renderings carry no control characters at all.
LRI = "\u2066"
RLI = "\u2067"
FSI = "\u2068"
PDI = "\u2069"


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated where it is used."""
    return message


# How a field's value is shown: the name of a _Text method taking (value) -> str | list[str].
_Field = tuple[str, str, str]

_FORMS: dict[str, tuple[str, tuple[_Field, ...]]] = {
    "military_activity/1": (
        N_("Notice of military activity"),
        (
            ("activity", N_("Activity"), "activity"),
            ("description", N_("Description"), "free"),
            ("area", N_("Area"), "area"),
            ("window", N_("Period"), "interval"),
            ("forces", N_("Forces"), "forces"),
            ("max_altitude", N_("Maximum altitude"), "quantity"),
        ),
    ),
    "missile_launch/1": (
        N_("Notice of missile launch"),
        (
            ("missile_type", N_("Missile type"), "free"),
            ("launch_area", N_("Launch area"), "area"),
            ("impact_area", N_("Impact area"), "area"),
            ("window", N_("Period"), "interval"),
            # TRANSLATORS: label of the number of missiles to be launched
            ("count", N_("Count"), "missiles"),
            ("late", N_("Late notice"), "yes_no"),
            ("late_reason", N_("Reason for late notice"), "free"),
        ),
    ),
    "declared_presence/1": (
        N_("Declaration of presence"),
        (
            # TRANSLATORS: label of a list of ships, submarines, aircraft, convoys and units
            ("units", N_("Units"), "units"),
            ("area", N_("Area"), "area"),
            ("window", N_("Period"), "interval"),
        ),
    ),
    "protected_site/1": (
        N_("Notice of protected site"),
        (
            ("site_name", N_("Site name"), "free"),
            ("category", N_("Category"), "site_category"),
            ("location", N_("Location"), "area"),
            ("agreement", N_("Agreement"), "free"),
            ("window", N_("Period"), "interval"),
        ),
    ),
    "incident_report/1": (
        N_("Incident report"),
        (
            ("kind", N_("Type of incident"), "incident_kind"),
            ("occurred_at", N_("Occurred at"), "moment"),
            ("location", N_("Location"), "area"),
            ("description", N_("Description"), "free"),
            ("casualties", N_("Casualties"), "casualties"),
        ),
    ),
    "violation_allegation/1": (
        N_("Allegation of violation"),
        (
            ("agreement", N_("Agreement"), "free"),
            ("occurred_at", N_("Occurred at"), "moment"),
            ("description", N_("Description"), "free"),
            ("location", N_("Location"), "area"),
            ("evidence", N_("Evidence"), "free_list"),
        ),
    ),
    "request_for_explanation/1": (
        N_("Request for explanation"),
        (
            ("subject", N_("Subject"), "free"),
            ("questions", N_("Questions"), "free_list"),
            ("regarding", N_("Regarding event"), "ident"),
        ),
    ),
    "reply/1": (
        N_("Reply"),
        (
            ("in_reply_to", N_("In reply to"), "ident"),
            # TRANSLATORS: label of the text of a reply
            ("answer", N_("Answer"), "free"),
        ),
    ),
    "exchange_list/1": (
        N_("Exchange list"),
        (
            # TRANSLATORS: label of the name of an exchange (of prisoners, of remains...)
            ("exchange", N_("Exchange"), "free"),
            ("persons", N_("Persons"), "persons"),
            ("handover_place", N_("Place of handover"), "free"),
            ("handover_at", N_("Time of handover"), "moment"),
        ),
    ),
    "free_text/1": (
        N_("Message"),
        (
            ("text", N_("Text"), "free"),
            ("lang", N_("Language"), "language"),
        ),
    ),
}

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
# Unit symbols do not change with the number before them (12.5 km, 1 km), so no plurals.
_UNITS = {
    # TRANSLATORS: symbol of the kilometre
    "km": N_("km"),
    # TRANSLATORS: symbol of the nautical mile (1,852 m)
    "nm": N_("NM"),
    # TRANSLATORS: symbol of the metre
    "m": N_("m"),
    # TRANSLATORS: symbol of the foot (0.3048 m)
    "ft": N_("ft"),
    # TRANSLATORS: symbol of the knot (nautical miles per hour)
    "kt": N_("kt"),
    # TRANSLATORS: symbol of kilometres per hour
    "km_h": N_("km/h"),
}
_FORCES = ("ships", "aircraft", "personnel")


def render(form_id: str, data: Mapping[str, Any], locale: str) -> str:
    """The form as lines of text in ``locale`` (one of ``SUPPORTED_LOCALES``).

    A title line, then one line per field present: its label and its value. Lists (units,
    persons, questions, evidence) follow their label as numbered, indented lines.
    """
    form = _FORMS.get(form_id)
    if form is None:
        raise InvalidInput.for_field("form", f"unknown form {form_id!r}")
    if locale not in SUPPORTED_LOCALES:
        raise InvalidInput.for_field(
            "lang", f"cannot render in {locale!r}; supported: {', '.join(SUPPORTED_LOCALES)}"
        )
    return _Text(locale).form(*form, data)


@functools.lru_cache(maxsize=len(SUPPORTED_LOCALES))
def _translations(locale: str) -> Translations:
    loaded = Translations.load(str(LOCALE_DIR), [locale], domain=DOMAIN)
    if not isinstance(loaded, Translations):  # a NullTranslations: no .mo file found
        raise RuntimeError(f"no compiled {DOMAIN!r} catalogue for {locale!r} in {LOCALE_DIR}")
    return loaded


@functools.lru_cache(maxsize=1)
def _area_labels() -> dict[str, dict[str, str]]:
    """Named area -> locale -> label, from the gazetteer if there is one."""
    try:
        raw = json.loads(GAZETTEER_FILE.read_text("utf-8"))
    except FileNotFoundError:
        return {}
    areas = raw.get("areas") if isinstance(raw, dict) else None
    if not isinstance(areas, dict):
        return {}
    labels: dict[str, dict[str, str]] = {}
    for name, entry in areas.items():
        found = entry.get("labels") if isinstance(entry, dict) else None
        if isinstance(found, dict):
            labels[str(name)] = {str(k): str(v) for k, v in found.items() if isinstance(v, str)}
    return labels


class _Text:
    """The rendering of one form in one locale."""

    def __init__(self, locale: str) -> None:
        self.locale = locale
        self.rtl = locale in RIGHT_TO_LEFT
        self.tr = _translations(locale)
        self._babel = Locale.parse(locale)

    def form(self, title: str, fields: Sequence[_Field], data: Mapping[str, Any]) -> str:
        lines = [self.tr.gettext(title)]
        for key, label, how in fields:
            value = data.get(key)
            if value is None:
                continue
            shown: str | list[str] | None = getattr(self, f"_{how}")(value)
            if shown is None:
                continue
            if isinstance(shown, str):
                lines.append(f"{self.tr.gettext(label)}: {shown}")
            else:
                lines.append(f"{self.tr.gettext(label)}:")
                lines.extend(f"  {self._count(n)}. {item}" for n, item in enumerate(shown, 1))
        if self.rtl:
            lines = [f"{RLI}{line}{PDI}" for line in lines]
        return "\n".join(lines)

    # -- isolation and numbers ------------------------------------------------------------------
    def _ltr(self, text: str) -> str:
        return f"{LRI}{text}{PDI}" if self.rtl else text

    def _free(self, text: str) -> str:
        return f"{FSI}{text}{PDI}" if self.rtl else text

    def _count(self, value: int) -> str:
        return self._ltr(format_decimal(value, locale=self.locale))

    def _number(self, value: float) -> str:
        # Every digit given is shown: no rounding to Babel's default three decimals.
        return self._ltr(format_decimal(value, locale=self.locale, decimal_quantization=False))

    def _degrees(self, value: float) -> str:
        digits = format_decimal(
            abs(value), format="0.###", locale=self.locale, decimal_quantization=False
        )
        return self._ltr(f"{digits}°")

    # -- plain values ---------------------------------------------------------------------------
    def _ident(self, value: str) -> str:
        return self._ltr(value)

    def _yes_no(self, value: bool) -> str:
        return self.tr.gettext("yes") if value else self.tr.gettext("no")

    def _enum(self, table: Mapping[str, str], value: str) -> str:
        msgid = table.get(value)
        return self.tr.gettext(msgid) if msgid is not None else self._ltr(value)

    def _activity(self, value: str) -> str:
        return self._enum(_ACTIVITIES, value)

    def _site_category(self, value: str) -> str:
        return self._enum(_SITE_CATEGORIES, value)

    def _incident_kind(self, value: str) -> str:
        return self._enum(_INCIDENT_KINDS, value)

    def _language(self, tag: str) -> str:
        try:
            name = Locale.parse(tag, sep="-").get_display_name(self.locale)
        except (UnknownLocaleError, ValueError):
            name = None
        return f"{name} ({self._ltr(tag)})" if name else self._ltr(tag)

    def _quantity(self, value: Mapping[str, Any]) -> str:
        unit = value["unit"]
        return f"{self._number(value['value'])} {self._enum(_UNITS, unit)}"

    # -- counted things -------------------------------------------------------------------------
    def _counted(self, kind: str, n: int) -> str:
        tr = self.tr
        match kind:
            case "ship" | "ships":
                text = tr.ngettext("{count} ship", "{count} ships", n)
            case "submarine":
                text = tr.ngettext("{count} submarine", "{count} submarines", n)
            case "aircraft":
                text = tr.ngettext("{count} aircraft", "{count} aircraft", n)
            case "convoy":
                text = tr.ngettext("{count} convoy", "{count} convoys", n)
            case "unit":
                # TRANSLATORS: a military unit (formation), as declared present in an area
                text = tr.ngettext("{count} unit", "{count} units", n)
            case "personnel":
                text = tr.ngettext("{count} service member", "{count} service members", n)
            case "missiles":
                text = tr.ngettext("{count} missile", "{count} missiles", n)
            case "casualties":
                # TRANSLATORS: casualties (killed or wounded) of an incident
                text = tr.ngettext("{count} person", "{count} people", n)
            case _:
                return f"{self._count(n)} {self._ltr(kind)}"
        return text.format(count=self._count(n))

    def _missiles(self, n: int) -> str:
        return self._counted("missiles", n)

    def _casualties(self, n: int) -> str:
        return self._counted("casualties", n)

    def _forces(self, value: Mapping[str, int]) -> str | None:
        parts = [self._counted(key, value[key]) for key in _FORCES if value.get(key) is not None]
        return format_list(parts, locale=self.locale) if parts else None

    def _units(self, value: Sequence[Mapping[str, Any]]) -> list[str]:
        lines = []
        for unit in value:
            counted = self._counted(unit["kind"], unit["count"])
            name = unit.get("name")
            lines.append(f"{counted}: {self._free(name)}" if name is not None else counted)
        return lines

    def _persons(self, value: Sequence[Mapping[str, Any]]) -> list[str]:
        lines = []
        for person in value:
            name = self._free(person["name"])
            category = self._enum(_PERSON_CATEGORIES, person["category"])
            ident = person.get("id")
            if ident is None:
                lines.append(f"{name} ({category})")
            else:
                lines.append(
                    self.tr.gettext("{name} ({category}, ID {id})").format(
                        name=name, category=category, id=self._free(ident)
                    )
                )
        return lines

    def _free_list(self, value: Sequence[str]) -> list[str]:
        return [self._free(item) for item in value]

    # -- time -----------------------------------------------------------------------------------
    def _utc(self, text: str) -> str:
        # TRANSLATORS: a date and time, or a period, in Coordinated Universal Time
        return self.tr.gettext("{time} UTC").format(time=text)

    def _moment(self, value: str) -> str:
        moment = parse_ts(value)
        return self._utc(self._date_time(moment, self._time_skeleton(moment)))

    def _interval(self, value: Mapping[str, str]) -> str:
        start, end = parse_ts(value["start"]), parse_ts(value["end"])
        skeleton = self._time_skeleton(start, end)
        if start.date() == end.date():
            if skeleton == "Hm":
                times = format_interval(start.time(), end.time(), "Hm", locale=self.locale)
            else:
                times = self._span(self._time(start, skeleton), self._time(end, skeleton))
            text = self._join_date_time(self._date(start), times)
        else:
            text = self._span(self._date_time(start, skeleton), self._date_time(end, skeleton))
        return self._utc(text)

    @staticmethod
    def _time_skeleton(*moments: datetime) -> str:
        # Seconds only when given; milliseconds are below what a notice is about.
        return "Hms" if any(m.second or m.microsecond for m in moments) else "Hm"

    def _date(self, moment: datetime) -> str:
        return format_skeleton("yMMMd", moment, tzinfo=UTC, locale=self.locale)

    def _time(self, moment: datetime, skeleton: str) -> str:
        return format_skeleton(skeleton, moment, tzinfo=UTC, locale=self.locale)

    def _date_time(self, moment: datetime, skeleton: str) -> str:
        return self._join_date_time(self._date(moment), self._time(moment, skeleton))

    def _join_date_time(self, date: str, time: str) -> str:
        pattern = str(get_datetime_format("medium", locale=self.locale)).replace("'", "")
        return pattern.replace("{0}", time).replace("{1}", date)

    def _span(self, start: str, end: str) -> str:
        pattern: str = self._babel.interval_formats[None]
        return pattern.replace("{0}", start).replace("{1}", end)

    # -- places ---------------------------------------------------------------------------------
    def _position(self, lon: float, lat: float) -> str:
        return self.tr.gettext("{latitude}, {longitude}").format(
            latitude=self._latitude(lat), longitude=self._longitude(lon)
        )

    def _latitude(self, lat: float) -> str:
        if lat < 0:
            return self.tr.gettext("{degrees} S").format(degrees=self._degrees(lat))
        return self.tr.gettext("{degrees} N").format(degrees=self._degrees(lat))

    def _longitude(self, lon: float) -> str:
        if lon < 0:
            return self.tr.gettext("{degrees} W").format(degrees=self._degrees(lon))
        return self.tr.gettext("{degrees} E").format(degrees=self._degrees(lon))

    def _area(self, area: Mapping[str, Any]) -> str:
        kind = area.get("type")
        if kind == "NamedArea":
            name = str(area["name"])
            label = _area_labels().get(name, {}).get(self.locale)
            if label:
                return self.tr.gettext("{label} (gazetteer: {name})").format(
                    label=label, name=self._ltr(name)
                )
            return self.tr.gettext("gazetteer area {name}").format(name=self._ltr(name))
        if kind == "Point":
            lon, lat = area["coordinates"][:2]
            position = self._position(lon, lat)
            radius = area.get("radius_km")
            if radius is None:
                return self.tr.gettext("point {position}").format(position=position)
            return self.tr.gettext("circle of radius {radius} around {position}").format(
                radius=self._quantity({"value": radius, "unit": "km"}), position=position
            )
        if kind == "Polygon":
            return self._polygons([area["coordinates"]], multi=False)
        if kind == "MultiPolygon":
            return self._polygons(list(area["coordinates"]), multi=True)
        return self._ltr(str(kind))

    def _polygons(
        self, polygons: Sequence[Sequence[Sequence[Sequence[float]]]], *, multi: bool
    ) -> str:
        """A polygon or multipolygon by its number of vertices and its bounding box."""
        rings = [ring for polygon in polygons for ring in polygon]
        # A closed ring repeats its first position at the end; that is not another vertex.
        vertices = sum(len(r) - 1 if len(r) > 1 and r[0] == r[-1] else len(r) for r in rings)
        outline = [position for polygon in polygons for position in polygon[0]]
        lons = [position[0] for position in outline]
        lats = [position[1] for position in outline]
        tr = self.tr
        bounds = tr.gettext("latitude {south} to {north}, longitude {west} to {east}").format(
            south=self._latitude(min(lats)),
            north=self._latitude(max(lats)),
            west=self._longitude(min(lons)),
            east=self._longitude(max(lons)),
        )
        counted = tr.ngettext("{count} vertex", "{count} vertices", vertices).format(
            count=self._count(vertices)
        )
        if not multi:
            return tr.gettext("polygon ({vertices}), {bounds}").format(
                vertices=counted, bounds=bounds
            )
        parts = tr.ngettext("{count} polygon", "{count} polygons", len(polygons)).format(
            count=self._count(len(polygons))
        )
        return tr.gettext("{polygons} ({vertices}), {bounds}").format(
            polygons=parts, vertices=counted, bounds=bounds
        )
