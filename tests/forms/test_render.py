"""Rendering of forms in ar/en/ru/uk from the gettext catalogues (docs/forms.md).

Snapshots live in ``snapshots/<name>.<locale>.txt``. After a deliberate change of wording or
layout, rewrite them with ``PARLEY_UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/forms`` and read
every changed file before keeping it (``cat -A`` shows the bidi marks of the Arabic ones).
"""

from __future__ import annotations

import copy
import gettext
import os
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from parley.errors import InvalidInput
from parley.forms import Value, _format, _render, get_form
from parley.forms._render import SUPPORTED_LOCALES, render

from .examples import ALLEGATION_ANSWER, ALLEGATION_FINDING, VIOLATION_ALLEGATION_2

REPO = Path(__file__).resolve().parents[2]
LOCALE_DIR = _format.LOCALE_DIR
SNAPSHOTS = Path(__file__).with_name("snapshots")
LRI, RLI, FSI, PDI = "\u2066", "\u2067", "\u2068", "\u2069"

# Plural categories (CLDR) in the order of each catalogue's plural forms.
PLURAL_TAGS = {
    "ar": ("zero", "one", "two", "few", "many", "other"),
    "en": ("one", "other"),
    "ru": ("one", "few", "many"),
    "uk": ("one", "few", "many"),
}

EXERCISE_BOX = {
    "type": "Polygon",
    "coordinates": [[[31.0, 32.5], [35.0, 32.5], [35.0, 35.5], [31.0, 35.5], [31.0, 32.5]]],
}
EVENT_ID = "5a" * 32

# The scenario's notice of 2024-11-27: Russian naval exercises in the eastern Mediterranean.
EXERCISE_NOTICE: dict[str, Any] = {
    "activity": "naval_exercise",
    "description": "Exercise of the Russian Navy's Mediterranean task force, with live firing. "
    "Notified to avoid incidents with US and NATO ships nearby.",
    "area": EXERCISE_BOX,
    "window": {"start": "2024-11-28T06:00:00.000Z", "end": "2024-12-02T18:00:00.000Z"},
    "forces": {"ships": 12, "aircraft": 2, "personnel": 1500},
    "max_altitude": {"value": 3000, "unit": "m"},
}
MISSILE_NOTICE: dict[str, Any] = {
    "missile_type": "Intermediate-range ballistic missile (test launch)",
    "launch_area": {"type": "Point", "coordinates": [45.8, 48.6], "radius_km": 10},
    "impact_area": {
        "type": "Polygon",
        "coordinates": [[[70.0, 46.0], [72.5, 46.0], [72.5, 47.25], [70.0, 47.25], [70.0, 46.0]]],
    },
    "window": {"start": "2024-12-05T03:00:00.000Z", "end": "2024-12-05T09:30:00.000Z"},
    "count": 2,
    "late": True,
    "late_reason": "Launch window moved forward for weather.",
}

# One example per form of docs/forms.md, with every optional field.
EXAMPLES: dict[str, dict[str, Any]] = {
    "military_activity/1": EXERCISE_NOTICE,
    "missile_launch/1": MISSILE_NOTICE,
    "declared_presence/1": {
        "units": [
            {"kind": "ship", "name": "Carrier strike group", "count": 5},
            {"kind": "submarine", "count": 1},
            {"kind": "aircraft", "name": "Maritime patrol aircraft", "count": 3},
            {"kind": "convoy", "name": "Supply convoy", "count": 2},
            {"kind": "unit", "count": 21},
        ],
        "area": {"type": "NamedArea", "name": "eastern_mediterranean"},
        "window": {"start": "2024-11-27T00:00:00.000Z", "end": "2024-12-10T00:00:00.000Z"},
    },
    "protected_site/1": {
        "site_name": "Kharkiv thermal power plant",
        "category": "power_plant",
        "location": {"type": "Point", "coordinates": [36.23, 49.99], "radius_km": 3},
        "agreement": "Moratorium on strikes on energy infrastructure (30 days)",
        "window": {"start": "2025-03-18T00:00:00.000Z", "end": "2025-04-17T00:00:00.000Z"},
    },
    "incident_report/1": {
        "kind": "unsafe_approach",
        "occurred_at": "2026-02-04T02:30:15.250Z",
        "location": {"type": "Point", "coordinates": [33.1, 34.0], "radius_km": 2.5},
        "description": "A fighter passed within 150 m of a patrol aircraft.",
        "casualties": 0,
    },
    "violation_allegation/1": {
        "agreement": "Moratorium on strikes on energy infrastructure",
        "occurred_at": "2026-02-04T01:00:00.000Z",
        "description": "Strikes damaged energy infrastructure in Kharkiv.",
        "location": {
            "type": "MultiPolygon",
            "coordinates": [
                [[[36.0, 49.8], [36.5, 49.8], [36.5, 50.2], [36.0, 50.2], [36.0, 49.8]]],
                [[[30.2, 50.3], [30.8, 50.3], [30.8, 50.6], [30.2, 50.6], [30.2, 50.3]]],
            ],
        },
        "evidence": ["Statement of the air force", "Photographs of the damaged plant"],
    },
    "violation_allegation/2": VIOLATION_ALLEGATION_2,
    "allegation_answer/1": ALLEGATION_ANSWER,
    "allegation_finding/1": ALLEGATION_FINDING,
    "request_for_explanation/1": {
        "subject": "Exercise area close to declared presence",
        "questions": ["How many ships take part?", "Will live firing take place, and where?"],
        "regarding": EVENT_ID,
    },
    "reply/1": {"in_reply_to": EVENT_ID, "answer": "Twelve ships; no firing inside the area."},
    "exchange_list/1": {
        "exchange": "Exchange of 157 for 157",
        "persons": [
            {"name": "Ivan Petrenko", "category": "military", "id": "UA-00017"},
            {"name": "Olena Kovalenko", "category": "civilian"},
        ],
        "handover_place": "Abu Dhabi",
        "handover_at": "2026-02-05T12:00:00.000Z",
    },
    "free_text/1": {"text": "Підтверджуємо отримання списку.", "lang": "uk"},
}
SNAPSHOT_CASES = {
    "military_activity": ("military_activity/1", EXERCISE_NOTICE),
    "missile_launch": ("missile_launch/1", MISSILE_NOTICE),
}


def catalogue(locale: str) -> Catalog:
    with (LOCALE_DIR / locale / "LC_MESSAGES" / "parley.po").open("rb") as po:
        return read_po(po, locale=locale, domain="parley")


def messages(catalog: Catalog) -> Iterator[Any]:
    return (message for message in catalog if message.id)


def translations(catalog: Catalog) -> dict[tuple[str | None, Any], Any]:
    """(context, id) -> string, plurals as tuples (``read_mo`` gives lists)."""

    def frozen(value: Any) -> Any:
        return tuple(value) if isinstance(value, list | tuple) else value

    return {(m.context, frozen(m.id)): frozen(m.string) for m in messages(catalog)}


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def field_line(text: str, locale: str, label: str) -> str:
    """The value shown for the field labelled ``label`` (an English msgid)."""
    prefix = f"{_format.translations(locale).gettext(label)}: "
    for line in text.splitlines():
        bare = line.removeprefix(RLI).removesuffix(PDI)
        if bare.startswith(prefix):
            return bare.removeprefix(prefix)
    raise AssertionError(f"no {label!r} line in {text!r}")


def with_field(form_id: str, key: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(EXAMPLES[form_id])
    data[key] = value
    return data


# -- catalogues -------------------------------------------------------------------------------


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_every_message_is_translated_and_none_is_fuzzy(locale: str) -> None:
    catalog = catalogue(locale)
    assert not catalog.fuzzy, f"{locale}: the catalogue header is fuzzy"
    problems = []
    for message in messages(catalog):
        if message.fuzzy:
            problems.append(f"fuzzy: {message.id!r}")
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        expected = catalog.num_plurals if message.pluralizable else 1
        if len(strings) != expected or not all(strings):
            problems.append(f"untranslated: {message.id!r}")
    assert not problems, f"{locale}: " + "; ".join(problems)


def test_catalogues_hold_exactly_the_messages_the_code_uses() -> None:
    with (REPO / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    used = {
        (context, message)
        for _, _, message, _, context in extract_from_dir(
            REPO / "src/parley", method_map, options_map
        )
    }
    with (LOCALE_DIR / "messages.pot").open("rb") as pot:
        template = read_po(pot)
    assert {(m.context, m.id) for m in messages(template)} == used, "run `make i18n`"
    for locale in SUPPORTED_LOCALES:
        held = {(m.context, m.id) for m in messages(catalogue(locale))}
        assert held == used, f"{locale}: run `make i18n` and translate"


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_compiled_catalogue_is_up_to_date_with_its_po_file(locale: str) -> None:
    source = catalogue(locale)
    with (LOCALE_DIR / locale / "LC_MESSAGES" / "parley.mo").open("rb") as mo:
        compiled = read_mo(mo)
    assert translations(compiled) == translations(source), "run `make i18n`"
    assert (compiled.num_plurals, compiled.plural_expr) == (source.num_plurals, source.plural_expr)


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_plural_forms_header_follows_the_languages_cldr_rules(locale: str) -> None:
    catalog = catalogue(locale)
    tags = PLURAL_TAGS[locale]
    assert catalog.num_plurals == len(tags)
    form_of = gettext.c2py(catalog.plural_expr)
    cldr = Locale.parse(locale)
    for n in range(1001):
        assert tags[form_of(n)] == cldr.plural_form(n), f"{locale}: n={n}"


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_translations_keep_the_placeholders_of_their_message(locale: str) -> None:
    for message in messages(catalogue(locale)):
        if isinstance(message.id, tuple):
            wanted = placeholders(message.id[0]) | placeholders(message.id[1])
            for form in message.string:
                # Some forms name the number in words ("سفينتان", two ships): {count} may go.
                assert placeholders(form) <= wanted, (locale, message.id, form)
        else:
            assert placeholders(message.string) == placeholders(message.id), (locale, message.id)


@pytest.mark.parametrize("locale", ["ar", "ru", "uk"])
def test_no_english_is_left_in_translated_catalogues(locale: str) -> None:
    latin_words = set()
    for message in messages(catalogue(locale)):
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in strings:
            bare = string.Formatter().parse(text)
            words = "".join(literal for literal, _, _, _ in bare).split()
            # "UTC" is the international symbol, kept in Russian and Ukrainian usage.
            latin_words |= {w for w in words if w.isascii() and w.isalpha() and w != "UTC"}
    assert not latin_words, f"{locale}: {sorted(latin_words)}"


# -- snapshots --------------------------------------------------------------------------------


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
@pytest.mark.parametrize("name", sorted(SNAPSHOT_CASES))
def test_scenario_notice_renders_as_its_snapshot(name: str, locale: str) -> None:
    form_id, data = SNAPSHOT_CASES[name]
    text = render(form_id, data, locale) + "\n"
    path = SNAPSHOTS / f"{name}.{locale}.txt"
    if os.environ.get("PARLEY_UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
    assert path.read_bytes().decode("utf-8") == text


def test_arabic_lines_are_right_to_left_isolates_with_left_to_right_values() -> None:
    text = render("military_activity/1", EXERCISE_NOTICE, "ar")
    for line in text.split("\n"):
        assert line.startswith(RLI)
        assert line.endswith(PDI)
        assert line.count(LRI) + line.count(RLI) + line.count(FSI) == line.count(PDI)
    assert f"{LRI}32.5°{PDI}" in text
    assert f"{LRI}1,500{PDI}" in text
    assert f"{FSI}{EXERCISE_NOTICE['description']}{PDI}" in text


@pytest.mark.parametrize("locale", ["en", "ru", "uk"])
def test_left_to_right_renderings_carry_no_bidi_controls(locale: str) -> None:
    for form_id, data in EXAMPLES.items():
        text = render(form_id, data, locale)
        assert not set(text) & {LRI, RLI, FSI, PDI}, form_id


# -- every form, every locale ----------------------------------------------------------------


def test_every_registered_form_has_an_example_here() -> None:
    from parley.forms import list_forms

    assert {spec.id for spec in list_forms()} == set(EXAMPLES)


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
@pytest.mark.parametrize("form_id", sorted(EXAMPLES))
def test_every_form_renders_every_field_in_every_locale(form_id: str, locale: str) -> None:
    data = EXAMPLES[form_id]
    text = render(form_id, data, locale)
    lines = text.split("\n")
    spec = get_form(form_id)
    assert lines[0].removeprefix(RLI).removesuffix(PDI) == (
        _format.translations(locale).gettext(spec.title)
    )
    if locale != "en":
        assert lines[0] != spec.title
    bare = [line.removeprefix(RLI).removesuffix(PDI) for line in lines]
    for field in spec.fields:
        if field.key in data:
            shown = f"{_format.translations(locale).gettext(field.label)}:"
            assert any(line.startswith(shown) for line in bare), (field.key, shown)
    assert "{" not in text
    assert "}" not in text


def test_every_kind_of_value_has_its_renderer() -> None:
    assert set(_render._SHOWN) == set(Value)


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_only_fields_present_are_shown(locale: str) -> None:
    data = {k: v for k, v in EXERCISE_NOTICE.items() if k not in ("forces", "max_altitude")}
    text = render("military_activity/1", data, locale)
    assert len(text.split("\n")) == 1 + len(data)


CONTRACT_ENUMS = [
    (
        "military_activity/1",
        "activity",
        "Activity",
        ["naval_exercise", "air_exercise", "land_exercise", "missile_firing", "other"],
    ),
    (
        "protected_site/1",
        "category",
        "Category",
        [
            "refinery",
            "pipeline",
            "power_plant",
            "substation",
            "nuclear_plant",
            "dam",
            "hospital",
            "other",
        ],
    ),
    (
        "incident_report/1",
        "kind",
        "Type of incident",
        ["unsafe_approach", "collision", "airspace_violation", "weapons_fire", "other"],
    ),
    ("allegation_answer/1", "answer", "Response", ["accept", "dispute", "request_information"]),
    ("allegation_finding/1", "finding", "Finding", ["found", "not_found", "unresolved"]),
]


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
@pytest.mark.parametrize(("form_id", "key", "label", "values"), CONTRACT_ENUMS)
def test_every_enum_value_is_shown_translated(
    form_id: str, key: str, label: str, values: list[str], locale: str
) -> None:
    shown = {
        field_line(render(form_id, with_field(form_id, key, v), locale), locale, label)
        for v in values
    }
    assert len(shown) == len(values), "two values are shown alike"
    for value in values:
        assert value not in shown


def test_tables_cover_every_value_of_the_contract() -> None:
    assert set(_format.UNITS) == {"km", "nm", "m", "ft", "kt", "km_h"}
    assert set(_render._PERSON_CATEGORIES) == {"military", "civilian"}
    for _, _, _, values in CONTRACT_ENUMS:
        tables = (
            _render._ACTIVITIES,
            _render._SITE_CATEGORIES,
            _render._INCIDENT_KINDS,
            _render._ANSWERS,
            _render._FINDINGS,
        )
        assert any(set(table) == set(values) for table in tables)


@pytest.mark.parametrize("locale", ["ar", "ru", "uk"])
@pytest.mark.parametrize("kind", ["ship", "submarine", "aircraft", "convoy", "unit"])
def test_every_unit_kind_is_shown_translated(kind: str, locale: str) -> None:
    data = {**EXAMPLES["declared_presence/1"], "units": [{"kind": kind, "count": 7}]}
    text = render("declared_presence/1", data, locale)
    assert kind not in text


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (1, "1 корабль"),
        (2, "2 корабля"),
        (5, "5 кораблей"),
        (11, "11 кораблей"),
        (21, "21 корабль"),
        (24, "24 корабля"),
    ],
)
def test_russian_counts_take_the_right_plural_form(n: int, expected: str) -> None:
    data = with_field("military_activity/1", "forces", {"ships": n})
    assert field_line(render("military_activity/1", data, "ru"), "ru", "Forces") == expected


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (0, "لا سفن"),
        (1, "سفينة واحدة"),
        (2, "سفينتان"),
        (3, f"{LRI}3{PDI} سفن"),
        (11, f"{LRI}11{PDI} سفينة"),
        (100, f"{LRI}100{PDI} سفينة"),
    ],
)
def test_arabic_counts_take_the_right_plural_form(n: int, expected: str) -> None:
    data = with_field("military_activity/1", "forces", {"ships": n})
    assert field_line(render("military_activity/1", data, "ar"), "ar", "Forces") == expected


# -- values -----------------------------------------------------------------------------------

FREE_TEXTS = [
    "مناورات بحرية في شرق المتوسط، 12 سفينة",
    "Line one\nLine two, then {count} and {0} are not placeholders",
    "  spaces kept  ",
    "“Quoted” — <b>not markup</b> & 100%",
]


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
@pytest.mark.parametrize("free", FREE_TEXTS)
def test_free_text_is_shown_exactly_as_given(free: str, locale: str) -> None:
    cases = [
        ("military_activity/1", with_field("military_activity/1", "description", free)),
        ("free_text/1", {"text": free, "lang": "ar"}),
        ("reply/1", with_field("reply/1", "answer", free)),
        (
            "declared_presence/1",
            with_field(
                "declared_presence/1", "units", [{"kind": "ship", "name": free, "count": 1}]
            ),
        ),
        (
            "exchange_list/1",
            with_field(
                "exchange_list/1", "persons", [{"name": free, "category": "civilian", "id": free}]
            ),
        ),
        ("request_for_explanation/1", with_field("request_for_explanation/1", "questions", [free])),
    ]
    for form_id, data in cases:
        assert free in render(form_id, data, locale), form_id


def test_arabic_free_text_passes_through_an_english_rendering() -> None:
    free = FREE_TEXTS[0]
    text = render(
        "military_activity/1", with_field("military_activity/1", "description", free), "en"
    )
    assert f"\nDescription: {free}\n" in text


def test_polygon_is_described_by_vertex_count_and_bounding_box() -> None:
    text = render("military_activity/1", EXERCISE_NOTICE, "en")
    assert field_line(text, "en", "Area") == (
        "polygon (4 vertices), latitude 32.5° N to 35.5° N, longitude 31° E to 35° E"
    )
    southern = {
        "type": "Polygon",
        "coordinates": [[[-70.25, -33.5], [-70.0, -33.5], [-70.0, -33.0], [-70.25, -33.5]]],
    }
    text = render("military_activity/1", with_field("military_activity/1", "area", southern), "en")
    assert field_line(text, "en", "Area") == (
        "polygon (3 vertices), latitude 33.5° S to 33° S, longitude 70.25° W to 70° W"
    )


def test_multipolygon_counts_its_polygons_and_vertices() -> None:
    text = render("violation_allegation/1", EXAMPLES["violation_allegation/1"], "uk")
    assert field_line(text, "uk", "Location") == (
        "2 багатокутники (8 вершин), широта від 49,8° пн. ш. до 50,6° пн. ш., "
        "довгота від 30,2° сх. д. до 36,5° сх. д."
    )


def test_point_is_shown_with_its_radius() -> None:
    text = render("incident_report/1", EXAMPLES["incident_report/1"], "ru")
    assert field_line(text, "ru", "Location") == (
        "круг радиусом 2,5 км с центром в точке 34° с. ш., 33,1° в. д."
    )


def test_named_area_is_shown_by_its_label_in_the_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    labels = {"test_sea": {"ar": "بحر الاختبار", "en": "Test Sea", "ru": "Тестовое море"}}
    monkeypatch.setattr(_format, "area_labels", lambda: labels)
    data = with_field("military_activity/1", "area", {"type": "NamedArea", "name": "test_sea"})
    assert field_line(render("military_activity/1", data, "en"), "en", "Area") == (
        "Test Sea (gazetteer: test_sea)"
    )
    assert field_line(render("military_activity/1", data, "ar"), "ar", "Area") == (
        f"بحر الاختبار (المعجم الجغرافي: {LRI}test_sea{PDI})"
    )
    # No Ukrainian label: the gazetteer name stands in.
    assert field_line(render("military_activity/1", data, "uk"), "uk", "Area") == (
        "район із довідника: test_sea"
    )


@pytest.mark.skipif(not _format.GAZETTEER_FILE.exists(), reason="no gazetteer.json yet")
@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_every_gazetteer_area_has_a_label_in_every_locale(locale: str) -> None:
    labels = _format.area_labels()
    assert labels
    for name, by_locale in labels.items():
        data = with_field("military_activity/1", "area", {"type": "NamedArea", "name": name})
        shown = field_line(render("military_activity/1", data, locale), locale, "Area")
        assert by_locale.get(locale), f"{name} has no {locale} label"
        assert shown.startswith(by_locale[locale])


def test_times_are_shown_in_utc_with_seconds_only_when_given() -> None:
    en = render("incident_report/1", EXAMPLES["incident_report/1"], "en")
    assert field_line(en, "en", "Occurred at") == "Feb 4, 2026, 02:30:15 UTC"
    missile = render("missile_launch/1", MISSILE_NOTICE, "en")
    # One day: the date once, then the two times.
    assert field_line(missile, "en", "Period") == "Dec 5, 2024, 03:00\u2009\u2013\u200909:30 UTC"


def test_language_of_free_text_is_named_in_the_locale() -> None:
    text = render("free_text/1", EXAMPLES["free_text/1"], "ru")
    assert field_line(text, "ru", "Language") == "украинский (uk)"


# -- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize("locale", ["fr", "en-US", "AR", ""])
def test_unsupported_locale_is_refused_as_invalid_lang(locale: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        render("military_activity/1", EXERCISE_NOTICE, locale)
    assert [e.field for e in caught.value.errors] == ["lang"]


def test_unknown_form_is_refused_as_invalid_form() -> None:
    with pytest.raises(InvalidInput) as caught:
        render("military_activity/9", EXERCISE_NOTICE, "en")
    assert [e.field for e in caught.value.errors] == ["form"]
