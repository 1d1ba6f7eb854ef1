"""Exchanges: their bodies, their fold, and the rules of who sends what when."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.errors import Conflict, Forbidden, InvalidInput
from parley.protocol import (
    Event,
    ExchangeState,
    check_event,
    fold_agreement,
    fold_exchange,
    list_context,
    new_exchange_key,
    public_of,
    seal,
    validate_body,
)
from tests.protocol.test_agreements import ABU_DHABI, AE, RU, US, event, proposal_body, sign

COUNTS = {"military": 150, "civilian": 7}
KEYS = {party: new_exchange_key() for party in (US, RU, AE)}


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def agreement_events(**changes: Any) -> list[Event]:
    body = proposal_body(kind="exchange", scope={"counts": COUNTS}, **changes)
    proposal = event(US, "agreement", body)
    return [proposal, sign(proposal.id, proposal.id, RU, hours=1)]


def key_event(agreement: str, author: str) -> Event:
    body = {"agreement": agreement, "key": b64(public_of(KEYS[author])), "by": "duty1"}
    return event(author, "exchange_key", body, 2)


def list_body(agreement: str, author: str, **changes: Any) -> dict[str, Any]:
    recipients = {p: public_of(k) for p, k in KEYS.items()}
    sealed = seal(b"{}", recipients, list_context(agreement, author))
    body = {
        "agreement": agreement,
        "ciphertext": sealed.ciphertext,
        "nonce": sealed.nonce,
        "wrapped": sealed.wrapped,
        "commitment": "0" * 64,
        "rows": 157,
        "counts": COUNTS,
        "by": "duty1",
    }
    return {**body, **changes}


def verification(agreement: str, listed: str, queried: Mapping[str, str] | None = None) -> Event:
    body = {"agreement": agreement, "list": listed, "queried": dict(queried or {}), "by": "m1"}
    return event(AE, "exchange_verification", body, 4)


class Exchange:
    """The events of one exchange so far; ``check`` asks the rule book about the next one."""

    def __init__(self, **changes: Any) -> None:
        self.events = agreement_events(**changes)
        self.id = self.events[0].id

    def state(self) -> ExchangeState:
        return fold_exchange(fold_agreement(self.events), self.events)

    def check(self, candidate: Event, *, received: bool = False) -> Event:
        state = self.state()
        check_event(
            ABU_DHABI,
            candidate,
            {},
            received=received,
            agreement=state.agreement,
            exchange=state,
        )
        self.events.append(candidate)
        return candidate

    def keyed(self) -> Exchange:
        for party in (US, RU, AE):
            self.check(key_event(self.id, party))
        return self

    def submit(self, author: str, hours: float = 3, **changes: Any) -> Event:
        return self.check(
            event(author, "exchange_list", list_body(self.id, author, **changes), hours)
        )


def test_bodies_of_the_four_types_pass_and_bad_fields_are_named() -> None:
    exchange = Exchange()
    validate_body("exchange_key", key_event(exchange.id, US).body)
    validate_body("exchange_list", list_body(exchange.id, US))
    with pytest.raises(InvalidInput, match=r"body.counts"):
        validate_body("exchange_list", list_body(exchange.id, US, rows=156))
    with pytest.raises(InvalidInput, match=r"body.queried.3"):
        validate_body("exchange_verification", verification(exchange.id, "a" * 64, {"3": "x"}).body)
    with pytest.raises(InvalidInput, match=r"body.queried"):
        validate_body(
            "exchange_verification", verification(exchange.id, "a" * 64, {"0": "other"}).body
        )
    sealed = list_body(exchange.id, US)
    note = {k: sealed[k] for k in ("ciphertext", "nonce", "wrapped", "commitment")}
    with_note = {**verification(exchange.id, "a" * 64).body, "note": note}
    validate_body("exchange_verification", with_note)
    with pytest.raises(InvalidInput, match=r"body.note.commitment"):
        validate_body("exchange_verification", {**with_note, "note": {**note, "commitment": "x"}})
    with pytest.raises(InvalidInput, match=r"body.key"):
        validate_body("exchange_key", {"agreement": exchange.id, "key": "AAAA", "by": "duty1"})


def test_a_full_exchange_folds_to_completed() -> None:
    exchange = Exchange().keyed()
    ours, theirs = exchange.submit(US), exchange.submit(RU)
    exchange.check(verification(exchange.id, ours.id))
    exchange.check(verification(exchange.id, theirs.id, {"12": "identity"}))
    assert exchange.state().status() == "open"
    with pytest.raises(Conflict, match="list of ru-genstaff is not verified"):
        exchange.check(event(AE, "exchange_completion", {"agreement": exchange.id, "by": "m1"}, 5))
    again = exchange.submit(RU, supersedes=theirs.id)
    exchange.check(verification(exchange.id, again.id))
    assert exchange.state().status() == "verified"
    done = exchange.check(
        event(AE, "exchange_completion", {"agreement": exchange.id, "by": "m1"}, 5)
    )
    state = exchange.state()
    assert state.completed is not None
    assert state.completed.id == done.id
    assert state.current == {US: ours.id, RU: again.id}
    with pytest.raises(Conflict, match="was completed"):
        exchange.submit(US, hours=6, supersedes=ours.id)


def test_only_parties_submit_and_only_the_mediator_verifies_and_completes() -> None:
    exchange = Exchange().keyed()
    with pytest.raises(Forbidden, match="only a party"):
        exchange.submit(AE)
    ours = exchange.submit(US)
    with pytest.raises(Forbidden, match="mediator"):
        exchange.check(event(RU, "exchange_verification", verification(exchange.id, ours.id).body))
    completion = event(RU, "exchange_completion", {"agreement": exchange.id, "by": "x1"}, 5)
    with pytest.raises(Forbidden, match="mediator"):
        exchange.check(completion, received=True)


def test_a_list_waits_for_every_key_and_names_exactly_the_participants() -> None:
    exchange = Exchange()
    exchange.check(key_event(exchange.id, US))
    with pytest.raises(Conflict, match="has not published its key"):
        exchange.submit(US)
    exchange.check(key_event(exchange.id, RU))
    exchange.check(key_event(exchange.id, AE))
    with pytest.raises(Conflict, match="already published"):
        exchange.check(key_event(exchange.id, AE))
    wrapped = dict(list_body(exchange.id, US)["wrapped"])
    del wrapped[AE]
    with pytest.raises(InvalidInput, match="sealed to exactly"):
        exchange.submit(US, wrapped=wrapped)


def test_a_second_list_must_supersede_the_first() -> None:
    exchange = Exchange().keyed()
    first = exchange.submit(US)
    with pytest.raises(Conflict, match="supersede it"):
        exchange.submit(US)
    exchange.submit(US, supersedes=first.id)
    with pytest.raises(Conflict, match="supersede it"):
        exchange.submit(US, supersedes=first.id)


def test_nothing_is_submitted_before_the_agreement_is_in_force() -> None:
    exchange = Exchange()
    exchange.events = exchange.events[:1]  # proposed, not signed by ru-genstaff
    exchange.keyed()
    with pytest.raises(Conflict, match="proposed, not in force"):
        exchange.submit(US)


def test_an_exchange_needs_an_exchange_agreement_with_a_mediator() -> None:
    exchange = Exchange(mediator=None)
    with pytest.raises(Conflict, match="no mediator"):
        exchange.check(key_event(exchange.id, US))


@given(st.lists(st.sampled_from([US, RU]), min_size=1, max_size=6))
def test_the_current_list_of_a_party_is_its_latest(authors: list[str]) -> None:
    exchange = Exchange().keyed()
    latest: dict[str, str] = {}
    for author in authors:
        previous = latest.get(author)
        changes: dict[str, Any] = {} if previous is None else {"supersedes": previous}
        latest[author] = exchange.submit(author, **changes).id
    assert exchange.state().current == latest
