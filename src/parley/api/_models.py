"""Request and response bodies. Strict: a string is never silently turned into a number."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CancelIn",
    "ChannelIn",
    "ChannelStatusIn",
    "CheckpointOut",
    "ConsistencyProofOut",
    "CosignerOut",
    "DeconflictionCheckIn",
    "InclusionProofOut",
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
    kind: str = Field(
        default="activity",
        description="severities as for an item of this kind: "
        "activity, launch, presence or protected_site",
    )


class TranslationIn(_Strict):
    lang: str
    text: str


class LanguageIn(_Strict):
    lang: str = Field(description="ar, en, ru or uk")


class MessageIn(_Strict):
    precedence: str = Field(description="flash, immediate, priority or routine")
    text: str
    lang: str = Field(description="BCP 47 language tag of the text, e.g. ar, en, ru, uk")


class CosignerOut(BaseModel):
    witness: str = Field(description="party id of the witness (its C2SP key name)")
    timestamp: int = Field(description="when it cosigned, seconds since the epoch")


class CheckpointOut(BaseModel):
    origin: str = Field(description="the log's name: this node's party id")
    size: int = Field(description="number of entries (events) in the log")
    root: str = Field(description="base64 RFC 9162 root hash of the first size entries")
    note: str = Field(
        description="C2SP signed note: the tlog-checkpoint, this node's signature, then one "
        "tlog-cosignature line per witness"
    )
    cosigners: list[CosignerOut]
    created_ms: int


class InclusionProofOut(BaseModel):
    event_id: str
    index: int = Field(description="the event's leaf index in the log")
    size: int = Field(description="size of the tree the proof is for")
    leaf_hash: str = Field(description="base64 SHA-256(0x00 || the event's signed bytes)")
    root: str = Field(description="base64 root hash of the tree of that size")
    proof: list[str] = Field(description="base64 RFC 9162 inclusion proof, leaf first")


class ConsistencyProofOut(BaseModel):
    first: int
    second: int
    first_root: str = Field(description="base64 root hash of the first tree")
    second_root: str = Field(description="base64 root hash of the second tree")
    proof: list[str] = Field(description="base64 RFC 9162 consistency proof")


def page(items: list[dict[str, Any]], next_after: int | None) -> dict[str, Any]:
    return {"items": items, "next_after": next_after}
