"""Protected sites of an agreement, imported in bulk from GeoJSON or CSV files.

All or nothing per file: every row is checked, each bad one reported with its CSV line or
GeoJSON feature index, and the file is stored in one transaction only if none is bad. The
sites are this node's own knowledge (the other side learns of one when an alert names it);
a running node takes them in from the store within ``deconfliction_site_poll_s``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from parley.clock import parse_ts, to_ms
from parley.errors import FieldError, InvalidInput
from parley.protocol import EVENT_ID_PATTERN, AgreementState, validate_party_id
from parley.store import SiteRecord, StoreTx

from ._auth import Permission, Principal, require
from ._context import NodeContext
from ._journal import read_agreement

__all__ = ["CATEGORIES", "MORATORIUM_CATEGORIES", "ImportReport", "SiteService", "site_terms"]

# The 2025 energy moratorium's five categories (power plants and substations are one).
MORATORIUM_CATEGORIES: Final = (
    "refinery",
    "pipeline",
    "power_plant",
    "substation",
    "nuclear_plant",
    "dam",
)
HUMANITARIAN_CATEGORIES: Final = (
    "hospital",
    "school",
    "shelter",
    "water_supply",
    "religious_site",
    "cultural_heritage",
    "humanitarian_office",
    "other",
)
CATEGORIES: Final = MORATORIUM_CATEGORIES + HUMANITARIAN_CATEGORIES
CSV_COLUMNS: Final = ("lon", "lat", "name", "category")
_MAX_ERRORS = 100
_NAME_MAX = 200
_AGREEMENT_MAX = 200
_EVENT_ID_RE = re.compile(EVENT_ID_PATTERN)  # an agreement stored here, not a free title
_PROGRESS_EVERY = 10_000
_LIST_PAGE = 20_000

Progress = Callable[[int, int], None]  # (done, total), in bytes for CSV, features for GeoJSON


class _BadRow(ValueError):
    pass


@dataclass(frozen=True)
class ImportReport:
    source: str
    imported: int
    by_category: dict[str, int]


@dataclass(frozen=True)
class _Terms:
    party: str
    agreement: str
    valid_from_ms: int | None
    valid_until_ms: int | None


class SiteService:
    def __init__(self, ctx: NodeContext) -> None:
        self._ctx = ctx

    def import_file(
        self,
        principal: Principal,
        path: Path,
        *,
        party: str | None = None,
        agreement: str = "",
        valid_from: str | None = None,
        valid_until: str | None = None,
        progress: Progress | None = None,
    ) -> ImportReport:
        """Check and store every site of a .geojson/.json or .csv file, or none of them."""
        require(principal, Permission.MANAGE_PARTIES)
        terms = self._terms(party, agreement, valid_from, valid_until)
        suffix = path.suffix.lower()
        if suffix not in (".csv", ".geojson", ".json"):
            raise InvalidInput.for_field("file", "must be a .csv, .geojson or .json file")
        if not path.is_file():
            raise InvalidInput.for_field("file", f"{path} is not a readable file")
        report = progress or (lambda done, total: None)
        tally = _Tally()
        now_ms = to_ms(self._ctx.clock.now())

        def apply(tx: StoreTx) -> int:
            rows = _csv_rows(path, report) if suffix == ".csv" else _geojson_rows(path, report)
            try:
                stored = tx.insert_sites(_checked(rows, terms, tally), path.name, now_ms)
            except UnicodeDecodeError as exc:
                raise InvalidInput.for_field("file", f"{path.name} is not UTF-8 text") from exc
            if tally.bad:
                raise _invalid(path, tally)  # rolls the whole file back
            return stored

        imported = self._ctx.store.write_sync(apply)
        return ImportReport(path.name, imported, dict(sorted(tally.counts.items())))

    def latest(self, principal: Principal) -> int:
        """The id of the last site imported (0: none): it changes with every import."""
        require(principal, Permission.READ)
        return self._ctx.store.last_site_id()

    def listed(self, principal: Principal) -> Iterator[SiteRecord]:
        """Every imported site, in the order imported, read a page at a time."""
        require(principal, Permission.READ)
        after = 0
        while page := self._ctx.store.list_sites(after, _LIST_PAGE):
            yield from page
            after = page[-1].id

    def counts(self, principal: Principal) -> list[tuple[str, str, int]]:
        """(agreement, category, sites) of every imported site."""
        require(principal, Permission.READ)
        return self._ctx.store.site_counts()

    def _terms(
        self, party: str | None, agreement: str, valid_from: str | None, valid_until: str | None
    ) -> _Terms:
        owner = validate_party_id(party or self._ctx.party, "party")
        if owner != self._ctx.party and self._ctx.store.get_party(owner) is None:
            raise InvalidInput.for_field("party", f"unknown party {owner}: pin it first")
        if len(agreement) > _AGREEMENT_MAX or not agreement.isprintable():
            raise InvalidInput.for_field(
                "agreement", f"must be at most {_AGREEMENT_MAX} printable characters"
            )
        if _EVENT_ID_RE.match(agreement):
            start, end = self._agreement_term(agreement, valid_from, valid_until)
            return _Terms(owner, agreement, start, end)
        start = _instant(valid_from, "valid_from")
        end = _instant(valid_until, "valid_until")
        if start is not None and end is not None and end <= start:
            raise InvalidInput.for_field("valid_until", "must be after valid_from")
        return _Terms(owner, agreement, start, end)

    def _agreement_term(
        self, agreement: str, valid_from: str | None, valid_until: str | None
    ) -> tuple[int | None, int | None]:
        """The sites of an agreement stored here are valid while it is in force, or for its
        term while it is not yet; an extension moves them (``site_terms``)."""
        state = read_agreement(self._ctx.store, agreement)
        if state is None:
            raise InvalidInput.for_field("agreement", f"no agreement {agreement} on this node")
        if valid_from is not None or valid_until is not None:
            raise InvalidInput.for_field(
                "valid_from", "the validity of an agreement's sites is its term"
            )
        return site_terms(state)


def site_terms(state: AgreementState) -> tuple[int | None, int | None]:
    """[from, until) in ms of the sites of an agreement: its time in force, else its term."""
    start, end = state.force_window or (state.start, state.end)
    return to_ms(parse_ts(start)), None if end is None else to_ms(parse_ts(end))


def _instant(text: str | None, where: str) -> int | None:
    if text is None:
        return None
    try:
        return to_ms(parse_ts(text))
    except ValueError as exc:
        raise InvalidInput.for_field(
            where, "must be a UTC timestamp like 2026-03-18T00:00:00Z"
        ) from exc


# A row as read: where it is in the file, and its fields (or why it cannot be read).
_Row = tuple[str, Mapping[str, Any] | str]


def _csv_rows(path: Path, progress: Progress) -> Iterator[_Row]:
    total = path.stat().st_size
    with path.open("rb") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        reader = csv.reader(text)
        header = next(reader, None)
        if header is None:
            raise InvalidInput.for_field("file", f"{path.name} is empty")
        names = [h.strip().lower() for h in header]
        missing = [c for c in CSV_COLUMNS if c not in names]
        if missing:
            raise InvalidInput.for_field(
                "file",
                f"{path.name}: line 1 must be the header lon,lat,name,category; "
                f"missing {', '.join(missing)}",
            )
        at = {c: names.index(c) for c in CSV_COLUMNS}
        for n, values in enumerate(reader, start=2):
            where = f"line {reader.line_num}"
            if n % _PROGRESS_EVERY == 0:
                progress(raw.tell(), total)
            if not any(v.strip() for v in values):
                continue  # blank line
            if len(values) < len(names):
                yield where, f"has {len(values)} fields; the header has {len(names)}"
                continue
            yield where, {c: values[i] for c, i in at.items()}
        progress(total, total)


def _geojson_rows(path: Path, progress: Progress) -> Iterator[_Row]:
    try:
        document = json.loads(path.read_text("utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput.for_field("file", f"{path.name} is not valid JSON: {exc}") from exc
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise InvalidInput.for_field("file", f"{path.name} is not a GeoJSON FeatureCollection")
    features = document.get("features")
    if not isinstance(features, list):
        raise InvalidInput.for_field("file", f"{path.name}: features must be a list")
    for i, feature in enumerate(features):
        where = f"feature {i}"
        if i % _PROGRESS_EVERY == 0:
            progress(i, len(features))
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            yield where, "is not a GeoJSON Feature"
            continue
        properties = feature.get("properties")
        if not isinstance(properties, dict):
            yield where, "has no properties (name, category)"
            continue
        yield where, {**properties, "geometry": feature.get("geometry")}
    progress(len(features), len(features))


@dataclass
class _Tally:
    counts: dict[str, int] = field(default_factory=dict)
    errors: list[FieldError] = field(default_factory=list)  # the first _MAX_ERRORS
    bad: int = 0


def _checked(rows: Iterator[_Row], terms: _Terms, tally: _Tally) -> Iterator[SiteRecord]:
    """The sites of good rows, until a row is bad; every row is checked all the same."""
    for where, fields in rows:
        try:
            if isinstance(fields, str):
                raise _BadRow(fields)
            site = _site(fields, terms)
        except _BadRow as exc:
            tally.bad += 1
            if tally.bad <= _MAX_ERRORS:
                tally.errors.append(FieldError(where, str(exc)))
            continue
        tally.counts[site.category] = tally.counts.get(site.category, 0) + 1
        if not tally.bad:
            yield site  # once one row is bad nothing will be kept: stop inserting


def _site(fields: Mapping[str, Any], terms: _Terms) -> SiteRecord:
    name = fields.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _BadRow("name is missing")
    if len(name) > _NAME_MAX or not name.isprintable():
        raise _BadRow(f"name must be at most {_NAME_MAX} printable characters")
    category = fields.get("category")
    if not isinstance(category, str) or category.strip() not in CATEGORIES:
        raise _BadRow(f"category {category!r} is not one of {', '.join(CATEGORIES)}")
    geometry: Mapping[str, Any] | None = None
    if "geometry" in fields:
        lon, lat, geometry = _feature_geometry(fields["geometry"])
    else:
        lon = _number(fields.get("lon"), "lon", 180)
        lat = _number(fields.get("lat"), "lat", 90)
    return SiteRecord(
        0,
        terms.party,
        terms.agreement,
        name.strip(),
        category.strip(),
        lon,
        lat,
        geometry,
        terms.valid_from_ms,
        terms.valid_until_ms,
    )


def _number(value: object, what: str, limit: float) -> float:
    try:
        number = float(value) if isinstance(value, str | int | float) else math.nan
    except ValueError:
        number = math.nan
    if not -limit <= number <= limit:  # NaN fails too
        noun = "longitude" if what == "lon" else "latitude"
        raise _BadRow(f"{what} must be a {noun} between -{limit:g} and {limit:g}, not {value!r}")
    return number


def _feature_geometry(geometry: object) -> tuple[float, float, Mapping[str, Any] | None]:
    """A Point (lon, lat, None) or a valid Polygon/MultiPolygon (a point inside, GeoJSON)."""
    if not isinstance(geometry, dict) or geometry.get("type") not in (
        "Point",
        "Polygon",
        "MultiPolygon",
    ):
        raise _BadRow("geometry must be a GeoJSON Point, Polygon or MultiPolygon")
    if geometry["type"] == "Point":
        position = geometry.get("coordinates")
        if not isinstance(position, list) or len(position) != 2:
            raise _BadRow("geometry.coordinates must be [lon, lat]")
        return _number(position[0], "lon", 180), _number(position[1], "lat", 90), None
    import shapely  # with the first import of shapes: a node without any does not hold it

    try:
        shaped = shapely.geometry.shape(geometry)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise _BadRow(f"geometry is not a valid {geometry['type']}: {exc}") from exc
    if shaped.is_empty or not shapely.is_valid(shaped):
        reason = "it is empty" if shaped.is_empty else shapely.is_valid_reason(shaped)
        raise _BadRow(f"geometry is not a valid {geometry['type']}: {reason}")
    minx, miny, maxx, maxy = shaped.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise _BadRow("geometry has coordinates outside lon -180..180, lat -90..90")
    inside = shaped.representative_point()
    return inside.x, inside.y, {"type": geometry["type"], "coordinates": geometry["coordinates"]}


def _invalid(path: Path, tally: _Tally) -> InvalidInput:
    shown = "; ".join(f"{e.field}: {e.message}" for e in tally.errors[:5])
    more = f" (and {tally.bad - 5} more)" if tally.bad > 5 else ""
    return InvalidInput(
        f"{path.name}: nothing imported; {tally.bad} bad row(s): {shown}{more}",
        errors=tuple(tally.errors),
    )
