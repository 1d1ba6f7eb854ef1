"""The gazetteer: named sea areas a form may refer to as ``{"type": "NamedArea", "name": ...}``.

The outlines in ``gazetteer.json`` are approximate (see its ``about`` key); each area carries a
display label per supported locale.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Any

__all__ = ["GAZETTEER", "GazetteerArea"]


@dataclass(frozen=True)
class GazetteerArea:
    """One named area: its id, a label per locale (ar, en, ru, uk) and a GeoJSON Polygon."""

    name: str
    labels: Mapping[str, str]
    geometry: Mapping[str, Any]


def _load() -> Mapping[str, GazetteerArea]:
    text = resources.files(__package__).joinpath("gazetteer.json").read_text("utf-8")
    raw = json.loads(text)
    return MappingProxyType(
        {
            name: GazetteerArea(name, MappingProxyType(dict(entry["labels"])), entry["geometry"])
            for name, entry in sorted(raw["areas"].items())
        }
    )


GAZETTEER: Mapping[str, GazetteerArea] = _load()
