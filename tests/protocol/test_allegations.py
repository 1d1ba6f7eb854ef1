"""The rules of allegations: who alleges under which agreement, who answers, who finds."""

from __future__ import annotations

from typing import Any

import pytest

from parley.errors import Conflict, Forbidden, InvalidInput, NotFound
from parley.protocol import (
    AgreementState,
    AllegationState,
    Event,
    allegation_form,
    allegation_named,
    check_allegation,
    check_answer,
    check_finding,
    fold_agreement,
    joint_finding,
)

from .test_agreements import AE, CH, OTHER, RU, US, at, event, proposal_body, sign

ALLEGATION = "c4" * 32


def in_force(mediator: str | None = AE) -> AgreementState:
    """Proposed by us-eucom at T0, signed by ru-genstaff an hour later: in force from then
    for 30 days."""
    proposal = event(US, "agreement", proposal_body(mediator=mediator))
    signed = fold_agreement([proposal])
    return fold_agreement([proposal, sign(signed.id, signed.id, RU, hours=1)])


def notice(author: str, form: str, data: dict[str, Any], hours: float = 2) -> Event:
    body = {
        "form": form,
        "data": data,
        "precedence": "routine",
        "by": "duty1",
        "released_by": None,
        "deadline": None,
        "late": False,
    }
    return event(author, "notification", body, hours)


def alleging(author: str = US, accused: str = RU, occurred_h: float = 1.5) -> Event:
    data = {
        "agreement": "ab" * 32,
        "accused": accused,
        "occurred_at": at(occurred_h),
        "description": "A drone struck a power plant.",
    }
    return notice(author, "violation_allegation/2", data)


def answering(author: str, answer: str = "accept") -> Event:
    return notice(author, "allegation_answer/1", {"allegation": ALLEGATION, "answer": answer})


def finding(author: str, word: str = "found") -> Event:
    data = {"allegation": ALLEGATION, "finding": word, "reasoning": "Seen."}
    return notice(author, "allegation_finding/1", data)


def allegation(state: str = "alleged", votes: dict[str, str] | None = None) -> AllegationState:
    return AllegationState(ALLEGATION, CH, "ab" * 32, US, RU, state, votes or {})


def test_the_forms_of_allegations_are_told_apart_from_other_events() -> None:
    assert allegation_form(alleging()) == "violation_allegation/2"
    assert allegation_named(alleging()) is None
    assert allegation_named(answering(RU)) == ALLEGATION
    assert allegation_form(notice(US, "incident_report/1", {})) is None
    assert allegation_form(event(US, "message", {"text": "x"})) is None


def test_a_party_or_the_mediator_alleges_against_another_party() -> None:
    agreement = in_force()
    check_allegation(alleging(US), agreement)
    check_allegation(alleging(AE), agreement)
    with pytest.raises(Forbidden, match="neither a party"):
        check_allegation(alleging("ua-nsdc"), agreement)
    with pytest.raises(InvalidInput, match="not a party"):
        check_allegation(alleging(US, accused=AE), agreement)
    with pytest.raises(InvalidInput, match="does not accuse itself"):
        check_allegation(alleging(RU, accused=RU), agreement)


@pytest.mark.parametrize(
    ("occurred_h", "refusal"),
    [
        (0.5, "not in force at .* \\(not started\\)"),  # before the last signature
        (3, "after the allegation was sent"),
    ],
)
def test_an_allegation_is_about_a_moment_the_agreement_was_in_force(
    occurred_h: float, refusal: str
) -> None:
    with pytest.raises((Conflict, InvalidInput), match=refusal):
        check_allegation(alleging(occurred_h=occurred_h), in_force())


def test_only_the_accused_answers_until_a_finding() -> None:
    check_answer(CH, answering(RU), allegation(), received=False)
    check_answer(CH, answering(RU), allegation("answered"), received=False)
    with pytest.raises(Forbidden, match="only ru-genstaff, the accused party"):
        check_answer(CH, answering(US), allegation(), received=False)
    with pytest.raises(Conflict, match="closed"):
        check_answer(CH, answering(RU), allegation("not_found"), received=False)
    check_answer(CH, answering(RU), allegation("not_found"), received=True)
    with pytest.raises(NotFound):
        check_answer(CH, answering(RU), None, received=False)
    with pytest.raises(NotFound):
        check_answer(OTHER, answering(RU), allegation(), received=False)


def test_the_mediator_finds_once() -> None:
    agreement = in_force()
    check_finding(CH, finding(AE), allegation(), agreement, received=False)
    for party in (US, RU):
        with pytest.raises(Forbidden, match="only ae-mediator, the mediator"):
            check_finding(CH, finding(party), allegation(), agreement, received=True)
    with pytest.raises(Conflict, match="already"):
        check_finding(CH, finding(AE), allegation("found"), agreement, received=True)


def test_without_a_mediator_every_party_finds_alike() -> None:
    agreement = in_force(mediator=None)
    check_finding(CH, finding(US), allegation(), agreement, received=False)
    with pytest.raises(Forbidden, match="only the parties"):
        check_finding(CH, finding(AE), allegation(), agreement, received=False)
    with pytest.raises(Conflict):
        check_finding(CH, finding(RU), allegation("found"), agreement, received=False)
    assert joint_finding(agreement, {US: "found"}) is None
    assert joint_finding(agreement, {US: "found", RU: "not_found"}) is None
    assert joint_finding(agreement, {US: "unresolved", RU: "unresolved"}) == "unresolved"
