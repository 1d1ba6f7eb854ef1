"""Numbers, times, quantities and places as a locale writes them, for the rendered forms.

Every word comes from the gettext catalogues in ``locale/`` (domain ``parley``, managed with
Babel: ``make i18n``); dates, times, numbers and lists are formatted by Babel for the locale,
always in UTC.
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
from babel.numbers import format_decimal
from babel.support import Translations

from parley.clock import parse_ts

from ._spec import N_

__all__ = ["SUPPORTED_LOCALES", "Formatter"]

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

# Unit symbols do not change with the number before them (12.5 km, 1 km), so no plurals.
UNITS = {
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


@functools.lru_cache(maxsize=len(SUPPORTED_LOCALES))
def translations(locale: str) -> Translations:
    loaded = Translations.load(str(LOCALE_DIR), [locale], domain=DOMAIN)
    if not isinstance(loaded, Translations):  # a NullTranslations: no .mo file found
        raise RuntimeError(f"no compiled {DOMAIN!r} catalogue for {locale!r} in {LOCALE_DIR}")
    return loaded


@functools.lru_cache(maxsize=1)
def area_labels() -> dict[str, dict[str, str]]:
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


class Formatter:
    """Values written in one locale (one of ``SUPPORTED_LOCALES``)."""

    def __init__(self, locale: str) -> None:
        self.locale = locale
        self.rtl = locale in RIGHT_TO_LEFT
        self.tr = translations(locale)
        self._babel = Locale.parse(locale)

    # -- isolation and numbers ------------------------------------------------------------------
    def line(self, text: str) -> str:
        return f"{RLI}{text}{PDI}" if self.rtl else text

    def ltr(self, text: str) -> str:
        return f"{LRI}{text}{PDI}" if self.rtl else text

    def free(self, text: str) -> str:
        return f"{FSI}{text}{PDI}" if self.rtl else text

    def count(self, value: int) -> str:
        return self.ltr(format_decimal(value, locale=self.locale))

    def number(self, value: float) -> str:
        # Every digit given is shown: no rounding to Babel's default three decimals.
        return self.ltr(format_decimal(value, locale=self.locale, decimal_quantization=False))

    def degrees(self, value: float) -> str:
        digits = format_decimal(
            abs(value), format="0.###", locale=self.locale, decimal_quantization=False
        )
        return self.ltr(f"{digits}°")

    # -- plain values ---------------------------------------------------------------------------
    def yes_no(self, value: bool) -> str:
        return self.tr.gettext("yes") if value else self.tr.gettext("no")

    def enum(self, table: Mapping[str, str], value: str) -> str:
        """The value's message in ``table``, translated; the value as given if it has none."""
        msgid = table.get(value)
        return self.tr.gettext(msgid) if msgid is not None else self.ltr(value)

    def language(self, tag: str) -> str:
        try:
            name = Locale.parse(tag, sep="-").get_display_name(self.locale)
        except (UnknownLocaleError, ValueError):
            name = None
        return f"{name} ({self.ltr(tag)})" if name else self.ltr(tag)

    def quantity(self, value: Mapping[str, Any]) -> str:
        return f"{self.number(value['value'])} {self.enum(UNITS, value['unit'])}"

    # -- time -----------------------------------------------------------------------------------
    def _utc(self, text: str) -> str:
        # TRANSLATORS: a date and time, or a period, in Coordinated Universal Time
        return self.tr.gettext("{time} UTC").format(time=text)

    def moment(self, value: str) -> str:
        moment = parse_ts(value)
        return self._utc(self._date_time(moment, self._time_skeleton(moment)))

    def interval(self, value: Mapping[str, str]) -> str:
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
            return self.tr.gettext("{degrees} S").format(degrees=self.degrees(lat))
        return self.tr.gettext("{degrees} N").format(degrees=self.degrees(lat))

    def _longitude(self, lon: float) -> str:
        if lon < 0:
            return self.tr.gettext("{degrees} W").format(degrees=self.degrees(lon))
        return self.tr.gettext("{degrees} E").format(degrees=self.degrees(lon))

    def area(self, area: Mapping[str, Any]) -> str:
        kind = area.get("type")
        if kind == "NamedArea":
            name = str(area["name"])
            label = area_labels().get(name, {}).get(self.locale)
            if label:
                return self.tr.gettext("{label} (gazetteer: {name})").format(
                    label=label, name=self.ltr(name)
                )
            return self.tr.gettext("gazetteer area {name}").format(name=self.ltr(name))
        if kind == "Point":
            lon, lat = area["coordinates"][:2]
            position = self._position(lon, lat)
            radius = area.get("radius_km")
            if radius is None:
                return self.tr.gettext("point {position}").format(position=position)
            return self.tr.gettext("circle of radius {radius} around {position}").format(
                radius=self.quantity({"value": radius, "unit": "km"}), position=position
            )
        if kind == "Polygon":
            return self._polygons([area["coordinates"]], multi=False)
        if kind == "MultiPolygon":
            return self._polygons(list(area["coordinates"]), multi=True)
        return self.ltr(str(kind))

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
            count=self.count(vertices)
        )
        if not multi:
            return tr.gettext("polygon ({vertices}), {bounds}").format(
                vertices=counted, bounds=bounds
            )
        parts = tr.ngettext("{count} polygon", "{count} polygons", len(polygons)).format(
            count=self.count(len(polygons))
        )
        return tr.gettext("{polygons} ({vertices}), {bounds}").format(
            polygons=parts, vertices=counted, bounds=bounds
        )
