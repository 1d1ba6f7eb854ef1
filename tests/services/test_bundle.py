"""Exporting a channel's record from a node and checking it offline, then with the CLI."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from parley.cli import app
from parley.errors import BundleInvalid, Conflict, NotFound
from parley.services import Node, Role, verify_bundle
from tests.conftest import as_role, pin_all
from tests.services.test_replication import open_hotline, settle, trio  # noqa: F401
from tests.services.test_witness import peers  # noqa: F401

pytestmark = pytest.mark.anyio
US, RU, AE = "us-eucom", "ru-genstaff", "ae-mediator"


async def say(node: Node, operator: str, channel: str, precedence: str, text: str) -> str:
    """Post a message as ``operator``; returns its event id."""
    view, _ = await node.channels.post_message(
        as_role(node, Role.OPERATOR, operator), channel, precedence=precedence, text=text, lang="en"
    )
    return view.event.id


async def scene(nodes: dict[str, Node]) -> tuple[str, str]:
    """A mediated hotline: a flash notice from ru acknowledged by us, an answer from us."""
    channel = await open_hotline(nodes, (RU, AE), {RU: "party", AE: "mediator"})
    ru, us = nodes[RU], nodes[US]
    notice = await say(ru, "ivanov", channel, "flash", "Exercise")
    await settle(nodes)
    await us.channels.acknowledge(as_role(us, Role.OPERATOR, "smith"), channel, notice)
    await say(us, "smith", channel, "routine", "Noted")
    await settle(nodes)
    for node in nodes.values():
        await node.transparency.publish_checkpoint()
    for node in nodes.values():
        await node.witness.witness_all()
    return channel, notice


@pytest.fixture
async def exported(
    peers: dict[str, Node],  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> tuple[Path, str, str]:
    """The scene, exported by us-eucom: the bundle, the channel and the notice's id."""
    channel, notice = await scene(peers)
    out = tmp_path / "hotline.jsonl"
    peers[US].export(channel, out)
    return out, channel, notice


async def test_an_exported_channel_verifies_with_cosignatures_delivery_and_acks(
    peers: dict[str, Node],  # noqa: F811 - the fixture imported above
    exported: tuple[Path, str, str],
) -> None:
    out, channel, notice = exported
    report = verify_bundle(out, workers=1)
    assert [party for party, _ in report.cosigners] == [AE, RU]
    assert report.members == {US: "party", RU: "party", AE: "mediator"}
    assert len(report.entries) == peers[US].store.count_events(channel)
    sent = {s.entry.id: s for s in report.sent}
    assert set(sent[notice].delivered) == {US, AE}
    assert sent[notice].acked[US][0] == "smith"


async def test_events_after_the_checkpoint_are_left_out_and_counted(
    peers,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    channel, _ = await scene(peers)
    us = peers[US]
    await us.channels.post_message(
        as_role(us, Role.OPERATOR), channel, precedence="routine", text="later", lang="en"
    )
    await us.transparency.sequence()
    told: list[tuple[int, int]] = []
    summary = us.export(channel, tmp_path / "b", progress=lambda *done: told.append(done))
    assert summary.left_out == 1
    assert told[-1] == (us.store.count_events(channel),) * 2
    report = verify_bundle(tmp_path / "b", workers=1)
    assert len(report.entries) == summary.events == us.store.count_events(channel) - 1
    assert "later" not in [s.entry.body["text"] for s in report.sent if s.entry.body]


async def test_export_refuses_an_unknown_channel_and_a_node_without_checkpoint(
    make_node, tmp_path: Path
) -> None:
    us, ru = make_node(US), make_node(RU)
    await pin_all(us, ru)
    with pytest.raises(NotFound):
        us.export("ch_00000000000000000000", tmp_path / "b")
    opened = await us.channels.create(as_role(us, Role.ADMIN), "hotline", {RU: "party"})
    with pytest.raises(Conflict, match="no checkpoint"):
        us.export(opened.event.channel, tmp_path / "b")
    assert not (tmp_path / "b").exists()


async def test_the_cli_exports_verifies_and_names_each_tampering(
    peers,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    channel, _ = await scene(peers)
    out = tmp_path / "hotline.jsonl"
    runner = CliRunner()
    data = str(tmp_path / US)
    done = runner.invoke(app, ["export", "--data", data, "--channel", channel, "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert "cosigned by ae-mediator, ru-genstaff" in done.output

    verified = runner.invoke(app, ["verify", str(out), "--workers", "1"])
    assert verified.exit_code == 0, verified.output
    assert "VERDICT: VALID" in verified.output
    assert "ru-genstaff (by ivanov) sent message (flash)" in verified.output
    assert "acknowledged: us-eucom by smith at" in verified.output

    lines = out.read_bytes().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if b'"text":"Exercise"' in line)
    tampered = {
        "byte": [*lines[:at], lines[at].replace(b"Exercise", b"Exercisf"), *lines[at + 1 :]],
        "removed": [*lines[:at], *lines[at + 1 :]],
        "reordered": [*lines[: at - 1], lines[at], lines[at - 1], *lines[at + 1 :]],
    }
    reasons = {}
    for name, content in tampered.items():
        path = tmp_path / f"{name}.jsonl"
        path.write_bytes(b"".join(content))
        failed = runner.invoke(app, ["verify", str(path), "--workers", "1"])
        assert failed.exit_code == 1, (name, failed.output)
        reasons[name] = failed.output
    assert reasons["byte"].startswith(f"VERDICT: INVALID: line {at + 1} (ru-genstaff#")
    assert "the signature does not verify with the key of ru-genstaff" in reasons["byte"]
    assert reasons["removed"].startswith(f"VERDICT: INVALID: line {at + 1} (")
    assert "missing or out of order" in reasons["removed"]
    assert "missing or out of order" in reasons["reordered"]
    assert "missing" in runner.invoke(app, ["verify", str(tmp_path / "missing.jsonl")]).output


async def test_an_export_verifies_against_the_fingerprints_its_parties_read_out(
    peers: dict[str, Node],  # noqa: F811 - the fixture imported above
    exported: tuple[Path, str, str],
) -> None:
    out, channel, _ = exported
    expected = {party: node.fingerprint for party, node in peers.items()}
    report = verify_bundle(out, workers=1, expected_keys=expected)
    assert report.checked_keys == {US, RU, AE}
    # Each chain is shown up to its last event stored on the exporting node.
    stored = peers[US].store.list_events(channel, after=0, limit=1000)
    assert report.chains.shown == Counter(item.event.author for item in stored)
    with pytest.raises(BundleInvalid, match=f"the key of {RU} in the bundle has fingerprint"):
        verify_bundle(out, workers=1, expected_keys={RU: peers[AE].fingerprint})


async def test_an_export_is_private_even_with_a_permissive_umask(
    peers,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    channel, _ = await scene(peers)
    old = os.umask(0)
    try:
        peers[US].export(channel, tmp_path / "b")
        peers[US].export(channel, tmp_path / "b", replace=True)
    finally:
        os.umask(old)
    assert (tmp_path / "b").stat().st_mode & 0o777 == 0o600


async def test_an_export_neither_overwrites_a_file_nor_follows_a_symlink_unless_replacing(
    peers: dict[str, Node],  # noqa: F811 - the fixture imported above
    exported: tuple[Path, str, str],
    tmp_path: Path,
) -> None:
    out, channel, _ = exported
    before = out.read_bytes()
    with pytest.raises(Conflict, match="already exists; refusing to overwrite it"):
        peers[US].export(channel, out)
    assert out.read_bytes() == before
    target, link = tmp_path / "elsewhere", tmp_path / "link.jsonl"
    link.symlink_to(target)
    with pytest.raises(Conflict, match="already exists"):
        peers[US].export(channel, link)
    assert not target.exists()

    target.write_bytes(b"kept")
    peers[US].export(channel, link, replace=True)
    assert not link.is_symlink()
    assert target.read_bytes() == b"kept"
    assert len(verify_bundle(link, workers=1).entries) == len(verify_bundle(out, workers=1).entries)
    assert not [path for path in tmp_path.iterdir() if path.name.startswith(".")]  # no temp file


async def test_the_cli_refuses_to_overwrite_an_export_in_one_line_unless_forced(
    exported: tuple[Path, str, str],
    tmp_path: Path,
) -> None:
    out, channel, _ = exported
    before = out.read_bytes()
    runner = CliRunner()
    args = ["export", "--data", str(tmp_path / US), "--channel", channel, "--out", str(out)]
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2
    assert refused.stderr.splitlines() == [
        f"Conflict: {out} already exists; refusing to overwrite it (--force replaces it)"
    ]
    assert out.read_bytes() == before
    forced = runner.invoke(app, [*args, "--force"])
    assert forced.exit_code == 0, forced.output
    assert verify_bundle(out, workers=1).header.channel == channel
