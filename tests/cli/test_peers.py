"""Exchanging keys with ``parley node show``, and changing what was pinned: ``peer set-urls`` and
``peer remove``, each written to the audit log."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from parley.cli import app
from parley.protocol import decode_public_key, fingerprint, parse_fingerprint
from parley.services import Node, Role
from tests.cli.test_cli import init, invoke, public_key_of, runner, table_rows
from tests.conftest import as_role

RU = "ru-genstaff"


@pytest.fixture
def pinned(tmp_path: Path) -> tuple[Path, Path]:
    """us-eucom's folder, with ru-genstaff's key pinned from what 'node show' printed."""
    us, ru = tmp_path / "us-eucom", tmp_path / RU
    init(us)
    init(ru, RU, "Russian General Staff")
    code, out, err = invoke("node", "show", "--data", str(ru), "--json")
    assert code == 0, err
    key = json.loads(out)["public_key"]
    code, _, err = invoke(
        "peer", "add", "--data", str(us), "--party", RU, "--key", key, "--url", "https://a:1"
    )
    assert code == 0, err
    return us, ru


def audit(stderr: str) -> list[dict[str, object]]:
    """The JSON of each audit line a command wrote to stderr."""
    return [json.loads(line.split(" parley.audit ", 1)[1]) for line in stderr.splitlines()]


# -- node show ---------------------------------------------------------------------------------
def test_node_show_prints_what_a_peer_needs_to_pin_this_node(tmp_path: Path) -> None:
    data = tmp_path / "node"
    init(data, RU, "Russian General Staff")
    key = public_key_of(data)

    code, out, _ = invoke("node", "show", "--data", str(data))

    assert code == 0
    print_ = fingerprint(decode_public_key(key))
    assert out.splitlines() == [
        f"Party:       {RU}",
        "Name:        Russian General Staff",
        f"Public key:  {key}",
        f"Fingerprint: {print_}",
        "Served at:   unknown: not served yet ('parley serve' prints it)",
    ]
    assert parse_fingerprint(print_, "--expect-key")  # what 'parley verify --expect-key' takes


def test_node_show_as_json_is_one_object_for_scripts(tmp_path: Path) -> None:
    data = tmp_path / "node"
    init(data, RU, "Russian General Staff")
    (data / "served.json").write_text('{"url": "http://127.0.0.1:8702"}', "utf-8")

    code, out, _ = invoke("node", "show", "--data", str(data), "--json")

    assert code == 0
    key = public_key_of(data)
    assert json.loads(out) == {
        "party": RU,
        "name": "Russian General Staff",
        "public_key": key,
        "fingerprint": fingerprint(decode_public_key(key)),
        "urls": ["http://127.0.0.1:8702"],
    }


# -- peer set-urls -----------------------------------------------------------------------------
def test_set_urls_replaces_a_peers_urls_and_audits_old_and_new(pinned: tuple[Path, Path]) -> None:
    us, _ = pinned
    urls = ["--url", "http://127.0.0.1:8702", "--url", "https://mediator.example:8701/"]
    result = runner.invoke(app, ["peer", "set-urls", "--data", str(us), "--party", RU, *urls])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (f"URLs of {RU}: http://127.0.0.1:8702 https://mediator.example:8701\n")
    assert audit(result.stderr) == [
        {
            "action": "peer.set_urls",
            "operator": "console",
            "node": "us-eucom",
            "target": RU,
            "address": "local",
            "outcome": "ok",
            "old": ["https://a:1"],
            "new": ["http://127.0.0.1:8702", "https://mediator.example:8701"],
        }
    ]
    _, out, _ = invoke("peer", "list", "--data", str(us))
    rows = {cells[0]: cells[1:] for cells in table_rows(out)}
    assert rows[RU][-1] == "http://127.0.0.1:8702 https://mediator.example:8701"


def test_set_urls_with_no_url_stops_calling_the_peer_and_keeps_its_key(
    pinned: tuple[Path, Path],
) -> None:
    us, ru = pinned
    code, out, _ = invoke("peer", "set-urls", "--data", str(us), "--party", RU)
    assert (code, out) == (0, f"URLs of {RU}: none: this node no longer calls it\n")
    node = Node.open(us)
    try:
        assert node.store.peer_urls(RU) == []
        record = node.store.get_party(RU)
        assert record is not None
        assert record.public_key == public_key_of(ru)
    finally:
        node.close()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--party", RU, "--url", "ftp://x/"], "Invalid input: urls[0]: 'ftp://x/' is not"),
        (
            ["--party", "xx-nobody", "--url", "http://x:1"],
            "Not found: party: no pinned peer xx-nobody",
        ),
        (["--party", "us-eucom"], "Not found: party: no pinned peer us-eucom"),
    ],
    ids=["not-a-node-url", "unknown-party", "this-node"],
)
def test_set_urls_refuses_in_one_line_and_changes_nothing(
    pinned: tuple[Path, Path], args: list[str], says: str
) -> None:
    us, _ = pinned
    code, _, err = invoke("peer", "set-urls", "--data", str(us), *args)
    assert code == 2
    assert err.startswith(says)
    code, out, _ = invoke("peer", "list", "--data", str(us))
    assert {cells[0]: cells[-1] for cells in table_rows(out)}[RU] == "https://a:1"


# -- peer remove -------------------------------------------------------------------------------
def test_remove_unpins_a_peer_in_no_channel_so_another_key_can_be_pinned(
    pinned: tuple[Path, Path], tmp_path: Path
) -> None:
    us, ru = pinned
    result = runner.invoke(app, ["peer", "remove", "--data", str(us), "--party", RU])
    assert result.exit_code == 0, result.stderr
    print_ = fingerprint(decode_public_key(public_key_of(ru)))
    assert result.stdout == f"Unpinned {RU} (fingerprint {print_}); its URLs are forgotten\n"
    assert audit(result.stderr) == [
        {
            "action": "peer.remove",
            "operator": "console",
            "node": "us-eucom",
            "target": RU,
            "address": "local",
            "outcome": "ok",
            "fingerprint": print_,
            "old": ["https://a:1"],
        }
    ]
    code, out, _ = invoke("peer", "list", "--data", str(us))
    assert RU not in {cells[0] for cells in table_rows(out)}

    other = tmp_path / "other"
    init(other, RU, "Russian General Staff")
    code, _, err = invoke(
        "peer", "add", "--data", str(us), "--party", RU, "--key", public_key_of(other)
    )
    assert code == 0, err


def test_remove_keeps_a_peer_a_channel_names(pinned: tuple[Path, Path]) -> None:
    us, ru = pinned
    node, peer = Node.open(us), Node.open(ru)
    try:

        async def opened() -> str:
            await peer.pin_party(as_role(peer, Role.ADMIN), "us-eucom", "US", node.public_key)
            view = await node.channels.create(as_role(node, Role.ADMIN), "hotline", {RU: "party"})
            return view.event.channel

        channel = asyncio.run(opened())
    finally:
        node.close()
        peer.close()

    code, _, err = invoke("peer", "remove", "--data", str(us), "--party", RU)

    assert code == 2
    assert err == (
        f"Conflict: party: {RU} is named in channel {channel} (hotline): its key stays pinned; "
        "'parley peer set-urls' with no --url stops this node calling it"
    )
    code, out, _ = invoke("peer", "list", "--data", str(us))
    assert RU in {cells[0] for cells in table_rows(out)}
