"""Talks over HTTP: a round, its minutes signed by both delegations, a decline, an excerpt."""

from __future__ import annotations

from pathlib import Path

import pytest

from parley.services import Role, verify_bundle
from tests.api.conftest import assert_problem
from tests.api.test_log_api import ru_cosignature
from tests.conftest import as_role

pytestmark = pytest.mark.anyio
US, RU = "us-eucom", "ru-genstaff"
GENEVA = {
    "title": "Strategic stability dialogue, round 1",
    "start": "2021-07-28T07:00:00Z",
    "venue": "Geneva",
    "host": "ch-fdfa",
    "delegations": {US: ["Wendy Sherman"], RU: ["Sergei Ryabkov"]},
    "agenda": ["Prospects for arms control", "Risk-reduction measures"],
    "outcome": "Expert working groups to be formed",
    "next_round": "end of September 2021; informal consultations before it",
}


async def recorded(api) -> tuple[str, str]:
    """The Geneva round and its minutes, recorded by us-eucom's duty officer: their ids."""
    base = f"/api/v1/channels/{api.channel}"
    made = await api.client.post(f"{base}/rounds", json=GENEVA, headers=api.auth("duty1"))
    assert made.status_code == 201, made.text
    round_id = made.json()["id"]
    texts = {"en": "The delegations discussed arms control.", "ru": "Делегации обсудили."}
    minutes = await api.client.post(
        f"{base}/rounds/{round_id}/minutes", json={"texts": texts}, headers=api.auth("duty1")
    )
    assert minutes.status_code == 201, minutes.text
    return round_id, minutes.json()["id"]


async def test_minutes_signed_by_both_delegations_show_as_signed(api) -> None:
    round_id, minutes_id = await recorded(api)
    base = f"/api/v1/channels/{api.channel}"
    listed = await api.client.get(f"{base}/rounds", headers=api.auth("audit1"))
    assert [r["body"]["venue"] for r in listed.json()] == ["Geneva"]

    sign = f"{base}/minutes/{minutes_id}/signatures"
    assert_problem(await api.client.post(sign, headers=api.auth("duty1")), 403)
    assert (await api.client.post(sign, headers=api.auth("watch1"))).status_code == 201
    assert_problem(await api.client.post(sign, headers=api.auth("watch1")), 409)

    node, peer = api.node, api.peer
    await peer.ingest.receive(node.store.chain(api.channel, US))
    signed = await peer.talks.sign(as_role(peer, Role.SUPERVISOR, "chief"), api.channel, minutes_id)
    await node.ingest.receive([signed.event])

    shown = (await api.client.get(f"{base}/minutes/{minutes_id}", headers=api.auth("duty1"))).json()
    assert shown["status"] == "signed"
    assert shown["signatures"][RU]["by"] == "chief"
    assert shown["signatures"][US]["by"] == "watch1"
    assert shown["texts"]["ru"] == "Делегации обсудили."
    detail = (await api.client.get(f"{base}/rounds/{round_id}", headers=api.auth("duty1"))).json()
    assert detail["round"]["body"]["next_round"].startswith("end of September")
    assert [m["status"] for m in detail["minutes"]] == ["signed"]


async def test_a_decline_gives_its_reason(api) -> None:
    _, minutes_id = await recorded(api)
    base = f"/api/v1/channels/{api.channel}/minutes/{minutes_id}"
    reason = {"reason": "The text leaves out the next round"}
    declined = await api.client.post(f"{base}/declines", json=reason, headers=api.auth("watch1"))
    assert declined.status_code == 201, declined.text
    shown = (await api.client.get(base, headers=api.auth("duty1"))).json()
    assert shown["status"] == "declined"
    assert shown["declines"][US]["reason"] == reason["reason"]
    assert shown["waiting"] == [RU]


async def test_bad_rounds_and_minutes_of_an_unknown_round_are_refused(api) -> None:
    base = f"/api/v1/channels/{api.channel}"
    alone = {**GENEVA, "delegations": {US: ["Wendy Sherman"]}}
    assert_problem(
        await api.client.post(f"{base}/rounds", json=alone, headers=api.auth("duty1")), 422
    )
    unknown = f"{base}/rounds/{'f' * 64}/minutes"
    texts = {"texts": {"en": "x"}}
    assert_problem(await api.client.post(unknown, json=texts, headers=api.auth("duty1")), 404)
    outsider = {**GENEVA, "delegations": {US: ["a"], "ua-nsdc": ["b"]}}
    assert_problem(
        await api.client.post(f"{base}/rounds", json=outsider, headers=api.auth("duty1")), 422
    )


async def test_an_excerpt_is_released_to_a_third_party_and_verifies(api, tmp_path: Path) -> None:
    round_id, minutes_id = await recorded(api)
    await api.post_message(text="Not for allies")
    base = f"/api/v1/channels/{api.channel}"
    request = {"events": [round_id, minutes_id], "to": "nato", "marking": "REL NATO"}
    excerpts = f"{base}/excerpts"
    published = await api.client.post("/api/v1/log/checkpoints", headers=api.auth("watch1"))
    assert_problem(await api.client.post(excerpts, json=request, headers=api.auth("watch1")), 409)
    size = published.json()["size"]
    line = ru_cosignature(api, size)
    await api.node.transparency.receive_cosignature(RU, {"size": size, "cosignature": line})

    assert_problem(await api.client.post(excerpts, json=request, headers=api.auth("duty1")), 403)
    answer = await api.client.post(excerpts, json=request, headers=api.auth("watch1"))
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["cosigners"] == [RU]
    assert body["release"]["event"]["body"]["digest"] == body["digest"]
    out = tmp_path / "geneva.jsonl"
    out.write_text(body["excerpt"], "utf-8")
    report = verify_bundle(out, workers=1)
    assert {e.id for e in report.entries} == {round_id, minutes_id}
    assert "Not for allies" not in body["excerpt"]
