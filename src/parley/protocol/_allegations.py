"""The rules of allegations: who may allege a violation of an agreement, answer it and
record a finding, whether the event is this node's or a peer's (AGREEMENTS.md).

An allegation is a notification of the form ``violation_allegation/2``; its answer and its
finding are notifications of ``allegation_answer/1`` and ``allegation_finding/1`` naming it.
The caller passes the agreement as its stored events define it and the allegation as the
events stored before left it (``AllegationState``); nothing here reads a store.

States: alleged -> answered -> found | not_found | unresolved. A finding is the mediator's;
on an agreement without a mediator, every party sends one, and the allegation takes the
finding once all of theirs are the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from parley.clock import parse_ts
from parley.errors import Conflict, Forbidden, InvalidInput, NotFound

from ._event import Event

if TYPE_CHECKING:
    from ._agreements import AgreementState

__all__ = [
    "ALLEGATION_FORM",
    "ANSWER_FORM",
    "FINAL_STATES",
    "FINDING_FORM",
    "AllegationState",
    "allegation_form",
    "allegation_named",
    "check_allegation",
    "check_answer",
    "check_finding",
    "joint_finding",
]

ALLEGATION_FORM: Final = "violation_allegation/2"
ANSWER_FORM: Final = "allegation_answer/1"
FINDING_FORM: Final = "allegation_finding/1"
FINAL_STATES: Final = frozenset({"found", "not_found", "unresolved"})
_FORMS: Final = frozenset({ALLEGATION_FORM, ANSWER_FORM, FINDING_FORM})


@dataclass(frozen=True, slots=True)
class AllegationState:
    """An allegation as the events stored before left it; ``votes``: the finding each party
    sent, on an agreement without a mediator."""

    id: str
    channel: str
    agreement: str
    author: str
    accused: str
    state: str
    votes: Mapping[str, str]

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES


def allegation_form(event: Event) -> str | None:
    """The allegation form ``event`` carries, or None for any other event."""
    if event.type != "notification":
        return None
    form = event.body.get("form")
    return form if form in _FORMS else None


def allegation_named(event: Event) -> str | None:
    """The allegation an answer or a finding names."""
    if allegation_form(event) in (ANSWER_FORM, FINDING_FORM):
        named = event.body["data"]["allegation"]
        return str(named)
    return None


def check_allegation(event: Event, agreement: AgreementState) -> None:
    """An allegation names an agreement in force when the violation occurred, one of its
    parties as accused, and comes from another of its parties or its mediator."""
    data = event.body["data"]
    agreement.check_acts(event.author)
    accused = data["accused"]
    if accused not in agreement.parties:
        raise InvalidInput.for_field(
            "data.accused", f"{accused} is not a party to agreement {agreement.id}"
        )
    if accused == event.author:
        raise InvalidInput.for_field("data.accused", "a party does not accuse itself")
    occurred = parse_ts(data["occurred_at"])
    if occurred > parse_ts(event.ts):
        raise InvalidInput.for_field("data.occurred_at", "is after the allegation was sent")
    if not agreement.in_force_at(occurred):
        status = agreement.status(occurred).replace("_", " ")
        raise Conflict(
            f"agreement {agreement.id} was not in force at {data['occurred_at']} ({status})"
        )


def check_answer(
    channel: str, event: Event, allegation: AllegationState | None, *, received: bool
) -> None:
    """Only the accused answers, on the allegation's channel, until a finding.

    A peer's answer may cross a finding it had not received yet: it is stored, and the
    finding stands.
    """
    named = _named(channel, event, allegation)
    if event.author != named.accused:
        raise Forbidden(f"only {named.accused}, the accused party, answers {named.id}")
    if named.final and not received:
        raise Conflict(f"allegation {named.id} has its finding ({named.state}); it is closed")


def check_finding(
    channel: str,
    event: Event,
    allegation: AllegationState | None,
    agreement: AgreementState | None,
    *,
    received: bool,
) -> None:
    """The mediator of the agreement finds, once; without a mediator, each party sends its
    finding (and may change it) until all are the same."""
    named = _named(channel, event, allegation)
    if agreement is None:
        raise NotFound(f"no agreement {named.agreement} in channel {channel}")
    if agreement.mediator is not None:
        if event.author != agreement.mediator:
            raise Forbidden(
                f"only {agreement.mediator}, the mediator of agreement {agreement.id}, "
                f"records a finding"
            )
        if named.final:
            raise Conflict(f"allegation {named.id} has its finding ({named.state}) already")
        return
    if event.author not in agreement.parties:
        raise Forbidden(f"only the parties to agreement {agreement.id} record a finding")
    if named.final and not received:
        raise Conflict(f"allegation {named.id} has its finding ({named.state}) already")


def joint_finding(agreement: AgreementState, votes: Mapping[str, str]) -> str | None:
    """The finding every party of an agreement without a mediator has sent, if they agree."""
    found = {votes.get(party) for party in agreement.parties}
    if len(found) == 1:
        (finding,) = found
        return finding
    return None


def _named(channel: str, event: Event, allegation: AllegationState | None) -> AllegationState:
    named_id = event.body["data"]["allegation"]
    if allegation is None or allegation.channel != channel:
        raise NotFound(f"no allegation {named_id} in channel {channel}")
    return allegation
