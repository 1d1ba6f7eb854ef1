"""Response bodies of deconfliction: what an area meets, and the alerts per pair.

An alert's sides, window and summary are as the signed alert says them, which may come from
another party's node: a ``site`` or ``summary`` of another shape is shown as it is.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from parley.clock import format_ms
from parley.services import DeconflictionAlert, Meeting

from ._values import ItemKind, Severity, Timestamp, at

__all__ = ["CheckOut", "DeconflictionAlertOut", "MatchOut", "SideOut", "WindowOut"]


class SiteOut(BaseModel):
    name: str
    category: str
    agreement: str
    coordinates: list[float] = Field(description="[lon, lat]")


class SideOut(BaseModel):
    """An item as an alert names it: a notified item by its event, an imported site by what
    and where it is (the other side has never seen it)."""

    key: str
    party: str
    kind: ItemKind
    event: str | None = Field(default=None, exclude_if=lambda v: v is None)
    site: SiteOut | dict[str, Any] | None = Field(default=None, exclude_if=lambda v: v is None)


class WindowOut(BaseModel):
    start: Timestamp | None = Field(description="null: unbounded")
    end: Timestamp | None = Field(description="null: unbounded")


class SummaryOut(BaseModel):
    total: int = Field(description="how many of this node's sites the item meets")
    alerted: int = Field(description="how many of them have an alert of their own")
    by_category: dict[str, int]


class MatchOut(BaseModel):
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
            window=WindowOut(start=at(match.start_ms), end=at(match.end_ms)),
            severity=meeting.severity,
        )


class CheckOut(BaseModel):
    count: int
    items: list[MatchOut]


class DeconflictionAlertOut(BaseModel):
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
    raised_by: str
    created_at: Timestamp
    withdrawn_event: str | None
    withdrawn_at: Timestamp | None

    @classmethod
    def of(cls, alert: DeconflictionAlert) -> DeconflictionAlertOut:
        return cls.model_validate(
            {
                "alert_event": alert.alert_event,
                "channel": alert.channel,
                "severity": alert.severity,
                "a": alert.a,
                "b": alert.b,
                "area_km2": alert.area_km2,
                "distance_km": alert.distance_km,
                "window": alert.window,
                "summary": alert.summary,
                "raised_by": alert.raised_by,
                "created_at": format_ms(alert.created_ms),
                "withdrawn_event": alert.withdrawn_event,
                "withdrawn_at": at(alert.withdrawn_ms),
            }
        )
