"""Items of an agreement in force: the sites and areas its scope protects.

A site belongs to the party its scope names. An area protects every party's side at once:
it is one item per party of the agreement, so an activity of any of them inside it meets
the copies of the others.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from parley.forms import area_geometry

from ._items import Item

__all__ = ["agreement_items", "agreement_of"]

_PREFIX = "agreement:"


def agreement_items(
    agreement: str,
    parties: Sequence[str],
    scope: Mapping[str, Any],
    start_ms: int | None,
    end_ms: int | None,
) -> list[tuple[Item, Mapping[str, Any]]]:
    """Each protected item of the scope with what an alert says of it (name, category)."""
    made: list[tuple[Item, Mapping[str, Any]]] = []
    for i, site in enumerate(scope.get("sites", [])):
        key = f"{_PREFIX}{agreement}:site:{i}"
        shape = area_geometry(site["location"])
        item = Item(key, site["party"], "protected_site", shape, start_ms, end_ms)
        made.append((item, {"name": site["name"], "category": site["category"]}))
    for i, area in enumerate(scope.get("areas", [])):
        shape = area_geometry(area)
        for party in parties:
            key = f"{_PREFIX}{agreement}:area:{i}:{party}"
            item = Item(key, party, "protected_site", shape, start_ms, end_ms)
            made.append((item, {"name": f"area {i + 1}", "category": "area"}))
    return made


def agreement_of(key: str) -> str | None:
    """The agreement whose scope an item key belongs to, or None."""
    if not key.startswith(_PREFIX):
        return None
    return key[len(_PREFIX) :].partition(":")[0]
