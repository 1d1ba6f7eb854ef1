"""Agreements over HTTP: propose, list, show, sign and amend; refusals are problems."""

from __future__ import annotations

from datetime import timedelta

import pytest

from parley.clock import format_ts
from parley.services import Role
from tests.api.conftest import assert_problem
from tests.conftest import START, as_role

pytestmark = pytest.mark.anyio

US, RU = "us-eucom", "ru-genstaff"


def at(hours: float) -> str:
    return format_ts(START + timedelta(hours=hours))


PROPOSAL = {
    "kind": "moratorium",
    "title": "Moratorium on strikes on energy infrastructure",
    "parties": [US, RU],
    "mediator": None,
    "scope": {"categories": ["power_plant", "substation"]},
    "term": {"start": at(0), "end": at(30 * 24)},
    "texts": {"en": "No strikes on energy infrastructure for 30 days.", "ru": "Мораторий."},
}


async def propose(api, username: str = "duty1", **changes):
    return await api.client.post(
        f"/api/v1/channels/{api.channel}/agreements",
        json={**PROPOSAL, **changes},
        headers=api.auth(username),
    )


async def test_proposed_then_signed_by_the_other_party_is_in_force(api, clock):
    response = await propose(api)
    assert response.status_code == 201, response.text
    proposed = response.json()
    agreement = proposed["id"]
    assert (proposed["status"], proposed["pending"], proposed["proposer"]) == (
        "proposed",
        agreement,
        US,
    )
    assert proposed["signatures"] == [{"party": US, "at": at(0)}]

    await api.peer.ingest.receive(api.node.store.chain(api.channel, api.node.party))
    clock.advance(timedelta(hours=1))
    signed = await api.peer.agreements.sign(as_role(api.peer, Role.OPERATOR, "duty2"), agreement)
    await api.node.ingest.receive(api.peer.store.chain(api.channel, api.peer.party))
    assert signed.status == "in_force"

    shown = await api.client.get(f"/api/v1/agreements/{agreement}", headers=api.auth("audit1"))
    assert shown.status_code == 200, shown.text
    body = shown.json()
    assert (body["status"], body["in_force_from"], body["pending"]) == ("in_force", at(1), None)
    assert body["signatures"] == [{"party": US, "at": at(0)}, {"party": RU, "at": at(1)}]
    assert body["term"] == {"start": at(0), "end": at(30 * 24)}
    listed = await api.client.get(
        f"/api/v1/channels/{api.channel}/agreements", headers=api.auth("duty1")
    )
    assert [a["id"] for a in listed.json()] == [agreement]

    extended = await api.client.post(
        f"/api/v1/agreements/{agreement}/amendments",
        json={"term": {"start": at(0), "end": at(60 * 24)}, "reason": "Extended"},
        headers=api.auth("duty1"),
    )
    assert extended.status_code == 201, extended.text
    assert extended.json()["pending"] == extended.json()["versions"][-1]["id"]
    assert extended.json()["term"]["end"] == at(30 * 24)  # until ru-genstaff signs it


async def test_refusals_are_problems(api):
    assert_problem(await propose(api, "audit1"), 403)
    assert_problem(await propose(api, parties=["ru-genstaff", "ae-mediator"]), 403)
    assert_problem(await propose(api, kind="truce"), 422)
    assert_problem(await propose(api, scope={"categories": ["bakery"]}), 422, "scope.categories.0")
    assert_problem(await propose(api, term={"start": at(5), "end": at(1)}), 422, "term.end")
    unknown = "f" * 64
    assert_problem(
        await api.client.get(f"/api/v1/agreements/{unknown}", headers=api.auth("duty1")), 404
    )
    assert_problem(
        await api.client.post(
            f"/api/v1/agreements/{unknown}/signatures", json={}, headers=api.auth("duty1")
        ),
        404,
    )
    agreement = (await propose(api)).json()["id"]
    assert_problem(
        await api.client.post(
            f"/api/v1/agreements/{agreement}/signatures", json={}, headers=api.auth("duty1")
        ),
        409,
    )
    assert_problem(
        await api.client.post(
            f"/api/v1/agreements/{agreement}/signatures", json={}, headers=api.auth("audit1")
        ),
        403,
    )
