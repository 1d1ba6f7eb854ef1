"""Response bodies of deconfliction: what an area meets, and the alerts per pair.

An alert's sides, window and summary are as the signed alert says them, which may come from
another party's node: a ``site`` or ``summary`` of another shape is shown as it is.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from parley.services import Meeting

from ._answers import Answer
from ._values import ItemKind, Severity, Timestamp

__all__ = ["CheckOut", "DeconflictionAlertOut", "MatchOut", "SideOut", "WindowOut"]


class SiteOut(Answer):
    name: str
    category: str
    agreement: str
    coordinates: list[float] = Field(description="[lon, lat]")


class SideOut(Answer):
    """An item as an alert names it: a notified item by its event, an imported site by what
    and where it is (the other side has never seen it)."""

    # ``event`` or ``site``: the one it has is in the answer, not the other.
    model_config = ConfigDict(json_schema_serialization_defaults_required=False)

    key: str
    party: str
    kind: ItemKind
    event: str | None = Field(default=None, exclude_if=lambda v: v is None)
    site: SiteOut | dict[str, Any] | None = Field(default=None, exclude_if=lambda v: v is None)


class WindowOut(Answer):
    start: Timestamp | None = Field(description="null: unbounded")
    end: Timestamp | None = Field(description="null: unbounded")


class SummaryOut(Answer):
    total: int = Field(description="how many of this node's sites the item meets")
    alerted: int = Field(description="how many of them have an alert of their own")
    by_category: dict[str, int]


class MatchOut(Answer):
    item: SideOut
    area_km2: float
    distance_km: float
    touching: bool = Field(description="they meet only along boundaries")
    window: WindowOut
    severity: Severity

    @classmethod
    def of(cls, meeting: Meeting) -> MatchOut:
        match = meeting.match
        return cls(
            item=SideOut.model_validate(meeting.item),
            area_km2=round(match.area_km2, 3),
            distance_km=round(match.distance_km, 3),
            touching=match.touching,
            window=WindowOut.model_validate({"start": match.start_ms, "end": match.end_ms}),
            severity=meeting.severity,
        )


class CheckOut(Answer):
    count: int
    items: list[MatchOut]


class DeconflictionAlertOut(Answer):
    alert_event: str
    channel: str
    severity: Severity
    a: SideOut
    b: SideOut
    area_km2: float
    distance_km: float
    window: WindowOut
    summary: SummaryOut | dict[str, Any] | None = Field(
        description="for the one alert of an item against many of a node's sites"
    )
    agreement: str | None = Field(
        description="the agreement in force one of the items risks violating (its id)"
    )
    raised_by: str
    created_at: Timestamp = Field(validation_alias="created_ms")
    withdrawn_event: str | None
    withdrawn_at: Timestamp | None = Field(validation_alias="withdrawn_ms")
