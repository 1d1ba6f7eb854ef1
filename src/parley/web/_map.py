"""The situation map: its page, and the two JSON documents its script draws.

``/console/live/map/situation`` holds what moves (the areas of live notices, the active
deconfliction alerts with their overlaps); the page fetches it again when the live stream says
``map``. ``/console/live/map/sites`` holds this node's imported protected sites, up to hundreds
of thousands of them, as compact rows (the script clusters them): fetched once per page.
Both are fetched by the page's script, so they do not count as the operator's activity. The
sites' document is kept, made once per import (reading 100,000 sites takes about a second).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from parley.clock import format_ms
from parley.services import CATEGORIES, DeconflictionAlert, SiteRecord

from ._i18n import page
from ._pages import LiveSession, PageSession, node_of

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

__all__ = ["router"]

router = APIRouter(prefix="/console", include_in_schema=False)
# How far ahead the time slider reaches: the notices of the coming days.
SLIDER_DAYS = 7
# Degrees to 5 decimals: about a metre, as precise as a map at street level shows.
_DECIMALS = 5
# Below this a body is sent as it is; the sites of a large agreement shrink about fourfold.
_GZIP_FROM = 16_384


@router.get("/map")
def map_page(request: Request, session: PageSession) -> HTMLResponse:
    node = node_of(request)
    context = {"party": node.party, "categories": CATEGORIES, "slider_days": SLIDER_DAYS}
    return page(request, session, "map.html", context, now=node.clock.now())


@router.get("/live/map/situation")
async def situation(request: Request, session: LiveSession) -> Response:
    node = node_of(request)
    seen = await node.deconfliction.situation(session.principal)
    document = {
        "party": node.party,
        "items": [
            {
                "key": item.key,
                "event": item.key.partition("#")[0],
                "area": item.key.partition("#")[2] or None,
                "channel": channel,
                "party": item.party,
                "kind": item.kind,
                **_window(item.start_ms, item.end_ms),
                "geometry": _geojson(item.geometry),
            }
            for item, channel in seen.items
        ],
        "alerts": [_alert(alert, overlap) for alert, overlap in seen.alerts],
    }
    return _Encoded.of(document).response(request)


@dataclass(frozen=True)
class _Encoded:
    """A JSON document as sent: as it is, and gzipped."""

    plain: bytes
    packed: bytes | None  # None: too small to be worth it

    @classmethod
    def of(cls, document: Mapping[str, Any]) -> _Encoded:
        plain = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        packed = gzip.compress(plain, compresslevel=5) if len(plain) >= _GZIP_FROM else None
        return cls(plain, packed)

    def response(self, request: Request) -> Response:
        headers = {"Vary": "Accept-Encoding"}
        body = self.plain
        if self.packed is not None and "gzip" in request.headers.get("accept-encoding", ""):
            body = self.packed
            headers["Content-Encoding"] = "gzip"
        return Response(body, media_type="application/json", headers=headers)


@router.get("/live/map/sites")
def sites(request: Request, session: LiveSession) -> Response:
    node = node_of(request)
    latest = node.sites.latest(session.principal)
    kept: tuple[int, _Encoded] | None = getattr(request.app.state, "console_map_sites", None)
    if kept is None or kept[0] != latest:
        # Sites are only ever added, so the last id names what the document holds; one made
        # while an import commits is made again at the next request.
        kept = (latest, _Encoded.of(_sites(node.sites.listed(session.principal))))
        request.app.state.console_map_sites = kept
    return kept[1].response(request)


def _window(start_ms: int | None, end_ms: int | None) -> dict[str, str | None]:
    return {
        "start": None if start_ms is None else format_ms(start_ms),
        "end": None if end_ms is None else format_ms(end_ms),
    }


def _geojson(geometry: BaseGeometry | None) -> dict[str, Any] | None:
    if geometry is None or geometry.is_empty:
        return None
    from shapely.geometry import mapping  # loaded already: the geometry is shapely's

    shaped: dict[str, Any] = mapping(geometry)
    return shaped


def _alert(alert: DeconflictionAlert, overlap: BaseGeometry | None) -> dict[str, Any]:
    return {
        "event": alert.alert_event,
        "channel": alert.channel,
        "severity": alert.severity,
        "a": _side(alert.a),
        "b": _side(alert.b),
        "area_km2": alert.area_km2,
        "distance_km": alert.distance_km,
        "start": alert.window.get("start"),
        "end": alert.window.get("end"),
        "sites": None if alert.summary is None else alert.summary.get("total"),
        "overlap": _geojson(overlap),
    }


def _side(side: Mapping[str, Any]) -> dict[str, Any]:
    """An alert's side as the map names it: the kind and party, and the site's name when
    it is one (an item of another shape, from another node, is shown by its kind alone)."""
    site = side.get("site")
    name = site.get("name") if isinstance(site, Mapping) else None
    return {
        "key": side.get("key"),
        "party": side.get("party"),
        "kind": side.get("kind"),
        "site": name if isinstance(name, str) else None,
    }


def _sites(listed: Iterable[SiteRecord]) -> dict[str, Any]:
    """Sites as rows ``[lon, lat, category, terms, name]``: the category an index into
    ``categories``, the terms (party, agreement, validity, shared by every site of an import)
    an index into ``terms``."""
    category = {name: i for i, name in enumerate(CATEGORIES)}
    terms: dict[tuple[str, str, int | None, int | None], int] = {}
    rows = []
    for site in listed:
        key = (site.party, site.agreement, site.valid_from_ms, site.valid_until_ms)
        rows.append(
            [
                round(site.lon, _DECIMALS),
                round(site.lat, _DECIMALS),
                category.get(site.category, category["other"]),
                terms.setdefault(key, len(terms)),
                site.name,
            ]
        )
    return {
        "categories": list(CATEGORIES),
        "terms": [
            {"party": party, "agreement": agreement, **_window(start, end)}
            for party, agreement, start, end in terms
        ],
        "sites": rows,
    }
