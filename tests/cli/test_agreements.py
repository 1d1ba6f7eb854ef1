"""``parley agreement`` and ``parley sites import --agreement`` against a node on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
from typer.testing import CliRunner

from parley.cli import app
from parley.services import Role
from tests.cli.test_send import _setup
from tests.conftest import as_role


def agreement(url: str, secret: Path, command: str, *args: str):
    login = ["--node", url, "--username", "duty1", "--password-file", str(secret)]
    return CliRunner().invoke(app, ["agreement", command, *login, *args])


def _hotline(served_pair, tmp_path: Path) -> tuple[str, Path]:
    """The hotline of the served node, accepted by the other party."""
    node, peer, url = served_pair
    channel, secret = _setup(url, tmp_path)

    async def accept() -> None:
        await peer.ingest.receive(node.store.chain(channel, node.party))
        accepted = await peer.channels.accept(as_role(peer, Role.ADMIN), channel)
        await node.ingest.receive([accepted.event])

    anyio.run(accept)
    return channel, secret


def test_propose_sign_extend_list_and_show(served_pair, tmp_path):
    node, peer, url = served_pair
    channel, secret = _hotline(served_pair, tmp_path)
    options = ["--channel", channel, "--title", "Energy moratorium", "--text", "No strikes."]
    parties = ["--party", "us-eucom", "--party", "ru-genstaff", "--category", "power_plant"]
    timing = ["--start", "2026-02-05T14:00:00.000Z", "--days", "30"]

    proposed = agreement(url, secret, "propose", *options, *parties, *timing, "--json")
    assert proposed.exit_code == 0, proposed.output
    agreement_id = json.loads(proposed.output)["id"]

    async def signed_by_the_other_party() -> None:
        await peer.ingest.receive(node.store.chain(channel, node.party))
        await peer.agreements.sign(as_role(peer, Role.OPERATOR, "duty2"), agreement_id)
        await node.ingest.receive(peer.store.chain(channel, peer.party))

    anyio.run(signed_by_the_other_party)
    extended = agreement(
        url, secret, "amend", agreement_id, "--extend-days", "30", "--reason", "Extended"
    )
    assert extended.exit_code == 0, extended.output
    assert "in_force, waiting for ru-genstaff" in extended.output
    assert "2026-03-07T14:00:00.000Z" in extended.output  # the term in force, until signed

    listed = agreement(url, secret, "list", "--channel", channel)
    assert listed.exit_code == 0, listed.output
    assert agreement_id[:20] in listed.output
    shown = agreement(url, secret, "show", agreement_id)
    assert shown.exit_code == 0, shown.output
    assert "amendment 1" in shown.output
    assert "signed by ru-genstaff at 2026-02-05T14:00:00.000Z" in shown.output
    again = agreement(url, secret, "sign", agreement_id)
    assert again.exit_code == 2
    assert "already signed" in again.output


def test_sites_take_the_term_of_an_agreement_and_an_unknown_one_is_refused(served_pair, tmp_path):
    node, _peer, url = served_pair
    channel, secret = _hotline(served_pair, tmp_path)
    sites = tmp_path / "sites.csv"
    sites.write_text("lon,lat,name,category\n36.2,49.9,CHP,power_plant\n", "utf-8")
    data = ["--data", str(node.config.data_dir)]

    unknown = CliRunner().invoke(
        app, ["sites", "import", str(sites), *data, "--agreement", "e" * 64]
    )
    assert unknown.exit_code == 2
    assert "no agreement" in unknown.output

    options = ["--channel", channel, "--title", "Moratorium", "--text", "No strikes."]
    parties = ["--party", "us-eucom", "--party", "ru-genstaff", "--days", "30", "--json"]
    agreement_id = json.loads(agreement(url, secret, "propose", *options, *parties).output)["id"]
    imported = CliRunner().invoke(
        app, ["sites", "import", str(sites), *data, "--agreement", agreement_id]
    )
    assert imported.exit_code == 0, imported.output
    [site] = node.sites.listed(as_role(node, Role.ADMIN))
    assert site.agreement == agreement_id
    assert site.valid_until_ms - site.valid_from_ms == 30 * 24 * 3600 * 1000
