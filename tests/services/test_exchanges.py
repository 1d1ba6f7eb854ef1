"""A 157-for-157 exchange between in-process nodes: keys, sealed lists, the mediator's
verification, completion, refusals, and crypto-shredding after the retention period."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from pathlib import Path

import pytest

from parley.clock import ManualClock, format_ts
from parley.errors import Conflict, Forbidden, InvalidInput, PermissionDenied
from parley.exchange import Person, fictitious_persons, render_csv
from parley.services import Node, Principal, Role
from parley.services._bundle import verify_bundle
from tests.conftest import PASSWORD, START, as_role
from tests.services.test_ingest import peer_event, refused
from tests.services.test_replication import open_hotline, settle, trio  # noqa: F401

pytestmark = pytest.mark.anyio

US, RU, AE = "us-eucom", "ru-genstaff", "ae-mediator"
COUNTS = {"military": 150, "civilian": 7}


def at(hours: float) -> str:
    return format_ts(START + timedelta(hours=hours))


def exchange_proposal() -> dict:
    return {
        "kind": "exchange",
        "title": "Exchange of 157 for 157",
        "parties": [US, RU],
        "mediator": AE,
        "scope": {"counts": COUNTS},
        "term": {"start": at(0), "end": at(30 * 24)},
        "texts": {"en": "Each side hands over 157 persons through the mediator."},
        "by": "duty1",
    }


def listed(start: int) -> list[Person]:
    return fictitious_persons(157, start=start, counts=COUNTS, arabic_every=11)


async def officer(node: Node, *, granted: bool = True) -> Principal:
    """An operator of ``node`` (with the exchange permission, if ``granted``)."""
    await node.operators.add("officer1", "operator", PASSWORD)
    if granted:
        await node.exchanges.grant(as_role(node, Role.ADMIN), "officer1", "exchange")
    return Principal("officer1", Role.OPERATOR, node.party)


@dataclasses.dataclass
class Scene:
    channel: str
    agreement: str
    officers: dict[str, Principal]


async def exchange_in_force(trio: dict[str, Node]) -> Scene:  # noqa: F811
    channel = await open_hotline(trio, roles={RU: "party", AE: "mediator"})
    us, ru = trio[US], trio[RU]
    proposed = await us.channels.append(
        us.channels.writable(channel), "agreement", exchange_proposal()
    )
    await settle(trio)
    agreement = proposed.event.id
    signature = {"agreement": agreement, "version": agreement, "by": "duty1"}
    await ru.channels.append(ru.channels.writable(channel), "agreement_signature", signature)
    await settle(trio)
    officers = {party: await officer(node) for party, node in trio.items()}
    for party, node in trio.items():
        await node.exchanges.join(officers[party], agreement)
    await settle(trio)
    return Scene(channel, agreement, officers)


async def test_a_157_for_157_exchange_is_verified_completed_and_shredded(
    trio: dict[str, Node],  # noqa: F811
    clock: ManualClock,
    tmp_path: Path,
) -> None:
    us, ru, ae = trio[US], trio[RU], trio[AE]
    scene = await exchange_in_force(trio)
    agreement, officers = scene.agreement, scene.officers
    ours, theirs = listed(0), listed(1000)

    sent = await us.exchanges.submit(officers[US], agreement, render_csv(ours), "csv")
    await settle(trio)
    # A duplicate and a person already on the other side's list: refused whole, per row.
    bad = [*theirs[:155], theirs[3], ours[7]]
    with pytest.raises(InvalidInput) as caught:
        await ru.exchanges.submit(officers[RU], agreement, render_csv(bad), "csv")
    fields = [(e.field, e.message.split(":")[0]) for e in caught.value.errors]
    assert ("rows.156.name", "duplicate_in_list") in fields
    assert ("rows.157.name", "duplicate_across_lists") in fields
    theirs_sent = await ru.exchanges.submit(officers[RU], agreement, render_csv(theirs), "csv")
    await settle(trio)

    # The mediator reads both lists, queries one row, then verifies the corrected list.
    opened = await ae.exchanges.read(officers[AE], agreement, theirs_sent.view.event.id)
    assert opened.persons == tuple(theirs)
    await ae.exchanges.verify(officers[AE], agreement, sent.view.event.id, {})
    note = "Row 12: the unit given is not the one the ICRC visited; please check."
    await ae.exchanges.verify(
        officers[AE], agreement, theirs_sent.view.event.id, {12: "identity"}, note
    )
    await settle(trio)
    queried = await ru.exchanges.read(officers[RU], agreement, theirs_sent.view.event.id)
    assert queried.note == note
    assert queried.entry.verification is not None
    assert queried.entry.verification.queried == {12: "identity"}
    with pytest.raises(Conflict, match="list of ru-genstaff is not verified"):
        await ae.exchanges.complete(officers[AE], agreement)
    corrected = [*theirs[:11], dataclasses.replace(theirs[11], unit="civilian"), *theirs[12:]]
    resent = await ru.exchanges.submit(officers[RU], agreement, render_csv(corrected), "csv")
    await settle(trio)
    await ae.exchanges.verify(officers[AE], agreement, resent.view.event.id, {})
    done = await ae.exchanges.complete(officers[AE], agreement)
    await settle(trio)

    for node in trio.values():
        state = node.exchanges.exchange(agreement)
        assert state.status() == "completed"
        assert state.completed is not None
        assert state.completed.id == done.event.id
        resent_list = state.current_list(RU)
        assert resent_list is not None
        assert resent_list.supersedes == theirs_sent.view.event.id
    with pytest.raises(Conflict, match="was completed"):
        await us.exchanges.submit(officers[US], agreement, render_csv(ours), "csv")
    reads = us.store.list_audit(after=0, limit=500, action="exchange.read")
    assert reads == []
    assert ae.store.list_audit(after=0, limit=500, action="exchange.read")

    # Shredding waits for the retention period; then names are gone and the record verifies.
    with pytest.raises(Conflict, match="kept until"):
        await us.exchanges.shred(officers[US], agreement)
    clock.advance(timedelta(days=31))
    for party, node in trio.items():
        await node.exchanges.shred(officers[party], agreement)
    with pytest.raises(Conflict, match="was shredded"):
        await us.exchanges.read(officers[US], agreement, sent.view.event.id)
    for node in trio.values():
        await node.transparency.publish_checkpoint()
    for node in trio.values():
        await node.witness.witness_all()
    bundle = tmp_path / "abu-dhabi.jsonl"
    us.export(scene.channel, bundle)
    verify_bundle(bundle, workers=1)
    names = [p.name for p in ours + theirs] + [p.latin for p in ours + theirs] + [note]
    for blob in (bundle.read_bytes(), *_store_bytes(us)):
        assert not [name for name in names if name.encode() in blob]


def _store_bytes(node: Node) -> list[bytes]:
    folder = node.config.data_dir
    return [path.read_bytes() for path in folder.iterdir() if path.name.startswith("parley.db")]


async def test_an_operator_without_the_permission_is_refused(
    trio: dict[str, Node],  # noqa: F811
) -> None:
    scene = await exchange_in_force(trio)
    us = trio[US]
    await us.operators.add("clerk", "operator", PASSWORD)
    clerk = Principal("clerk", Role.OPERATOR, US)
    with pytest.raises(PermissionDenied):
        await us.exchanges.submit(clerk, scene.agreement, render_csv(listed(0)), "csv")
    with pytest.raises(PermissionDenied):
        await us.exchanges.grant(clerk, "clerk", "exchange")


async def test_lists_are_refused_while_the_agreement_is_not_in_force(
    trio: dict[str, Node],  # noqa: F811
) -> None:
    channel = await open_hotline(trio, roles={RU: "party", AE: "mediator"})
    us = trio[US]
    proposed = await us.channels.append(
        us.channels.writable(channel), "agreement", exchange_proposal()
    )
    await settle(trio)
    agreement = proposed.event.id
    officers = {party: await officer(node) for party, node in trio.items()}
    for party, node in trio.items():
        await node.exchanges.join(officers[party], agreement)
    await settle(trio)
    with pytest.raises(Conflict, match="is proposed, not in force"):
        await us.exchanges.submit(officers[US], agreement, render_csv(listed(0)), "csv")


async def test_bad_rows_are_each_reported_and_nothing_is_stored(
    trio: dict[str, Node],  # noqa: F811
) -> None:
    scene = await exchange_in_force(trio)
    us = trio[US]
    before = us.store.count_events(scene.channel)
    rows = [p.as_dict() for p in listed(0)]
    rows[4]["born"] = "2030-01-01"
    rows[9]["name"] = "Ивaн Петров"  # a Latin "a" in a Cyrillic name
    with pytest.raises(InvalidInput) as caught:
        await us.exchanges.submit(
            scene.officers[US], scene.agreement, json.dumps(rows).encode(), "json"
        )
    assert [e.field for e in caught.value.errors] == ["rows.5.born", "rows.10.name"]
    assert us.store.count_events(scene.channel) == before


async def test_a_peer_that_completes_without_being_the_mediator_is_refused(
    trio: dict[str, Node],  # noqa: F811
) -> None:
    scene = await exchange_in_force(trio)
    completion = {"agreement": scene.agreement, "by": "duty1"}
    await refused(
        trio[US], peer_event(trio[RU], scene.channel, "exchange_completion", completion), "mediator"
    )
    with pytest.raises(Forbidden, match="mediator"):
        await trio[RU].channels.append(
            trio[RU].channels.writable(scene.channel), "exchange_completion", completion
        )
