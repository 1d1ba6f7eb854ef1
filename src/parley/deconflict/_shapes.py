"""Shape arrays for the index's searches: seam copies, single parts and margin boxes."""

from __future__ import annotations

import math
from typing import Final

import numpy as np
import numpy.typing as npt
import shapely
from shapely import affinity
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

__all__ = ["GeomArray", "IntArray", "margin_boxes", "parts", "seam_copies", "welded"]

_FIRST_MULTI: Final = 4  # type ids 4-7: MultiPoint, MultiLineString, MultiPolygon, Collection
_KM_PER_DEG_LAT: Final = 110.574  # the least, at the equator
_KM_PER_DEG_LON: Final = 111.320  # at the equator

IntArray = npt.NDArray[np.int64]
GeomArray = npt.NDArray[np.object_]

_NO_SHAPES: Final[GeomArray] = np.empty(0, dtype=object)
_NO_INTS: Final[IntArray] = np.empty(0, dtype=np.int64)


def welded(shape: BaseGeometry) -> BaseGeometry:
    """``shape`` with its copies 360° east and west, merged: no edge left along ±180."""
    east, west = affinity.translate(shape, 360.0), affinity.translate(shape, -360.0)
    return shapely.union_all([west, shape, east])


def seam_copies(shapes: GeomArray) -> tuple[GeomArray, IntArray]:
    """Copies of the shapes reaching ±180 moved by ∓360°, to meet items just across; owners."""
    if len(shapes) == 1:
        minx, _, maxx, _ = shapes[0].bounds
        if minx > -180 and maxx < 180:
            return _NO_SHAPES, _NO_INTS
    bounds = shapely.bounds(shapes)
    if not ((bounds[:, 2] >= 180) | (bounds[:, 0] <= -180)).any():
        return _NO_SHAPES, _NO_INTS
    copies: list[BaseGeometry] = []
    owners: list[int] = []
    for i in np.flatnonzero(bounds[:, 2] >= 180).tolist():
        copies.append(affinity.translate(shapes[i], -360.0))
        owners.append(i)
    for i in np.flatnonzero(bounds[:, 0] <= -180).tolist():
        copies.append(affinity.translate(shapes[i], 360.0))
        owners.append(i)
    array: GeomArray = np.empty(len(copies), dtype=object)
    array[:] = copies
    return array, np.array(owners, dtype=np.int64)


def parts(shapes: GeomArray, owner: IntArray) -> tuple[GeomArray, IntArray]:
    """The single parts of ``shapes`` (one cut at the antimeridian has two far apart)."""
    multi = shapely.get_type_id(shapes) >= _FIRST_MULTI
    if not multi.any():
        return shapes, owner
    parts, index = shapely.get_parts(shapes[multi], return_index=True)
    return (
        np.concatenate([shapes[~multi], parts]),
        np.concatenate([owner[~multi], owner[multi][index]]),
    )


def margin_boxes(shapes: GeomArray, margin_km: float) -> tuple[GeomArray, IntArray]:
    """Boxes holding every point within ``margin_km`` of each shape (generously); owners."""
    boxes: list[BaseGeometry] = []
    owners: list[int] = []
    pad = 1.1  # safety: the ellipsoid, and geodesics bulging poleward
    for i, (minx, miny, maxx, maxy) in enumerate(shapely.bounds(shapes).tolist()):
        lat_lo = max(-90.0, miny - pad * margin_km / _KM_PER_DEG_LAT)
        lat_hi = min(90.0, maxy + pad * margin_km / _KM_PER_DEG_LAT)
        cos = math.cos(math.radians(max(abs(lat_lo), abs(lat_hi))))
        dlon = 360.0 if cos < 1e-6 else pad * margin_km / (_KM_PER_DEG_LON * cos)
        lo, hi = minx - dlon, maxx + dlon
        if hi - lo >= 360:
            mine = [box(-180, lat_lo, 180, lat_hi)]
        else:
            mine = [box(max(lo, -180.0), lat_lo, min(hi, 180.0), lat_hi)]
            if lo <= -180:
                mine.append(box(lo + 360.0, lat_lo, 180.0, lat_hi))
            if hi >= 180:
                mine.append(box(-180.0, lat_lo, hi - 360.0, lat_hi))
        boxes.extend(mine)
        owners.extend([i] * len(mine))
    array: GeomArray = np.empty(len(boxes), dtype=object)
    array[:] = boxes
    return array, np.array(owners, dtype=np.int64)
