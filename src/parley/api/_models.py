"""Request bodies. Strict: a string is never silently turned into a number."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from parley.protocol import PARTY_ID_PATTERN, MemberRole, Precedence
from parley.services import Role

from ._values import (
    ChannelStatus,
    Deadline,
    EventId,
    FormId,
    FormName,
    ItemKind,
    LanguageTag,
    Lax,
    Locale,
    OperatorName,
    PartyId,
    Password,
    PeerUrl,
    PublicKey,
    stated,
)

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
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"username": "duty1", "password": "correct horse battery staple"}]
        }
    )

    # Bounded as an operator name is: the throttle and the audit log keep it.
    username: str = Field(max_length=64)
    password: str


class OperatorIn(_Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"username": "duty2", "role": "operator", "password": "correct horse battery"}
            ]
        }
    )

    username: OperatorName
    role: Lax[Role]
    password: Password
    person: str = Field(
        min_length=1,
        max_length=64,
        description="who is behind the account, e.g. a service number: one account per person",
    )


class PartyIn(_Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "party": "ae-mediator",
                    "name": "United Arab Emirates (mediator)",
                    "key": "bWVkaWF0b3Iga2V5IG9mIHRoaXJ0eS10d28gYnl0ZXM=",
                    "urls": ["http://127.0.0.1:8703"],
                }
            ]
        }
    )

    party: PartyId
    name: str
    key: PublicKey
    urls: list[PeerUrl] = Field(default=[], description="URLs of its node, tried in order")


class PeerUrlsIn(_Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"urls": ["http://127.0.0.1:8702"]}]})

    urls: list[PeerUrl] = Field(
        description="URLs of its node, tried in order; none: stop calling it"
    )


class ChannelStatusIn(_Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"status": "suspended", "reason": "Line maintenance"}]}
    )

    status: ChannelStatus
    reason: str


class ChannelIn(_Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "hotline",
                    "members": {"ru-genstaff": "party"},
                    "two_person": False,
                    "deadlines": {"incident_report": 3600},
                }
            ]
        }
    )

    name: str
    members: dict[str, Lax[MemberRole]] = Field(
        description="other parties and their role",
        json_schema_extra={"propertyNames": {"pattern": PARTY_ID_PATTERN}},
    )
    two_person: bool = Field(default=False, description="notifications need a second person")
    deadlines: dict[FormName, Deadline] = Field(
        default={}, description="form name -> ack deadline, s"
    )


class NotificationIn(_Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "form": "free_text/1",
                    "data": {"text": "Line check", "lang": "en"},
                    "precedence": "routine",
                    "supersedes": None,
                }
            ]
        }
    )

    form: FormId = Field(description="form id (see GET /api/v1/forms)")
    data: dict[str, Any] = Field(description="as the form's schema says")
    precedence: Lax[Precedence] = Precedence.ROUTINE
    supersedes: EventId | None = Field(
        default=None, description="id of this party's earlier notification that this amends"
    )


class CancelIn(_Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "The exercise was called off"}]}
    )

    reason: str


_WINDOW = {
    "type": "object",
    "required": ["start", "end"],
    "properties": {
        "start": {"type": "string", "format": "date-time"},
        "end": {"type": "string", "format": "date-time"},
    },
}


class DeconflictionCheckIn(_Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "area": {"type": "Point", "coordinates": [33.0, 34.5], "radius_km": 50},
                    "window": {"start": "2026-02-06T06:00:00Z", "end": "2026-02-06T18:00:00Z"},
                    "margin_km": 10,
                    "kind": "activity",
                }
            ]
        }
    )

    area: Annotated[Any, stated(type="object")] = Field(
        description="a form Area (GeoJSON Polygon or MultiPolygon, Point with radius_km, "
        "NamedArea) or a GeoJSON Point"
    )
    window: Annotated[Any, stated(**_WINDOW)] = Field(description="UTC timestamps, half-open")
    margin_km: float = Field(default=0.0, description="also what lies within this distance")
    kind: ItemKind = Field(default="activity", description="severities as for an item of this kind")


class TranslationIn(_Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"lang": "ru", "text": "Проверка связи"}]}
    )

    lang: LanguageTag
    text: str


class LanguageIn(_Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"lang": "ar"}]})

    lang: Locale = Field(description="the operator's language for rendered notifications")


class MessageIn(_Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"precedence": "flash", "text": "Line check", "lang": "en"}]
        }
    )

    precedence: Lax[Precedence]
    text: str
    lang: LanguageTag = Field(description="language of the text, e.g. ar, en, ru, uk")
