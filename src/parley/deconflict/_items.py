"""What the index holds and answers: items, matches, overlaps, and the severity of a meeting."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

__all__ = [
    "KINDS",
    "NO_END",
    "NO_START",
    "SEVERITIES",
    "Item",
    "Match",
    "Overlap",
    "check_window",
    "severity",
]

KINDS: Final = ("activity", "launch", "presence", "protected_site")
SEVERITIES: Final = ("critical", "high", "medium", "low")
_AREA_KINDS: Final = frozenset({"activity", "launch"})
# Unbounded window ends: int64 sentinels, so the time filter is two numpy comparisons
# (written out: this module loads without numpy).
NO_START: Final = -(2**63)
NO_END: Final = 2**63 - 1


@dataclass(frozen=True, slots=True)
class Item:
    """One area (or point) declared by a party for a time window.

    ``key`` is unique in an index (an event id, or ``"<event_id>#launch_area"`` for one of a
    launch's two areas); ``geometry`` is WGS84 lon/lat; the window is half-open
    ``[start_ms, end_ms)`` in epoch milliseconds, ``None`` meaning unbounded on that side.
    """

    key: str
    party: str
    kind: str
    geometry: BaseGeometry
    start_ms: int | None = None
    end_ms: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        check_window(self.start_ms, self.end_ms)


@dataclass(frozen=True, slots=True)
class Match:
    """How an indexed item meets a queried shape and window.

    ``touching``: they meet only along boundaries (``area_km2`` is 0). ``distance_km`` is 0
    when they meet, else the geodesic gap (only with ``margin_km``). The window is the
    overlap of both windows, ``None`` where both are unbounded.
    """

    area_km2: float
    distance_km: float
    start_ms: int | None
    end_ms: int | None
    touching: bool


@dataclass(frozen=True, slots=True)
class Overlap:
    """A conflict between two items of different parties; ``a < b`` are their keys."""

    a: str
    b: str
    area_km2: float
    distance_km: float
    start_ms: int | None
    end_ms: int | None
    severity: str


def severity(kind_a: str, kind_b: str, *, touching: bool, distance_km: float = 0.0) -> str:
    """The severity of two kinds of item meeting.

    ``critical``: a protected site inside or overlapping an activity or launch area;
    ``high``: a declared presence inside an activity or launch area; ``medium``: two activity
    or launch areas overlapping; ``low``: touching only (or only near, with a margin), and
    every other pair (presence/presence, presence/protected site, site/site).
    """
    if touching or distance_km > 0:
        return "low"
    kinds = {kind_a, kind_b}
    areas = kinds & _AREA_KINDS
    if kind_a in _AREA_KINDS and kind_b in _AREA_KINDS:
        return "medium"
    if areas and "protected_site" in kinds:
        return "critical"
    if areas and "presence" in kinds:
        return "high"
    return "low"


def check_window(start_ms: int | None, end_ms: int | None) -> None:
    for value in (start_ms, end_ms):
        if value is not None and not NO_START < value < NO_END:
            raise ValueError("a window end is out of range")
    if start_ms is not None and end_ms is not None and end_ms <= start_ms:
        raise ValueError(f"the window is empty: end {end_ms} is not after start {start_ms}")
