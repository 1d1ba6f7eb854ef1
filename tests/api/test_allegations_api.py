"""Allegations over HTTP: sent as forms, listed per agreement with a state filter, shown one
by one, reported as JSON, CSV and a chart; evidence files uploaded and read back."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import timedelta

import pytest

from parley.services import Role
from tests.api.conftest import Api, assert_problem
from tests.conftest import as_role
from tests.services.test_agreements import at, proposal

pytestmark = pytest.mark.anyio
US, RU = "us-eucom", "ru-genstaff"


async def in_force(api: Api, clock) -> str:
    """A moratorium between us-eucom and ru-genstaff, signed by both; the clock an hour on."""
    us, ru = api.node, api.peer
    duty = as_role(us, Role.OPERATOR, "duty1")
    proposed = await us.agreements.propose(duty, api.channel, **proposal(mediator=None))
    await ru.ingest.receive(us.store.chain(api.channel, US))
    agreement = proposed.state.id
    await ru.agreements.sign(as_role(ru, Role.OPERATOR, "duty1"), agreement)
    await us.ingest.receive(ru.store.chain(api.channel, RU)[-1:])
    clock.advance(timedelta(hours=1))
    return agreement


async def allege(api: Api, agreement: str, **data: object) -> str:
    form = {
        "agreement": agreement,
        "accused": RU,
        "occurred_at": at(0.5),
        "description": "A drone struck the Kharkiv thermal power plant.",
        **data,
    }
    sent = await api.client.post(
        f"/api/v1/channels/{api.channel}/notifications",
        headers=api.auth("duty1"),
        json={"form": "violation_allegation/2", "data": form, "precedence": "priority"},
    )
    assert sent.status_code == 201, sent.text
    return str(sent.json()["id"])


async def test_an_allegation_with_evidence_is_listed_shown_and_reported(api: Api, clock):
    agreement = await in_force(api, clock)
    photo = b"\xff\xd8\xff\xe0 the damaged heat plant"
    uploaded = await api.client.post(
        "/api/v1/evidence",
        params={"name": "heat-plant.jpg"},
        content=photo,
        headers={**api.auth("duty1"), "content-type": "image/jpeg"},
    )
    assert uploaded.status_code == 201, uploaded.text
    evidence = uploaded.json()
    assert evidence["sha256"] == hashlib.sha256(photo).hexdigest()
    alleged = await allege(api, agreement, evidence=[evidence])

    listed = await api.client.get(
        f"/api/v1/agreements/{agreement}/allegations", headers=api.auth("duty1")
    )
    assert [(a["id"], a["state"], a["accused"]) for a in listed.json()] == [
        (alleged, "alleged", RU)
    ]
    assert listed.json()[0]["deadline"] == "2026-02-08T15:00:00.000Z"
    answered = await api.client.get(
        f"/api/v1/agreements/{agreement}/allegations",
        params={"state": "answered"},
        headers=api.auth("duty1"),
    )
    assert answered.json() == []
    shown = await api.client.get(f"/api/v1/allegations/{alleged}", headers=api.auth("audit1"))
    assert shown.json()["data"]["evidence"] == [evidence]
    read = await api.client.get(
        f"/api/v1/evidence/{evidence['sha256']}", headers=api.auth("audit1")
    )
    assert (read.content, read.headers["content-type"]) == (photo, "application/octet-stream")

    report = await api.client.get(
        f"/api/v1/agreements/{agreement}/report", headers=api.auth("duty1")
    )
    assert report.json()["counts"] == [
        {"day": "2026-02-05", "party": RU, "state": "alleged", "count": 1, "escalated": 0}
    ]
    assert (report.json()["open_total"], report.json()["open"][0]["id"]) == (1, alleged)
    as_csv = await api.client.get(
        f"/api/v1/agreements/{agreement}/report",
        params={"format": "csv"},
        headers=api.auth("duty1"),
    )
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert list(csv.reader(io.StringIO(as_csv.text)))[1] == ["2026-02-05", RU, "alleged", "1", "0"]
    for fmt, start in (("png", b"\x89PNG"), ("pdf", b"%PDF-"), ("html", b"<!doctype html>")):
        chart = await api.client.get(
            f"/api/v1/agreements/{agreement}/chart",
            params={"format": fmt, "lang": "ru"},
            headers=api.auth("duty1"),
        )
        assert chart.status_code == 200, chart.text
        assert chart.content.startswith(start)


async def test_refusals_name_what_is_wrong(api: Api, clock):
    agreement = await in_force(api, clock)
    unknown = "ab" * 32

    for path in (
        f"/api/v1/agreements/{unknown}/allegations",
        f"/api/v1/agreements/{unknown}/report",
        f"/api/v1/allegations/{unknown}",
    ):
        assert_problem(await api.client.get(path, headers=api.auth("duty1")), 404)
    bad_state = await api.client.get(
        f"/api/v1/agreements/{agreement}/allegations",
        params={"state": "guilty"},
        headers=api.auth("duty1"),
    )
    assert_problem(bad_state, 422)
    answer = {"allegation": await allege(api, agreement), "answer": "accept"}
    refused = await api.client.post(
        f"/api/v1/channels/{api.channel}/notifications",
        headers=api.auth("duty1"),
        json={"form": "allegation_answer/1", "data": answer},
    )
    assert "only ru-genstaff, the accused party" in assert_problem(refused, 403)["detail"]


async def test_an_upload_over_the_limit_is_refused_before_it_is_stored(api: Api):
    limit = api.node.settings.max_evidence_bytes
    too_big = await api.client.post(
        "/api/v1/evidence",
        params={"name": "big.bin"},
        content=b"x" * (limit + 1),
        headers={**api.auth("duty1"), "content-type": "application/octet-stream"},
    )
    assert_problem(too_big, 413)
    over_the_request_limit = b"x" * (api.node.settings.max_request_bytes + 1)
    accepted = await api.client.post(
        "/api/v1/evidence",
        params={"name": "scan.pdf"},
        content=over_the_request_limit,
        headers={**api.auth("duty1"), "content-type": "application/pdf"},
    )
    assert accepted.status_code == 201, accepted.text
    forbidden = await api.client.post(
        "/api/v1/evidence",
        params={"name": "a.txt"},
        content=b"a",
        headers={**api.auth("audit1"), "content-type": "text/plain"},
    )
    assert_problem(forbidden, 403)
