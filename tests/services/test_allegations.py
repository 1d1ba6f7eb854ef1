"""Allegations between in-process nodes: alleged under an agreement in force, answered by the
accused, found by the mediator (or by the parties jointly), escalated when unanswered."""

from __future__ import annotations

from datetime import timedelta

import pytest

from parley.errors import Conflict, Forbidden, InvalidInput, NotFound
from parley.services import Node, Role
from tests.conftest import as_role
from tests.services.test_agreements import at, proposal
from tests.services.test_ingest import notification, peer_event, refused
from tests.services.test_replication import open_hotline, settle, trio  # noqa: F401

pytestmark = pytest.mark.anyio

US, RU, AE = "us-eucom", "ru-genstaff", "ae-mediator"


def operator(node: Node):
    return as_role(node, Role.OPERATOR, "duty1")


async def agreed(trio, clock, *, mediator: str | None = AE, deadlines=None) -> tuple[str, str]:  # noqa: F811
    """A hotline of us-eucom and ru-genstaff (ae-mediator its mediator) and a moratorium
    between the two, in force from 14:00; the clock is then an hour later."""
    us, ru = trio[US], trio[RU]
    roles = {RU: "party", AE: "mediator"}
    if deadlines is None:
        channel = await open_hotline(trio, roles=roles)
    else:
        opened = await us.channels.create(
            as_role(us, Role.ADMIN), "hotline", roles, deadlines=deadlines
        )
        channel = opened.event.channel
        await settle(trio)
        for party in roles:
            await trio[party].channels.accept(as_role(trio[party], Role.ADMIN), channel)
        await settle(trio)
    proposed = await us.agreements.propose(operator(us), channel, **proposal(mediator=mediator))
    await settle(trio)
    agreement = proposed.state.id
    await ru.agreements.sign(operator(ru), agreement)
    await settle(trio)
    clock.advance(timedelta(hours=1))
    return channel, agreement


def allegation(agreement: str, accused: str = RU, occurred_at: str | None = None) -> dict:
    return {
        "agreement": agreement,
        "accused": accused,
        "occurred_at": occurred_at or at(0.5),
        "description": "A drone struck the Kharkiv thermal power plant.",
    }


async def allege(node: Node, channel: str, data: dict) -> str:
    sent = await node.notifications.send(operator(node), channel, "violation_allegation/2", data)
    return sent.event.id  # type: ignore[union-attr]


async def test_an_allegation_is_answered_by_the_accused_and_found_by_the_mediator(trio, clock):  # noqa: F811
    us, ru, ae = trio[US], trio[RU], trio[AE]
    channel, agreement = await agreed(trio, clock)
    alleged = await allege(us, channel, allegation(agreement))
    await settle(trio)

    for node in (us, ru, ae):
        row = node.store.get_allegation(alleged)
        assert row is not None
        assert (row.state, row.accused, row.author) == ("alleged", RU, US)
        assert row.deadline_ms - row.alleged_ms == 72 * 3_600_000

    answer = {"allegation": alleged, "answer": "dispute", "explanation": "No strike that night."}
    with pytest.raises(Forbidden, match="only ru-genstaff, the accused party"):
        await us.notifications.send(operator(us), channel, "allegation_answer/1", answer)
    await ru.notifications.send(operator(ru), channel, "allegation_answer/1", answer)
    await settle(trio)
    assert us.store.get_allegation(alleged).state == "answered"  # type: ignore[union-attr]

    finding = {"allegation": alleged, "finding": "not_found", "reasoning": "No trace of it."}
    with pytest.raises(Forbidden, match="only ae-mediator, the mediator"):
        await us.notifications.send(operator(us), channel, "allegation_finding/1", finding)
    await refused(
        us,
        peer_event(ru, channel, "notification", notification("allegation_finding/1", finding)),
        "only ae-mediator, the mediator",
    )
    await ae.notifications.send(operator(ae), channel, "allegation_finding/1", finding)
    await settle(trio)

    for node in (us, ru, ae):
        row = node.store.get_allegation(alleged)
        assert (row.state, row.answer, row.finding) == ("not_found", "dispute", "not_found")  # type: ignore[union-attr]
    with pytest.raises(Conflict, match="closed"):
        await ru.notifications.send(operator(ru), channel, "allegation_answer/1", answer)
    with pytest.raises(Conflict, match="already"):
        await ae.notifications.send(operator(ae), channel, "allegation_finding/1", finding)


async def test_an_allegation_names_an_agreement_in_force_and_one_of_its_parties(trio, clock):  # noqa: F811
    us = trio[US]
    channel, agreement = await agreed(trio, clock)

    with pytest.raises(Conflict, match="was not in force at"):
        await allege(us, channel, allegation(agreement, occurred_at=at(-1)))
    with pytest.raises(InvalidInput, match="not a party"):
        await allege(us, channel, allegation(agreement, accused=AE))
    with pytest.raises(InvalidInput, match="does not accuse itself"):
        await allege(us, channel, allegation(agreement, accused=US))
    with pytest.raises(InvalidInput, match="after the allegation was sent"):
        await allege(us, channel, allegation(agreement, occurred_at=at(2)))
    with pytest.raises(NotFound):
        await allege(us, channel, allegation("ab" * 32))
    answer = {"allegation": "cd" * 32, "answer": "accept"}
    with pytest.raises(NotFound, match="no allegation"):
        await trio[RU].notifications.send(
            operator(trio[RU]), channel, "allegation_answer/1", answer
        )


async def test_without_a_mediator_the_parties_find_jointly(trio, clock):  # noqa: F811
    us, ru = trio[US], trio[RU]
    channel, agreement = await agreed(trio, clock, mediator=None)
    alleged = await allege(ru, channel, allegation(agreement, accused=US))
    await settle(trio)

    def finding(word: str) -> dict:
        return {"allegation": alleged, "finding": word, "reasoning": "Seen by both."}

    await us.notifications.send(operator(us), channel, "allegation_finding/1", finding("found"))
    await settle(trio)
    assert ru.store.get_allegation(alleged).state == "alleged"  # type: ignore[union-attr]
    with pytest.raises(Forbidden, match="parties to agreement"):
        await trio[AE].notifications.send(
            operator(trio[AE]), channel, "allegation_finding/1", finding("found")
        )
    await ru.notifications.send(operator(ru), channel, "allegation_finding/1", finding("found"))
    await settle(trio)

    for node in (us, ru):
        row = node.store.get_allegation(alleged)
        assert (row.state, row.votes) == ("found", {US: "found", RU: "found"})  # type: ignore[union-attr]


async def test_an_unanswered_allegation_escalates_once_on_every_node(trio, clock):  # noqa: F811
    us, ru = trio[US], trio[RU]
    channel, agreement = await agreed(trio, clock)
    alleged = await allege(us, channel, allegation(agreement))
    await settle(trio)

    clock.advance(timedelta(hours=71))
    assert await us.allegations.escalate_overdue() == []
    clock.advance(timedelta(hours=2))
    for node in (us, ru):
        raised = await node.allegations.escalate_overdue()
        assert [(a.kind, a.event_id) for a in raised] == [("allegation_overdue", alleged)]
        assert await node.allegations.escalate_overdue() == []
    report = us.allegations.report(operator(us), agreement)
    assert [(c.party, c.state, c.count, c.escalated) for c in report.counts] == [
        (RU, "alleged", 1, 1)
    ]
    assert report.overdue() == 1

    answer = {"allegation": alleged, "answer": "accept"}
    await ru.notifications.send(operator(ru), channel, "allegation_answer/1", answer)
    row = ru.store.get_allegation(alleged)
    assert (row.state, row.escalated_ms is not None) == ("answered", True)  # type: ignore[union-attr]


async def test_reading_an_agreements_allegations(trio, clock):  # noqa: F811
    us = trio[US]
    channel, agreement = await agreed(trio, clock)
    first = await allege(us, channel, allegation(agreement, occurred_at=at(0.25)))
    second = await allege(us, channel, allegation(agreement))

    listed = us.allegations.list_allegations(operator(us), agreement)
    assert [a.id for a in listed] == [first, second]
    assert us.allegations.list_allegations(operator(us), agreement, state="answered") == []
    assert [
        a.id for a in us.allegations.list_allegations(operator(us), agreement, after=first)
    ] == [second]
    with pytest.raises(InvalidInput):
        us.allegations.list_allegations(operator(us), agreement, state="guilty")
    with pytest.raises(NotFound):
        us.allegations.list_allegations(operator(us), "ef" * 32)
    row, event = us.allegations.get(operator(us), first)
    assert (row.id, event.body["form"]) == (first, "violation_allegation/2")


async def test_the_channels_deadline_for_an_answer_is_everyones(trio, clock):  # noqa: F811
    us, ru = trio[US], trio[RU]
    channel, agreement = await agreed(trio, clock, deadlines={"allegation_answer": 600})
    alleged = await allege(us, channel, allegation(agreement))
    await settle(trio)

    for node in (us, ru):
        row = node.store.get_allegation(alleged)
        assert row.deadline_ms - row.alleged_ms == 600_000  # type: ignore[union-attr]
    clock.advance(timedelta(minutes=11))
    assert len(await ru.allegations.escalate_overdue()) == 1
