"""Deconfliction: a pure spatio-temporal index of declared areas (DESIGN.md "Deconfliction").

No database, no network. ``SpaceTimeIndex`` holds ``Item``s (an activity, launch, presence
or protected-site area of a party for a half-open time window) and answers which of them a
new item meets (``overlaps_for`` -> ``Overlap`` with a ``severity``) or which meet any shape
and window (``query`` -> ``Match``); ``notice_items`` (``notices_items`` for many) and
``site_items`` make items of notifications and imported sites. Shapes are WGS84 lon/lat, cut
at the antimeridian into [-180, 180] (``normalize``); areas and distances are geodesic on the
WGS84 ellipsoid.

The index, the geodesy and the making of items need numpy, shapely and pyproj (~25 MiB): they
load when one of their names is first asked for, so a node without areas holds none of them.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ._agreements import agreement_items, agreement_of
from ._items import KINDS, SEVERITIES, Item, Match, Overlap, severity

if TYPE_CHECKING:
    from ._geo import geodesic_area_km2, geodesic_distances_km, normalize
    from ._index import SpaceTimeIndex
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

_GEOMETRIC = {
    "geodesic_area_km2": "._geo",
    "geodesic_distances_km": "._geo",
    "normalize": "._geo",
    "SpaceTimeIndex": "._index",
    "NOTICE_FORMS": "._notices",
    "Notice": "._notices",
    "SiteRow": "._notices",
    "notice_items": "._notices",
    "notices_items": "._notices",
    "site_items": "._notices",
}


def __getattr__(name: str) -> Any:
    module = _GEOMETRIC.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value  # asked once: later lookups do not come here
    return value
