"""Deconfliction: a pure spatio-temporal index of declared areas (DESIGN.md "Deconfliction").

No database, no network. ``SpaceTimeIndex`` holds ``Item``s (an activity, launch, presence
or protected-site area of a party for a half-open time window) and answers which of them a
new item meets (``overlaps_for`` -> ``Overlap`` with a ``severity``) or which meet any shape
and window (``query`` -> ``Match``); ``notice_items`` (``notices_items`` for many) and
``site_items`` make items of notifications and imported sites. Shapes are WGS84 lon/lat, cut
at the antimeridian into [-180, 180] (``normalize``); areas and distances are geodesic on the
WGS84 ellipsoid.
"""

from ._agreements import agreement_items, agreement_of
from ._geo import geodesic_area_km2, geodesic_distances_km, normalize
from ._index import SpaceTimeIndex
from ._items import KINDS, SEVERITIES, Item, Match, Overlap, severity
from ._notices import NOTICE_FORMS, Notice, SiteRow, notice_items, notices_items, site_items

__all__ = [
    "KINDS",
    "NOTICE_FORMS",
    "SEVERITIES",
    "Item",
    "Match",
    "Notice",
    "Overlap",
    "SiteRow",
    "SpaceTimeIndex",
    "agreement_items",
    "agreement_of",
    "geodesic_area_km2",
    "geodesic_distances_km",
    "normalize",
    "notice_items",
    "notices_items",
    "severity",
    "site_items",
]
