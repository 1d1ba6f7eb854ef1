"""A list of persons to hand over: read from CSV or JSON, each row checked on its own.

Nothing here raises for a bad row: every problem is reported with its row (1-based, the
header of a CSV file not counted) and field, so the operator can fix them all at once.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from parley.protocol import MAX_LIST_ROWS, plain_text_error

from ._names import scripts_of_words

__all__ = [
    "FIELDS",
    "MAX_ROWS",
    "Person",
    "Problem",
    "parse_list",
    "person_from_dict",
    "render_csv",
]

FIELDS = ("name", "latin", "born", "category", "unit")
MAX_ROWS = MAX_LIST_ROWS
MAX_FIELD_CHARS = 200
EARLIEST_BIRTH = date(1900, 1, 1)
Format = Literal["csv", "json"]
_DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_CATEGORY_RE = re.compile(r"^[a-z][a-z_]{0,39}$")
# What surrogateescape makes of a byte that is not UTF-8.
_UNDECODED_RE = re.compile(r"[\udc80-\udcff]")


@dataclass(frozen=True, slots=True)
class Person:
    """One person of a list: name in the original script, its Latin spelling, date of
    birth, category (as the agreement counts them) and unit or status."""

    name: str
    latin: str
    born: date
    category: str
    unit: str

    def as_dict(self) -> dict[str, str]:
        return {
            "name": self.name,
            "latin": self.latin,
            "born": self.born.isoformat(),
            "category": self.category,
            "unit": self.unit,
        }


@dataclass(frozen=True, slots=True)
class Problem:
    """What is wrong with one row (``row`` None: with the list as a whole). ``ref`` names
    the other row or earlier exchange a duplicate was found in. A problem that does not
    ``block`` (a name only like another one) is shown to the submitter and the mediator,
    who decide; every other one must be fixed before the list is submitted."""

    row: int | None
    field: str
    code: str
    message: str
    ref: str | None = None
    blocks: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "field": self.field,
            "code": self.code,
            "message": self.message,
            "ref": self.ref,
            "blocks": self.blocks,
        }

    def __str__(self) -> str:
        where = "list" if self.row is None else f"row {self.row}"
        return f"{where}: {self.field}: {self.message}"


def parse_list(
    data: bytes, fmt: Format, *, today: date, categories: Iterable[str] = ()
) -> tuple[list[Person], list[Problem]]:
    """The persons of ``data`` whose rows are sound, and the problems of the others.

    ``categories``: the categories the agreement counts (any category when empty).
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return [], [Problem(None, "encoding", "encoding", "must be UTF-8, not UTF-16")]
    text = data.decode("utf-8", "surrogateescape").removeprefix("\ufeff")
    rows, problems = _csv_rows(text) if fmt == "csv" else _json_rows(text)
    if len(rows) > MAX_ROWS:
        message = f"has {len(rows)} rows; the limit is {MAX_ROWS}"
        return [], [Problem(None, "rows", "too_many_rows", message)]
    allowed = frozenset(categories)
    persons: list[Person] = []
    for row, values in rows:
        person, row_problems = _read_row(row, values, today, allowed)
        problems.extend(row_problems)
        if person is not None:
            persons.append(person)
    return persons, problems


def person_from_dict(values: Mapping[str, Any]) -> Person:
    """A person as stored in a sealed list, whose rows were checked when it was submitted."""
    return Person(
        name=values["name"],
        latin=values["latin"],
        born=date.fromisoformat(values["born"]),
        category=values["category"],
        unit=values["unit"],
    )


def render_csv(persons: Iterable[Person]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FIELDS)
    writer.writerows([p.as_dict()[f] for f in FIELDS] for p in persons)
    return out.getvalue().encode("utf-8")


_Rows = list[tuple[int, Mapping[str, Any]]]


def _csv_rows(text: str) -> tuple[_Rows, list[Problem]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader, [])]
    except csv.Error as exc:
        return [], [Problem(None, "header", "malformed", f"cannot be read: {exc}")]
    missing = [f for f in FIELDS if f not in header]
    unknown = [h for h in header if h not in FIELDS]
    if missing or unknown:
        message = f"the header must name the columns {', '.join(FIELDS)}"
        return [], [Problem(None, "header", "malformed", message)]
    rows: _Rows = []
    problems: list[Problem] = []
    try:
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            row = len(rows) + 1
            rows.append((row, dict(zip(header, cells, strict=False))))
            if len(cells) != len(header):
                message = f"has {len(cells)} fields; the header has {len(header)}"
                problems.append(Problem(row, "row", "malformed", message))
    except csv.Error as exc:
        problems.append(Problem(len(rows) + 1, "row", "malformed", f"cannot be read: {exc}"))
    return rows, problems


def _json_rows(text: str) -> tuple[_Rows, list[Problem]]:
    try:
        document = json.loads(text)
    except ValueError as exc:
        return [], [Problem(None, "json", "malformed", f"is not JSON: {exc}")]
    if isinstance(document, dict) and set(document) == {"persons"}:
        document = document["persons"]
    if not isinstance(document, list):
        message = 'must be a list of persons, or {"persons": [...]}'
        return [], [Problem(None, "json", "malformed", message)]
    rows: _Rows = []
    problems: list[Problem] = []
    for row, item in enumerate(document, start=1):
        if not isinstance(item, dict):
            problems.append(Problem(row, "row", "malformed", "must be an object"))
            continue
        rows.append((row, item))
        for key in sorted(set(item) - set(FIELDS)):
            problems.append(Problem(row, str(key), "unknown_field", "is not a field of a person"))
    return rows, problems


def _read_row(
    row: int, values: Mapping[str, Any], today: date, categories: frozenset[str]
) -> tuple[Person | None, list[Problem]]:
    problems: list[Problem] = []
    texts: dict[str, str] = {}
    for field in FIELDS:
        error = _text_error(values.get(field))
        if error is not None:
            problems.append(Problem(row, field, error[0], error[1]))
        else:
            texts[field] = values[field].strip()
    checks: dict[str, Callable[[str], _Error]] = {
        "name": _name_error,
        "latin": _latin_error,
        "born": lambda v: _born_error(v, today),
        "category": lambda v: _category_error(v, categories),
    }
    for field, check in checks.items():
        if field in texts and (error := check(texts[field])) is not None:
            problems.append(Problem(row, field, error[0], error[1]))
    if problems:
        return None, problems
    person = Person(
        texts["name"],
        texts["latin"],
        date.fromisoformat(texts["born"]),
        texts["category"],
        texts["unit"],
    )
    return person, []


_Error = tuple[str, str] | None


def _text_error(value: object) -> _Error:
    if value is None or (isinstance(value, str) and not value.strip()):
        return "missing", "is missing"
    if not isinstance(value, str):
        return "malformed", "must be text"
    if _UNDECODED_RE.search(value):
        return "encoding", "is not valid UTF-8 (the file must be saved as UTF-8)"
    if len(value) > MAX_FIELD_CHARS:
        return "too_long", f"has {len(value)} characters; the limit is {MAX_FIELD_CHARS}"
    error = plain_text_error(value)
    return None if error is None else ("malformed", error)


def _name_error(value: str) -> _Error:
    words = scripts_of_words(value)
    if not any(words):
        return "malformed", "has no letters"
    scripts = set().union(*words)
    if len(scripts) > 1:
        # A name is written in one script; Latin letters in a Cyrillic word are a typing slip
        # that defeats every later comparison.
        return "mixed_script", f"mixes scripts ({', '.join(sorted(scripts)).lower()})"
    return None


def _latin_error(value: str) -> _Error:
    scripts = set().union(*scripts_of_words(value))
    if scripts != {"LATIN"}:
        return "not_latin", "must be written in Latin letters"
    return None


def _born_error(value: str, today: date) -> _Error:
    try:
        if not _DATE_RE.match(value):
            raise ValueError
        born = date.fromisoformat(value)
    except ValueError:
        return "date_invalid", f"{value!r} is not a date YYYY-MM-DD"
    if born > today:
        return "date_future", f"{value} is in the future"
    if born < EARLIEST_BIRTH:
        return "date_invalid", f"{value} is before {EARLIEST_BIRTH.isoformat()}"
    return None


def _category_error(value: str, categories: frozenset[str]) -> _Error:
    if not _CATEGORY_RE.match(value):
        return "malformed", "must be a category name (lower-case letters and _)"
    if categories and value not in categories:
        allowed = ", ".join(sorted(categories))
        return "category_unknown", f"{value!r} is not counted by the agreement ({allowed})"
    return None
