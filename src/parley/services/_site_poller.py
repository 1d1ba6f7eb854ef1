"""This node's imported protected sites, as index items, taken in while the node runs.

``parley sites import`` writes to the store from another process; the poller compares the
highest site id stored with the last one it took (one cheap read; imports commit in id
order) and reads only the newer ones.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from parley import deconflict  # its geometry libraries load with the first site
from parley.store import SiteShape

from ._context import NodeContext

if TYPE_CHECKING:
    from parley.deconflict import Item, SiteRow, SpaceTimeIndex

__all__ = ["SitePoller", "site_key", "site_rows"]

_log = logging.getLogger(__name__)
_SITE_PAGE = 50_000


def site_key(node_party: str, site_id: int) -> str:
    """The key of an imported site: unique across nodes, as the other side records it."""
    return f"site:{node_party}:{site_id}"


def site_rows(node_party: str, shapes: Sequence[SiteShape]) -> list[SiteRow]:
    """Imported sites as stored, as the index makes items of them."""
    return [
        (
            site_key(node_party, sid),
            party,
            lon,
            lat,
            None if geometry is None else json.loads(geometry),
            start,
            end,
        )
        for sid, party, lon, lat, geometry, start, end in shapes
    ]


class SitePoller:
    def __init__(self, ctx: NodeContext) -> None:
        self._ctx = ctx
        self._after = 0  # the highest site id taken

    def has_new(self) -> bool:
        return self._ctx.store.last_site_id() > self._after

    def take(self) -> list[Item]:
        """Sites stored since the last call, as items."""
        items: list[Item] = []
        while shapes := self._ctx.store.site_shapes(self._after, _SITE_PAGE):
            items.extend(deconflict.site_items(site_rows(self._ctx.party, shapes)))
            self._after = shapes[-1][0]
        return items

    def take_into(self, index: SpaceTimeIndex) -> list[Item]:
        """The new sites, added to ``index`` as any new item goes: into its delta; a large
        import in one bulk load (one rebuild)."""
        sites = self.take()
        if len(sites) > self._ctx.settings.deconfliction_rebuild_threshold:
            index.bulk_load(sites)
        else:
            for site in sites:
                index.add(site)
        _log.info("deconfliction index: %d imported sites taken in", len(sites))
        return sites
