"""Request and response bodies of agreements: a proposal, an amendment, a signature, and an
agreement as this node's stored events define it (its versions, who signed each when)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from parley.protocol import AGREEMENT_KINDS, AgreementVersion
from parley.services import AgreementView

from ._answers import Answer
from ._models import _Strict
from ._values import EventId, LanguageTag, OneOf, PartyId, Timestamp, stated

__all__ = ["AgreementIn", "AgreementOut", "AmendmentIn", "SignatureIn"]

AgreementKind = Annotated[str, OneOf(AGREEMENT_KINDS)]

_SCOPE = (
    "categories: site categories; areas: GeoJSON Polygon, MultiPolygon, Point with radius_km "
    "or NamedArea, as forms accept; sites: [{name, category, party, location}]; counts: "
    "{category: number each side hands over}; every key optional"
)


_TimeIn = Annotated[str, stated(format="date-time", description="RFC 3339, UTC, Z suffix")]


class TermIn(_Strict):
    start: _TimeIn
    end: _TimeIn | None = Field(description="exclusive; null: open-ended")


class AgreementIn(_Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "moratorium",
                    "title": "Moratorium on strikes on energy infrastructure",
                    "parties": ["us-eucom", "ru-genstaff"],
                    "mediator": "ae-mediator",
                    "scope": {"categories": ["power_plant", "substation"]},
                    "term": {
                        "start": "2026-03-18T00:00:00.000Z",
                        "end": "2026-04-17T00:00:00.000Z",
                    },
                    "texts": {"en": "No strikes on energy infrastructure for 30 days."},
                }
            ]
        },
    )

    kind: AgreementKind
    title: Annotated[str, stated(maxLength=200)]
    parties: Annotated[list[PartyId], stated(minItems=2)] = Field(
        description="active members of the channel"
    )
    mediator: PartyId | None = Field(default=None, description="a member, not one of the parties")
    scope: dict[str, Any] = Field(default={}, description=_SCOPE)
    term: TermIn
    texts: Annotated[dict[LanguageTag, str], stated(minProperties=1)] = Field(
        description="language tag -> text"
    )


class AmendmentIn(_Strict):
    """The fields given replace those of the latest version; an extension gives ``term`` only."""

    term: TermIn | None = None
    scope: dict[str, Any] | None = Field(default=None, description=_SCOPE)
    texts: dict[LanguageTag, str] | None = None
    reason: str | None = None


class SignatureIn(_Strict):
    version: EventId | None = Field(
        default=None, description="the version signed, which must be the latest (default)"
    )


class SignatureOut(Answer):
    party: str
    at: Timestamp


class TermOut(Answer):
    start: Timestamp
    end: Timestamp | None = Field(description="exclusive; null: open-ended")


class VersionOut(Answer):
    id: str = Field(description="the proposal's or the amendment's event id")
    author: str
    at: Timestamp
    term: TermOut
    reason: str | None
    signatures: list[SignatureOut]

    @classmethod
    def of(cls, version: AgreementVersion) -> VersionOut:
        return cls(
            id=version.id,
            author=version.author,
            at=version.ts,
            term=TermOut(start=version.start, end=version.end),
            reason=version.reason,
            signatures=_signatures(version.signatures),
        )


class AgreementOut(Answer):
    id: str = Field(description="the id of its proposal")
    channel: str
    kind: AgreementKind
    title: str
    proposer: str
    parties: list[str]
    mediator: str | None
    status: Literal["proposed", "in_force", "expired", "not_started"]
    scope: dict[str, Any] = Field(description="of the version in force, else of the latest")
    texts: dict[str, str]
    term: TermOut
    in_force_from: Timestamp | None = Field(description="when every party had signed")
    in_force_version: str | None
    latest: str = Field(description="the version to sign")
    pending: str | None = Field(description="the latest version, while a party has not signed")
    signatures: list[SignatureOut] = Field(description="of the latest version")
    versions: list[VersionOut]

    @classmethod
    def of(cls, view: AgreementView) -> AgreementOut:
        state = view.state
        return cls(
            id=state.id,
            channel=state.channel,
            kind=state.kind,
            title=state.title,
            proposer=state.proposer,
            parties=list(state.parties),
            mediator=state.mediator,
            status=view.status,
            scope=dict(state.scope),
            texts=dict(state.texts),
            term=TermOut(start=state.start, end=state.end),
            in_force_from=state.in_force_from,
            in_force_version=state.in_force_version,
            latest=state.latest.id,
            pending=state.pending,
            signatures=_signatures(state.signatures),
            versions=[VersionOut.of(v) for v in state.versions],
        )


def _signatures(signatures: Mapping[str, str]) -> list[SignatureOut]:
    """Who signed, first signer first."""
    ordered = sorted(signatures.items(), key=lambda item: item[1])
    return [SignatureOut(party=party, at=ts) for party, ts in ordered]
