"""Areas: the checks a JSON Schema cannot state, and turning an Area into a shapely geometry.

shapely and pyproj (with numpy, ~25 MiB) load when an area is first checked or shaped: a node
that has none holds no geometry library.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

from parley.errors import FieldError, InvalidInput

from ._gazetteer import GAZETTEER

if TYPE_CHECKING:
    from pyproj import Geod
    from shapely.geometry import Polygon
    from shapely.geometry.base import BaseGeometry

__all__ = ["CIRCLE_POINTS", "MAX_VERTICES", "area_geometry", "check_area"]

MAX_VERTICES = 10_000
CIRCLE_POINTS = 64
_MAX_POSITION_ERRORS = 10

Ring = Sequence[Sequence[float]]


def check_area(area: Mapping[str, Any], where: str) -> list[FieldError]:
    """What is wrong with a schema-valid Area at ``where`` (``data.area``); empty if nothing."""
    kind = area["type"]
    if kind == "NamedArea":
        if area["name"] not in GAZETTEER:
            known = ", ".join(GAZETTEER)
            return [FieldError(f"{where}.name", f"is not a known area; known areas: {known}")]
        return []
    if kind == "Point":
        return _check_position(area["coordinates"], f"{where}.coordinates")
    polygons: list[tuple[str, Sequence[Ring]]]
    if kind == "Polygon":
        polygons = [(f"{where}.coordinates", area["coordinates"])]
    else:
        polygons = [
            (f"{where}.coordinates.{i}", rings) for i, rings in enumerate(area["coordinates"])
        ]
    positions = sum(len(ring) for _, rings in polygons for ring in rings)
    if positions > MAX_VERTICES:
        return [
            FieldError(
                f"{where}.coordinates",
                f"has {positions:,} positions; the limit is {MAX_VERTICES:,}",
            )
        ]
    errors: list[FieldError] = []
    for path, rings in polygons:
        for r, ring in enumerate(rings):
            errors.extend(_check_ring(ring, f"{path}.{r}"))
    if errors:
        return errors[:_MAX_POSITION_ERRORS]
    import shapely

    geometry = _shape(area)
    if not shapely.is_valid(geometry):
        noun = "polygon" if kind == "Polygon" else "multipolygon"
        reason = shapely.is_valid_reason(geometry)
        errors.append(FieldError(f"{where}.coordinates", f"is not a valid {noun}: {reason}"))
    return errors


def _check_ring(ring: Ring, where: str) -> list[FieldError]:
    errors: list[FieldError] = []
    for i, position in enumerate(ring):
        errors.extend(_check_position(position, f"{where}.{i}"))
        if len(errors) >= _MAX_POSITION_ERRORS:
            return errors
    if len(ring) < 4:
        errors.append(
            FieldError(
                where,
                f"a ring needs at least 4 positions, the last equal to "
                f"the first; it has {len(ring)}",
            )
        )
    elif list(ring[0]) != list(ring[-1]):
        errors.append(FieldError(where, "is not closed: the last position must equal the first"))
    return errors


def _check_position(position: Sequence[float], where: str) -> list[FieldError]:
    lon, lat = position
    errors = []
    if not -180 <= lon <= 180:
        errors.append(FieldError(f"{where}.0", "must be a longitude between -180 and 180"))
    if not -90 <= lat <= 90:
        errors.append(FieldError(f"{where}.1", "must be a latitude between -90 and 90"))
    return errors


def _shape(area: Mapping[str, Any]) -> BaseGeometry:
    from shapely.geometry import MultiPolygon, Polygon

    if area["type"] == "Polygon":
        shell, *holes = area["coordinates"]
        return Polygon(shell, holes)
    return MultiPolygon([(rings[0], rings[1:]) for rings in area["coordinates"]])


@cache
def _named(name: str) -> BaseGeometry:
    from shapely.geometry import shape

    return shape(dict(GAZETTEER[name].geometry))


@cache
def _geod() -> Geod:
    from pyproj import Geod

    return Geod(ellps="WGS84")


def _circle(lon: float, lat: float, radius_km: float) -> Polygon:
    from shapely.geometry import Polygon
    from shapely.geometry.polygon import orient

    azimuths = [i * 360.0 / CIRCLE_POINTS for i in range(CIRCLE_POINTS)]
    lons, lats, _ = _geod().fwd(
        [lon] * CIRCLE_POINTS, [lat] * CIRCLE_POINTS, azimuths, [radius_km * 1000.0] * CIRCLE_POINTS
    )
    return orient(Polygon(list(zip(lons, lats, strict=True))), 1.0)


def area_geometry(area: Mapping[str, Any]) -> BaseGeometry:
    """The shapely geometry of a (validated) Area, in WGS84 lon/lat.

    A NamedArea comes from the gazetteer; a Point with ``radius_km`` becomes a geodesic circle
    of ``CIRCLE_POINTS`` points; Polygon and MultiPolygon are taken as they are. Areas crossing
    the antimeridian are not handled.
    """
    kind = area.get("type") if isinstance(area, Mapping) else None
    if kind == "NamedArea":
        name = area.get("name")
        if isinstance(name, str) and name in GAZETTEER:
            return _named(name)
        raise InvalidInput.for_field(
            "area.name", f"is not a known area; known areas: {', '.join(GAZETTEER)}"
        )
    if kind == "Point":
        (lon, lat), radius = area["coordinates"], area["radius_km"]
        if not (math.isfinite(radius) and radius > 0):
            raise InvalidInput.for_field("area.radius_km", "must be greater than 0")
        return _circle(float(lon), float(lat), float(radius))
    if kind in ("Polygon", "MultiPolygon"):
        return _shape(area)
    raise InvalidInput.for_field(
        "area.type", "must be one of Polygon, MultiPolygon, Point, NamedArea"
    )
