"""Deconfliction: a pure spatio-temporal index of declared areas (DESIGN.md "Deconfliction").

No database, no network. ``SpaceTimeIndex`` holds ``Item``s (an activity, launch, presence
or protected-site area of a party for a half-open time window) and answers which of them a
new item meets (``overlaps_for`` -> ``Overlap`` with a ``severity``) or which meet any shape
and window (``query`` -> ``Match``). Shapes are WGS84 lon/lat, cut at the antimeridian into
[-180, 180] (``normalize``); areas and distances are geodesic on the WGS84 ellipsoid.
"""

from ._geo import geodesic_area_km2, geodesic_distances_km, normalize
from ._index import KINDS, SEVERITIES, Item, Match, Overlap, SpaceTimeIndex, severity

__all__ = [
    "KINDS",
    "SEVERITIES",
    "Item",
    "Match",
    "Overlap",
    "SpaceTimeIndex",
    "geodesic_area_km2",
    "geodesic_distances_km",
    "normalize",
    "severity",
]
