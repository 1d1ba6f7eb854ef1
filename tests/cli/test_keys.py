"""``parley node rotate-key`` / ``revoke-key`` and ``parley peer rekey`` / ``revoke-key``."""

from __future__ import annotations

import base64
import fcntl
import json
from pathlib import Path

from parley.protocol import Ed25519Signer, fingerprint
from parley.services import Node
from tests.cli.test_cli import invoke
from tests.cli.test_peers import RU, audit, pinned  # noqa: F401 - the fixture

NEW = Ed25519Signer.from_seed(b"\x07" * 32)
NEW_KEY = base64.b64encode(NEW.public_key).decode()
NEW_PRINT = fingerprint(NEW.public_key)


def fingerprint_of(data: Path, party: str) -> str:
    node = Node.open(data)
    try:
        return node.keys.history(party).current.fingerprint
    finally:
        node.close()


def test_rekey_shows_both_fingerprints_and_asks_before_re_pinning(
    pinned: tuple[Path, Path],  # noqa: F811 - the fixture imported above
) -> None:
    us, _ = pinned
    old = fingerprint_of(us, RU)

    code, out, err = invoke("peer", "rekey", RU, "--data", str(us), "--key", NEW_KEY, input="n\n")

    assert code == 1
    assert f"Pinned key of {RU}: {old}" in out
    assert f"New key:{' ' * (len(RU) + 6)}{NEW_PRINT}" in out
    assert f"Replace the pinned key of {RU}?" in out
    assert err == "Aborted"
    assert fingerprint_of(us, RU) == old

    code, out, err = invoke("peer", "rekey", RU, "--data", str(us), "--key", NEW_KEY, input="y\n")

    assert code == 0, err
    assert f"Re-pinned {RU}: {NEW_PRINT}" in out
    assert fingerprint_of(us, RU) == NEW_PRINT
    (line,) = audit(err)
    assert (line["action"], line["old"], line["new"]) == ("peer.rekey", old, NEW_PRINT)


def test_rekey_with_yes_does_not_ask_and_refuses_a_key_already_known(
    pinned: tuple[Path, Path],  # noqa: F811 - the fixture imported above
) -> None:
    us, _ = pinned

    code, out, _ = invoke("peer", "rekey", RU, "--data", str(us), "--key", NEW_KEY, "--yes")
    assert code == 0
    assert "Replace" not in out

    code, _, err = invoke("peer", "rekey", RU, "--data", str(us), "--key", NEW_KEY, "--yes")
    assert code == 2
    assert err == f"Conflict: key: {NEW_PRINT} is already a key of {RU}"


def test_peer_revoke_key_declares_a_key_compromised(
    pinned: tuple[Path, Path],  # noqa: F811 - the fixture imported above
) -> None:
    us, _ = pinned
    old = fingerprint_of(us, RU)
    digits = old.replace(" ", "")

    code, out, err = invoke(
        "peer", "revoke-key", RU, "--data", str(us), "--fingerprint", digits,
        "--since", "2026-01-01T00:00:00Z",
    )  # fmt: skip

    assert code == 0, err
    assert f"Key {old} of {RU} is compromised since 2026-01-01T00:00:00.000Z" in out
    assert audit(err)[0]["action"] == "peer.revoke_key"


def test_rotate_key_switches_the_node_and_keeps_the_old_key_file(
    pinned: tuple[Path, Path],  # noqa: F811 - the fixture imported above
) -> None:
    _, ru = pinned
    old = fingerprint_of(ru, RU)

    code, out, err = invoke("node", "rotate-key", "--data", str(ru), "--json")

    assert code == 0, err
    shown = json.loads(out)
    assert (shown["party"], shown["old"], shown["events"]) == (RU, old, 0)
    assert fingerprint_of(ru, RU) == shown["new"] != old  # the node opens with its new key
    assert (ru / f"node.key.{old.replace(' ', '-')}.old").stat().st_mode & 0o777 == 0o600
    assert audit(err)[0]["action"] == "node.rotate_key"

    code, out, err = invoke(
        "node", "revoke-key", "--data", str(ru), "--compromised-since", "2026-01-01T00:00:00Z"
    )
    assert code == 0, err
    assert f"Revoked {old} of {RU}: compromised since 2026-01-01T00:00:00.000Z" in out


def test_revoke_key_before_any_rotation_is_refused(
    pinned: tuple[Path, Path],  # noqa: F811 - the fixture imported above
) -> None:
    _, ru = pinned
    code, _, err = invoke(
        "node", "revoke-key", "--data", str(ru), "--compromised-since", "2026-01-01T00:00:00Z"
    )
    assert code == 2
    assert "rotate it first" in err


def test_rotate_key_refuses_while_the_node_serves(
    pinned: tuple[Path, Path],  # noqa: F811 - the fixture imported above
) -> None:
    _, ru = pinned
    with open(ru / "node.lock", "a+b") as serving:
        fcntl.flock(serving, fcntl.LOCK_SH)
        code, _, err = invoke("node", "rotate-key", "--data", str(ru))
    assert code == 2
    assert err == f"Conflict: a node is serving {ru}: stop it before changing its key"


def test_a_key_file_replaced_by_hand_stops_the_node_with_a_hint(
    pinned: tuple[Path, Path],  # noqa: F811 - the fixture imported above
) -> None:
    _, ru = pinned
    (ru / "node.key").write_bytes(NEW.to_pem())

    code, _, err = invoke("node", "show", "--data", str(ru))

    assert code == 2
    assert "is not a key of ru-genstaff" in err
    assert "'parley node rotate-key'" in err
