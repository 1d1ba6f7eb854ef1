"""Request bodies. Strict: a string is never silently turned into a number."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from parley.protocol import MemberRole, Precedence
from parley.services import Role

from ._values import ChannelStatus, ItemKind, Lax

__all__ = [
    "CancelIn",
    "ChannelIn",
    "ChannelStatusIn",
    "DeconflictionCheckIn",
    "LanguageIn",
    "LoginIn",
    "MessageIn",
    "NotificationIn",
    "OperatorIn",
    "PartyIn",
    "PeerUrlsIn",
    "TranslationIn",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class LoginIn(_Strict):
    # Bounded as an operator name is: the throttle and the audit log keep it.
    username: str = Field(max_length=64)
    password: str


class OperatorIn(_Strict):
    username: str
    role: Lax[Role]
    password: str
    person: str = Field(
        max_length=64,
        description="who is behind the account, e.g. a service number: one account per person",
    )


class PartyIn(_Strict):
    party: str
    name: str
    key: str = Field(description="base64 of the raw 32-byte Ed25519 public key")
    urls: list[str] = Field(default=[], description="URLs of its node, tried in order")


class PeerUrlsIn(_Strict):
    urls: list[str] = Field(description="URLs of its node, tried in order; none: stop calling it")


class ChannelStatusIn(_Strict):
    status: ChannelStatus
    reason: str


class ChannelIn(_Strict):
    name: str
    members: dict[str, Lax[MemberRole]] = Field(description="other parties and their role")
    two_person: bool = Field(default=False, description="notifications need a second person")
    deadlines: dict[str, int] = Field(default={}, description="form name -> ack deadline, s")


class NotificationIn(_Strict):
    form: str = Field(description="form id, e.g. military_activity/1 (see GET /api/v1/forms)")
    data: dict[str, Any]
    precedence: Lax[Precedence] = Precedence.ROUTINE
    supersedes: str | None = Field(
        default=None, description="id of this party's earlier notification that this amends"
    )


class CancelIn(_Strict):
    reason: str


class DeconflictionCheckIn(_Strict):
    area: Any = Field(
        description="a form Area (GeoJSON Polygon or MultiPolygon, Point with radius_km, "
        "NamedArea) or a GeoJSON Point"
    )
    window: Any = Field(description="{start, end}: UTC timestamps, half-open")
    margin_km: float = Field(default=0.0, description="also what lies within this distance")
    kind: ItemKind = Field(default="activity", description="severities as for an item of this kind")


class TranslationIn(_Strict):
    lang: str
    text: str


class LanguageIn(_Strict):
    lang: str = Field(description="ar, en, ru or uk")


class MessageIn(_Strict):
    precedence: Lax[Precedence]
    text: str
    lang: str = Field(description="BCP 47 language tag of the text, e.g. ar, en, ru, uk")
