"""Geometry conventions of the index: normalising lon/lat, geodesic areas and distances.

Convention (WGS84 lon/lat, degrees):

* Everything indexed or queried lies within longitude [-180, 180] and latitude [-90, 90].
* A polygon edge is the shorter way round in longitude: an edge whose ends differ by more
  than 180° crosses the antimeridian (a ring ``170 → -170`` is 20° wide, not 340°). This is
  how a geodesic circle from ``parley.forms.area_geometry`` near 180° comes out, and matches
  RFC 7946 §3.1.9. A polygon may also be given with longitudes beyond ±180 (``170 → 190``).
  Either way it is cut at ±180 into a MultiPolygon whose parts lie in [-180, 180].
* A ring that winds once around a pole (its unwrapped longitudes end 360° from where they
  started, e.g. a circle of 50 km around a point at 89.8° N) is closed over that pole.
* A polygon's edges are straight lines in lon/lat for the intersection tests (that is how
  shapely sees them); areas are geodesic (pyproj, ellipsoid WGS84) over the same vertices.
* Points beyond ±180 are wrapped into [-180, 180].
"""

from __future__ import annotations

import math
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import Geod
from shapely import affinity, lib
from shapely.geometry import MultiPolygon, Polygon, box
from shapely.geometry.base import BaseGeometry

__all__ = [
    "GEOD",
    "geodesic_area_km2",
    "geodesic_distances_km",
    "needs_normalizing",
    "normalize",
    "normalize_unchecked",
    "plain_bounds",
]

GEOD: Final = Geod(ellps="WGS84")

_POINT, _POLYGON, _MULTIPOINT, _MULTIPOLYGON, _COLLECTION = 0, 3, 4, 6, 7
_POLYGONAL: Final = (_POLYGON, _MULTIPOLYGON)
_MAY_CROSS: Final = (*_POLYGONAL, _COLLECTION)  # may have an edge across the antimeridian


def needs_normalizing(
    bounds: npt.NDArray[np.float64], types: npt.NDArray[np.integer[Any]]
) -> npt.NDArray[np.bool_]:
    """Which geometries (by their bounds and type ids) may need ``normalize``; vectorised.

    Raises ValueError for an empty geometry, a non-finite coordinate or a latitude beyond ±90.
    """
    if not np.isfinite(bounds).all():
        raise ValueError("a geometry is empty or has a non-finite coordinate")
    if (bounds[:, 1] < -90).any() or (bounds[:, 3] > 90).any():
        raise ValueError("a latitude is beyond ±90")
    outside = (bounds[:, 0] < -180) | (bounds[:, 2] > 180)
    wide = (bounds[:, 2] - bounds[:, 0] > 180) & np.isin(types, _MAY_CROSS)
    result: npt.NDArray[np.bool_] = outside | wide
    return result


def normalize(geometry: BaseGeometry) -> BaseGeometry:
    """The geometry in the index's convention (see the module docstring); often itself.

    Raises ValueError for an empty geometry, a non-finite coordinate or a latitude beyond ±90.
    """
    minx, miny, maxx, maxy = geometry.bounds
    if not (math.isfinite(minx) and math.isfinite(maxx)):
        raise ValueError("a geometry is empty or has a non-finite coordinate")
    if not (math.isfinite(miny) and math.isfinite(maxy)) or miny < -90 or maxy > 90:
        raise ValueError("a latitude is beyond ±90")
    inside = minx >= -180 and maxx <= 180
    if inside and (maxx - minx <= 180 or shapely.get_type_id(geometry) not in _MAY_CROSS):
        return geometry
    return normalize_unchecked(geometry)


def plain_bounds(geometry: BaseGeometry) -> tuple[float, float, float, float] | None:
    """The bounds of a geometry that ``normalize`` leaves as it is and that is one part
    clear of ±180 (most notices); None for any other geometry, bad ones included."""
    # The ufunc itself: ``geometry.bounds`` goes through two wrappers, on every check.
    minx, miny, maxx, maxy = lib.bounds(geometry).tolist()
    # Comparisons with NaN are false: an empty geometry is not plain.
    if minx > -180 and maxx < 180 and maxx - minx <= 180 and miny >= -90 and maxy <= 90:
        return (minx, miny, maxx, maxy) if shapely.get_type_id(geometry) < _MULTIPOINT else None
    return None


def normalize_unchecked(geometry: BaseGeometry) -> BaseGeometry:
    """``normalize`` without its quick test of whether anything needs doing."""
    kind = shapely.get_type_id(geometry)
    if kind in (_POINT, _MULTIPOINT):
        coords = shapely.get_coordinates(geometry)
        coords[:, 0] = _wrap(coords[:, 0])
        return shapely.set_coordinates(geometry, coords)
    if kind in _POLYGONAL:
        polygons = shapely.get_parts(geometry)
        pieces = [_split(_unwrapped(polygon)) for polygon in polygons]
        if all(len(p) == 1 and p[0] is q for p, q in zip(pieces, polygons, strict=True)):
            return geometry  # e.g. a MultiPolygon already cut at the antimeridian
        parts = [part for split in pieces for part in split]
        if len(parts) == 1:
            return parts[0]
        # Pieces of one polygon cut apart may share an edge (a ring around a pole): merge.
        merged = shapely.union_all(parts)
        return merged if isinstance(merged, Polygon | MultiPolygon) else MultiPolygon(parts)
    if kind == _COLLECTION:
        return shapely.GeometryCollection(
            [normalize_unchecked(g) for g in shapely.get_parts(geometry)]
        )
    if shapely.bounds(geometry)[0] >= -180 and shapely.bounds(geometry)[2] <= 180:
        return geometry  # a line: taken as it is
    raise ValueError(f"cannot normalise a {geometry.geom_type} beyond ±180")


def _wrap(lon: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    inside = (lon >= -180) & (lon <= 180)
    wrapped: npt.NDArray[np.float64] = np.where(inside, lon, (lon + 180) % 360 - 180)
    return wrapped


def _unwrap_ring(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Longitudes made continuous: each step taken the shorter way round.

    A step of exactly 360° (from -180 to 180: a ring around a whole circle of latitude, as in
    ``box(-180, 80, 180, 90)``) is taken as given.
    """
    steps = np.diff(coords[:, 0])
    steps -= 360.0 * np.where(np.abs(steps) == 360.0, 0.0, np.round(steps / 360.0))
    out = coords.copy()
    out[1:, 0] = coords[0, 0] + np.cumsum(steps)
    return out


def _unwrapped(polygon: Polygon) -> BaseGeometry:
    given = shapely.get_coordinates(polygon.exterior)
    shell = _unwrap_ring(given)
    if not polygon.interiors and np.array_equal(shell, given):
        return polygon  # no edge across the antimeridian
    turn = shell[-1, 0] - shell[0, 0]
    if abs(turn) > 1e-9:  # winds around a pole: close the ring over it
        pole = 90.0 if shell[:, 1].mean() > 0 else -90.0
        shell = np.vstack([shell, [[shell[-1, 0], pole], [shell[0, 0], pole]], shell[:1]])
    centre = (shell[:, 0].min() + shell[:, 0].max()) / 2
    holes = []
    for ring in polygon.interiors:
        hole = _unwrap_ring(shapely.get_coordinates(ring))
        hole[:, 0] += 360.0 * np.round((centre - hole[0, 0]) / 360.0)
        holes.append(hole)
    result: BaseGeometry = Polygon(shell, holes)
    if not result.is_valid:
        result = shapely.make_valid(result)
    return result


def _split(geometry: BaseGeometry) -> list[Polygon]:
    """The polygonal parts of ``geometry`` cut at every ±180 + k·360 and moved into range."""
    minx, _, maxx, _ = geometry.bounds
    parts: list[Polygon] = []
    first, last = math.floor((minx + 180) / 360), math.ceil((maxx + 180) / 360) - 1
    if first == last == 0 and isinstance(geometry, Polygon):
        return [geometry]
    for k in range(first, max(first, last) + 1):
        shift = 360.0 * k
        piece = shapely.intersection(geometry, box(-180 + shift, -90, 180 + shift, 90))
        for part in shapely.get_parts(piece):
            if isinstance(part, Polygon) and not part.is_empty and part.area > 0:
                parts.append(affinity.translate(part, -shift) if shift else part)
    if not parts:
        raise ValueError("the polygon has no area")
    return parts


def geodesic_area_km2(geometry: BaseGeometry) -> float:
    """Geodesic area of the polygonal parts of ``geometry`` (holes subtracted), in km²."""
    return _area_m2(geometry) / 1e6


def _area_m2(geometry: BaseGeometry) -> float:
    total = 0.0
    for part in shapely.get_parts(geometry):
        kind = shapely.get_type_id(part)
        if kind in (_MULTIPOLYGON, _COLLECTION):
            total += _area_m2(part)
        elif kind == _POLYGON:
            total += _ring_area(part.exterior)
            total -= sum(_ring_area(ring) for ring in part.interiors)
    return total


def _ring_area(ring: BaseGeometry) -> float:
    coords = shapely.get_coordinates(ring)
    area, _ = GEOD.polygon_area_perimeter(coords[:, 0], coords[:, 1])
    return abs(float(area))


def geodesic_distances_km(
    a: BaseGeometry | npt.NDArray[np.object_], b: npt.NDArray[np.object_]
) -> npt.NDArray[np.float64]:
    """Geodesic distance between ``a`` (one geometry, or one per row) and each of ``b``, in km.

    0 where they intersect. The nearest points are found in lon/lat (shapely) and measured on
    the ellipsoid, trying ``a`` moved by -360, 0 and +360 so neighbours across the
    antimeridian are near. Exact for points; for shapes an upper bound, close at regional
    distances.
    """
    best = np.full(len(b), np.inf)
    if len(b) == 0:
        return best
    for shift in (-360.0, 0.0, 360.0):
        step = np.array([shift, 0.0])
        moved = shapely.transform(a, lambda xy, step=step: xy + step) if shift else a
        lines = shapely.shortest_line(moved, b)
        ends = shapely.get_coordinates(lines).reshape(-1, 2, 2)
        _, _, metres = GEOD.inv(ends[:, 0, 0], ends[:, 0, 1], ends[:, 1, 0], ends[:, 1, 1])
        best = np.minimum(best, np.asarray(metres, dtype=np.float64) / 1000.0)
    result: npt.NDArray[np.float64] = best
    return result
