"""Items from what parties declare: area-bearing notifications and imported protected sites."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final, cast

import numpy as np
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from parley.clock import parse_ts, to_ms
from parley.forms import ItemKind, area_geometry, list_forms

from ._geo import GEOD
from ._items import Item
from ._shapes import GeomArray

__all__ = ["NOTICE_FORMS", "Notice", "SiteRow", "notice_items", "notices_items", "site_items"]

# Form id -> the areas its spec says the index holds: (field, kind of item). A form with two
# areas (a launch) gives two items keyed "<event_id>#<field>"; one area, one item keyed by the id.
NOTICE_FORMS: Final[Mapping[str, tuple[tuple[str, ItemKind], ...]]] = {
    spec.id: spec.indexed_areas for spec in list_forms() if spec.indexed_areas
}

# A notification: event id, party (its author), form id, data.
Notice = tuple[str, str, str, Mapping[str, Any]]
# parley.forms' geodesic circles: as many points as its own circle has, at the same azimuths
# (equal azimuth steps from north); tests/deconflict check the shapes are the same.
_CIRCLE_POINTS: Final = (
    int(
        shapely.get_num_coordinates(
            area_geometry({"type": "Point", "coordinates": [0, 0], "radius_km": 1})
        )
    )
    - 1
)
_AZIMUTHS: Final = np.array([i * 360.0 / _CIRCLE_POINTS for i in range(_CIRCLE_POINTS)])


def notice_items(event_id: str, party: str, form: str, data: Mapping[str, Any]) -> list[Item]:
    """The items of a (validated) notification; none for a form without an area.

    The window is the form's; a form without one (a protected site may have none) is
    open-ended.
    """
    return notices_items([(event_id, party, form, data)])[0]


def notices_items(notices: Sequence[Notice]) -> list[list[Item]]:
    """The items of each notification, as ``notice_items``; the circles of all of them (a
    Point with ``radius_km``, most areas) made in one vectorised pass, the same shapes as
    ``parley.forms.area_geometry`` makes one by one (a node loads 100,000 at start)."""
    indexed = [NOTICE_FORMS.get(form, ()) for _, _, form, _ in notices]
    areas = [
        data[field]
        for (_, _, _, data), fields in zip(notices, indexed, strict=True)
        for field, _ in fields
    ]
    shapes = iter(_area_geometries(areas))
    return [_items(notice, fields, shapes) for notice, fields in zip(notices, indexed, strict=True)]


def _items(
    notice: Notice, fields: Sequence[tuple[str, ItemKind]], shapes: Iterator[BaseGeometry]
) -> list[Item]:
    event_id, party, _, data = notice
    if not fields:
        return []
    window = data.get("window")
    start = end = None
    if window is not None:
        start, end = to_ms(parse_ts(window["start"])), to_ms(parse_ts(window["end"]))
    return [
        Item(
            event_id if len(fields) == 1 else f"{event_id}#{field}",
            party,
            kind,
            next(shapes),
            start,
            end,
        )
        for field, kind in fields
    ]


def _is_circle(area: Mapping[str, Any]) -> bool:
    radius = area.get("radius_km")
    return (
        area.get("type") == "Point"
        and isinstance(radius, int | float)
        and math.isfinite(radius)
        and radius > 0
    )


def _area_geometries(areas: Sequence[Mapping[str, Any]]) -> list[BaseGeometry]:
    """``area_geometry`` of each area; the circles vectorised (what else an area may be, or
    a bad circle, goes through ``area_geometry`` and its checks)."""
    out: list[BaseGeometry | None] = [None if _is_circle(a) else area_geometry(a) for a in areas]
    circles = [i for i, shaped in enumerate(out) if shaped is None]
    if circles:
        n = len(circles)
        centres = np.array([areas[i]["coordinates"] for i in circles], dtype=np.float64)
        radii_m = np.array([areas[i]["radius_km"] for i in circles], dtype=np.float64) * 1000.0
        lons, lats, _ = GEOD.fwd(
            np.repeat(centres[:, 0], _CIRCLE_POINTS),
            np.repeat(centres[:, 1], _CIRCLE_POINTS),
            np.tile(_AZIMUTHS, n),
            np.repeat(radii_m, _CIRCLE_POINTS),
        )
        rings = np.stack([lons, lats], axis=-1).reshape(n, _CIRCLE_POINTS, 2)
        rings = np.concatenate([rings, rings[:, :1]], axis=1)
        made = shapely.orient_polygons(shapely.polygons(rings), exterior_cw=False)
        for i, shaped in zip(circles, cast(GeomArray, made).tolist(), strict=True):
            out[i] = shaped
    return cast(list[BaseGeometry], out)


# An imported site: key, party, lon, lat, GeoJSON polygon or None for the point, window.
SiteRow = tuple[str, str, float, float, Mapping[str, Any] | None, int | None, int | None]


def site_items(rows: Sequence[SiteRow]) -> list[Item]:
    """Imported protected sites: their points made in one vectorised call (a million take
    seconds, not a minute), or the GeoJSON polygon given."""
    if not rows:
        return []
    coordinates = np.array([(row[2], row[3]) for row in rows], dtype=np.float64)
    points: list[BaseGeometry] = cast(GeomArray, shapely.points(coordinates)).tolist()
    return [
        Item(
            key,
            party,
            "protected_site",
            point if geometry is None else shape(dict(geometry)),
            start_ms,
            end_ms,
        )
        for (key, party, _, _, geometry, start_ms, end_ms), point in zip(rows, points, strict=True)
    ]
