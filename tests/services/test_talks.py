"""Talks between nodes: a round, its minutes signed by every delegation, an excerpt for allies."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from parley.errors import BundleInvalid, Conflict, Forbidden, NotFound
from parley.protocol import canonical_bytes
from parley.services import Node, Role, verify_bundle
from tests.conftest import as_role
from tests.services.test_replication import open_hotline, settle, trio  # noqa: F401
from tests.services.test_witness import peers  # noqa: F401

pytestmark = pytest.mark.anyio
US, RU, AE = "us-eucom", "ru-genstaff", "ae-mediator"

ABU_DHABI: dict[str, Any] = {
    "title": "Trilateral talks on ending the war",
    "start": "2026-02-04T08:00:00Z",
    "end": "2026-02-05T18:00:00Z",
    "venue": "Abu Dhabi",
    "host": AE,
    "delegations": {US: ["Steve Witkoff", "Jared Kushner"], RU: ["Igor Kostyukov"]},
    "agenda": ["Mechanisms to implement a ceasefire", "Territory"],
    "next_round": "in the coming weeks",
}


async def talks(nodes: dict[str, Node]) -> tuple[str, str, str]:
    """A mediated channel with the Abu Dhabi round and its minutes drafted by the host."""
    channel = await open_hotline(nodes, (RU, AE), {RU: "party", AE: "mediator"})
    ae = nodes[AE]
    recorded = await ae.talks.record_round(as_role(ae, Role.OPERATOR, "host1"), channel, ABU_DHABI)
    texts = {"en": "Both delegations agree to meet again.", "ru": "Делегации встретятся снова."}
    minutes = await ae.talks.post_minutes(
        as_role(ae, Role.OPERATOR, "host1"), channel, recorded.event.id, texts
    )
    await settle(nodes)
    return channel, recorded.event.id, minutes.event.id


async def test_minutes_are_signed_when_both_delegations_have_signed(
    peers: dict[str, Node],  # noqa: F811 - the fixture imported above
) -> None:
    channel, round_id, minutes_id = await talks(peers)
    us, ru = peers[US], peers[RU]
    await us.talks.sign(as_role(us, Role.SUPERVISOR, "chief"), channel, minutes_id)
    state = us.talks.minutes(as_role(us, Role.OPERATOR), channel, minutes_id)
    assert state.status == "open"
    assert state.waiting == (RU,)
    await ru.talks.sign(as_role(ru, Role.SUPERVISOR, "chief"), channel, minutes_id)
    await settle(peers)
    for node in peers.values():
        state = node.talks.minutes(as_role(node, Role.OPERATOR), channel, minutes_id)
        assert state.status == "signed"
        assert set(state.signatures) == {US, RU}
        assert state.signed_at is not None
    detail = us.talks.round(as_role(us, Role.OPERATOR), channel, round_id)
    assert detail.round.body["venue"] == "Abu Dhabi"
    assert [m.id for m in detail.minutes] == [minutes_id]


async def test_a_decline_a_second_answer_and_an_outsider_are_refused_or_recorded(
    peers: dict[str, Node],  # noqa: F811 - the fixture imported above
) -> None:
    channel, _, minutes_id = await talks(peers)
    us, ru, ae = peers[US], peers[RU], peers[AE]
    await ru.talks.decline(
        as_role(ru, Role.SUPERVISOR, "chief"), channel, minutes_id, "The text omits territory"
    )
    with pytest.raises(Conflict, match="already declined"):
        await ru.talks.sign(as_role(ru, Role.SUPERVISOR, "chief"), channel, minutes_id)
    with pytest.raises(Forbidden, match="no delegation"):
        await ae.talks.sign(as_role(ae, Role.SUPERVISOR, "chief"), channel, minutes_id)
    with pytest.raises(Forbidden):  # signing commits the party: a supervisor's act
        await us.talks.sign(as_role(us, Role.OPERATOR), channel, minutes_id)
    await settle(peers)
    state = us.talks.minutes(as_role(us, Role.OPERATOR), channel, minutes_id)
    assert state.status == "declined"
    assert state.declines[RU][2] == "The text omits territory"


async def test_minutes_of_an_unknown_round_are_refused(
    peers: dict[str, Node],  # noqa: F811 - the fixture imported above
) -> None:
    channel = await open_hotline(peers, (RU, AE), {RU: "party", AE: "mediator"})
    us = peers[US]
    with pytest.raises(NotFound, match="no round"):
        await us.talks.post_minutes(as_role(us, Role.OPERATOR), channel, "f" * 64, {"en": "x"})


async def test_a_working_group_talks_on_a_channel_of_its_own(
    peers: dict[str, Node],  # noqa: F811 - the fixture imported above
) -> None:
    channel, round_id, _ = await talks(peers)
    ae = peers[AE]
    opened, recorded = await ae.talks.add_working_group(
        as_role(ae, Role.ADMIN, "admin1"), channel, round_id, "Ceasefire mechanisms"
    )
    group_channel = opened.event.channel
    assert recorded.event.body["channel"] == group_channel != channel
    assert set(opened.event.body["members"]) == {US, RU, AE}
    detail = ae.talks.round(as_role(ae, Role.OPERATOR), channel, round_id)
    assert [g.body["name"] for g in detail.working_groups] == ["Ceasefire mechanisms"]


async def released(nodes: dict[str, Node], tmp_path: Path) -> tuple[Path, list[str], str]:
    """Talks with chatter around them; the round and the minutes released to nato."""
    channel, round_id, minutes_id = await talks(nodes)
    us = nodes[US]
    for text in ("Not for allies", "Nor this"):
        await us.channels.post_message(
            as_role(us, Role.OPERATOR), channel, precedence="routine", text=text, lang="en"
        )
    await settle(nodes)
    for node in nodes.values():
        await node.transparency.publish_checkpoint()
    for node in nodes.values():
        await node.witness.witness_all()
    excerpt = await us.excerpts.release(
        as_role(us, Role.SUPERVISOR, "chief"), channel, [minutes_id, round_id], "nato", "REL NATO"
    )
    out = tmp_path / "excerpt.jsonl"
    out.write_bytes(excerpt.data)
    return out, [round_id, minutes_id], excerpt.release.event.id


async def test_an_excerpt_of_two_events_verifies_without_the_others(
    peers: dict[str, Node],  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    out, chosen, release_id = await released(peers, tmp_path)
    report = verify_bundle(out, workers=1)
    assert report.header.release is not None
    assert (report.header.release.to, report.header.release.marking) == ("nato", "REL NATO")
    assert {e.id for e in report.entries} == set(chosen)
    assert report.cosigners
    text = out.read_text("utf-8")
    assert "Not for allies" not in text
    assert "Nor this" not in text
    us = peers[US]
    release = us.channels.event(as_role(us, Role.OPERATOR), report.header.channel, release_id)
    assert release.event.body["to"] == "nato"
    assert release.event.body["events"] == [chosen[1], chosen[0]]
    (audited,) = us.store.list_audit(after=0, limit=10, action="excerpt.release")
    assert audited.actor == "chief"
    assert audited.details["marking"] == "REL NATO"


async def test_a_tampered_excerpt_fails_with_its_reason(
    peers: dict[str, Node],  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    out, _, _ = await released(peers, tmp_path)
    header, *lines = out.read_bytes().splitlines(keepends=True)
    altered = tmp_path / "altered.jsonl"
    altered.write_bytes(header + lines[0].replace(b"Abu Dhabi", b"Abu Dhabx") + b"".join(lines[1:]))
    with pytest.raises(BundleInvalid, match="signature does not verify"):
        verify_bundle(altered, workers=1)
    dropped = tmp_path / "dropped.jsonl"
    dropped.write_bytes(header + lines[0])
    with pytest.raises(BundleInvalid, match="an event was altered, removed or moved"):
        verify_bundle(dropped, workers=1)
    fields = json.loads(header)
    fields["excerpt"]["marking"] = "UNCLASSIFIED"
    remarked = tmp_path / "remarked.jsonl"
    remarked.write_bytes(json.dumps(fields).encode() + b"\n" + b"".join(lines))
    with pytest.raises(BundleInvalid, match=r"header\.signature does not verify"):
        verify_bundle(remarked, workers=1)


async def test_an_event_slipped_into_an_excerpt_is_not_proved_by_it(
    peers: dict[str, Node],  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    """An event of the channel, signed and in the log, but not one the excerpt's proof holds."""
    out, _, _ = await released(peers, tmp_path)
    header, *lines = out.read_bytes().splitlines(keepends=True)
    whole = tmp_path / "whole.jsonl"
    peers[US].export(json.loads(header)["channel"], whole)
    (chatter,) = [line for line in whole.read_bytes().splitlines(True) if b"Not for allies" in line]
    index = json.loads(chatter)["index"]
    entries = sorted([*lines, chatter], key=lambda line: json.loads(line)["index"])
    assert index > json.loads(lines[0])["index"]
    slipped = tmp_path / "slipped.jsonl"
    slipped.write_bytes(header + b"".join(entries))
    with pytest.raises(BundleInvalid, match="inclusion: "):
        verify_bundle(slipped, workers=1)


async def test_an_excerpt_whose_checkpoint_lost_its_cosignatures_fails(
    peers: dict[str, Node],  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    """Even re-signed by its exporter: only a witness's cosignature proves an excerpt."""
    out, _, _ = await released(peers, tmp_path)
    header, *lines = out.read_bytes().splitlines(keepends=True)
    fields = json.loads(header)
    note = fields["checkpoint"]
    fields["checkpoint"] = "".join(
        line
        for line in note.splitlines(keepends=True)
        if not line.startswith("\u2014 ") or line.startswith(f"\u2014 {US} ")
    )
    del fields["signature"]
    signature = peers[US].signer.sign(canonical_bytes(fields))
    fields["signature"] = base64.b64encode(signature).decode()
    bare = tmp_path / "bare.jsonl"
    bare.write_bytes(json.dumps(fields).encode() + b"\n" + b"".join(lines))
    with pytest.raises(BundleInvalid, match="no witness cosignature"):
        verify_bundle(bare, workers=1)


async def test_an_excerpt_needs_a_cosigned_checkpoint_holding_its_events(
    peers: dict[str, Node],  # noqa: F811 - the fixture imported above
) -> None:
    channel, round_id, _ = await talks(peers)
    us = peers[US]
    chief = as_role(us, Role.SUPERVISOR, "chief")
    await us.transparency.publish_checkpoint()
    with pytest.raises(Conflict, match="not cosigned"):
        await us.excerpts.release(chief, channel, [round_id], "nato", "REL NATO")
    for node in peers.values():
        await node.witness.witness_all()
    later = await us.channels.post_message(
        as_role(us, Role.OPERATOR), channel, precedence="routine", text="later", lang="en"
    )
    await us.transparency.sequence()
    with pytest.raises(Conflict, match="not in the cosigned checkpoint"):
        await us.excerpts.release(chief, channel, [later[0].event.id], "nato", "REL NATO")
    with pytest.raises(NotFound):
        await us.excerpts.release(chief, channel, ["f" * 64], "nato", "REL NATO")
