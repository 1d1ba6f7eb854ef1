"""Request and response bodies. Strict: a string is never silently turned into a number."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ChannelIn",
    "ChannelStatusIn",
    "LanguageIn",
    "LoginIn",
    "MessageIn",
    "NotificationIn",
    "OperatorIn",
    "PartyIn",
    "TranslationIn",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class LoginIn(_Strict):
    username: str
    password: str


class OperatorIn(_Strict):
    username: str
    role: str
    password: str


class PartyIn(_Strict):
    party: str
    name: str
    key: str = Field(description="base64 of the raw 32-byte Ed25519 public key")
    urls: list[str] = Field(default=[], description="URLs of its node, tried in order")


class ChannelStatusIn(_Strict):
    status: str = Field(description="suspended or active")
    reason: str


class ChannelIn(_Strict):
    name: str
    members: dict[str, str] = Field(
        description="other parties and their role: party, mediator or observer"
    )
    two_person: bool = Field(default=False, description="notifications need a second person")
    deadlines: dict[str, int] = Field(default={}, description="form name -> ack deadline, s")


class NotificationIn(_Strict):
    form: str = Field(description="form id, e.g. military_activity/1 (see GET /api/v1/forms)")
    data: dict[str, Any]
    precedence: str = "routine"


class TranslationIn(_Strict):
    lang: str
    text: str


class LanguageIn(_Strict):
    lang: str = Field(description="ar, en, ru or uk")


class MessageIn(_Strict):
    precedence: str = Field(description="flash, immediate, priority or routine")
    text: str
    lang: str = Field(description="BCP 47 language tag of the text, e.g. ar, en, ru, uk")


def page(items: list[dict[str, Any]], next_after: int | None) -> dict[str, Any]:
    return {"items": items, "next_after": next_after}
