"""``node.key`` at rest: encrypted under a passphrase, opened from the environment or a file
only its owner reads, rewritten in place; and a data folder others may read, tightened."""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path

import pytest

from parley.errors import InvalidInput
from parley.protocol import Ed25519Signer, pem_is_encrypted
from parley.services import KEY_FILE, PASSPHRASE_ENV, Node, Role, init_node, key_is_encrypted
from tests.conftest import FAST_HASH, as_role

US = "us-eucom"
PASSPHRASE = "the duty officer's long passphrase"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def encrypted(tmp_path: Path) -> Path:
    data = tmp_path / US
    init_node(data, US, "United States European Command", settings=FAST_HASH, passphrase=PASSPHRASE)
    return data


@pytest.fixture(autouse=True)
def _no_passphrase_around(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PASSPHRASE_ENV, raising=False)


def test_init_writes_an_encrypted_pkcs8_key(encrypted: Path) -> None:
    pem = (encrypted / KEY_FILE).read_bytes()
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert key_is_encrypted(encrypted)
    assert mode(encrypted / KEY_FILE) == 0o600
    signer = Ed25519Signer.from_pem(pem, PASSPHRASE.encode())
    node = Node.open(encrypted, passphrase=PASSPHRASE)
    try:
        assert node.signer.public_key == signer.public_key
    finally:
        node.close()


def test_the_node_opens_with_the_passphrase_from_the_environment(
    encrypted: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSPHRASE_ENV, PASSPHRASE)
    Node.open(encrypted).close()


def test_a_missing_or_wrong_passphrase_is_one_clear_error(
    encrypted: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(InvalidInput) as missing:
        Node.open(encrypted)
    assert missing.value.detail == (
        f"node.key: {encrypted / KEY_FILE} is encrypted: set PARLEY_KEY_PASSPHRASE or the "
        "setting key_passphrase_file"
    )
    monkeypatch.setenv(PASSPHRASE_ENV, "not the passphrase at all")
    with pytest.raises(InvalidInput) as wrong:
        Node.open(encrypted)
    assert wrong.value.detail == (
        f"PARLEY_KEY_PASSPHRASE: does not open {encrypted / KEY_FILE}: a wrong passphrase, "
        "or a damaged file"
    )


def set_passphrase_file(data: Path, name: str) -> None:
    config = data / "parley.toml"
    text = config.read_text("utf-8").replace(
        "[settings]", f'[settings]\nkey_passphrase_file = "{name}"'
    )
    config.write_text(text, "utf-8")


def test_a_passphrase_file_readable_by_its_owner_only_opens_the_key(encrypted: Path) -> None:
    secret = encrypted / "passphrase"
    secret.write_text(PASSPHRASE + "\nignored\n", "utf-8")
    secret.chmod(0o640)
    set_passphrase_file(encrypted, "passphrase")

    with pytest.raises(InvalidInput, match=r"settings.key_passphrase_file: .* is open to other"):
        Node.open(encrypted)
    secret.chmod(0o600)
    Node.open(encrypted).close()


def test_a_missing_passphrase_file_is_named(encrypted: Path) -> None:
    set_passphrase_file(encrypted, "nowhere")
    with pytest.raises(InvalidInput, match=r"settings.key_passphrase_file: .*nowhere does not"):
        Node.open(encrypted)


def test_a_short_passphrase_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="passphrase: must have at least 12 characters"):
        init_node(tmp_path / US, US, "US", passphrase="short")
    assert not (tmp_path / US / KEY_FILE).exists()


def test_the_key_is_rewritten_in_place_encrypted_then_in_clear_and_audited(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / US
    init_node(data, US, "United States European Command", settings=FAST_HASH)
    node = Node.open(data)
    console = as_role(node, Role.ADMIN, "console")
    try:
        with caplog.at_level(logging.INFO, logger="parley.audit"):
            node.protect_key(console, PASSPHRASE)
            assert key_is_encrypted(data)
            assert mode(data / KEY_FILE) == 0o600
            Node.open(data, passphrase=PASSPHRASE).close()
            node.protect_key(console, None)
        assert not pem_is_encrypted((data / KEY_FILE).read_bytes())
        assert mode(data / KEY_FILE) == 0o600
        assert [p.name for p in data.iterdir() if p.name.startswith(".")] == []  # no temp left
        lines = [json.loads(r.getMessage()) for r in caplog.records]
        assert [line["action"] for line in lines] == ["node.key_encrypted", "node.key_decrypted"]
        assert {line["fingerprint"] for line in lines} == {node.fingerprint}
    finally:
        node.close()
    Node.open(data).close()


def test_a_data_folder_open_to_others_is_tightened_when_the_node_opens(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / US
    init_node(data, US, "United States European Command", settings=FAST_HASH)
    Node.open(data).close()  # leaves parley.db beside its -wal, -shm, if any
    loose = {data: 0o755, data / "parley.toml": 0o644, data / KEY_FILE: 0o640}
    loose |= {data / n: 0o664 for n in ("parley.db", "parley.db-wal", "parley.db-shm")}
    (data / "parley.db-wal").touch()
    (data / "parley.db-shm").touch()
    for path, loose_mode in loose.items():
        path.chmod(loose_mode)

    with caplog.at_level(logging.WARNING, logger="parley.services._files"):
        node = Node.open(data)
    try:  # the store removes its -wal and -shm when it closes
        assert {path: mode(path) for path in loose} == {
            path: 0o700 if path == data else 0o600 for path in loose
        }
    finally:
        node.close()
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == len(loose)
    assert f"{data / KEY_FILE} was open to other users (mode 0640); now 0600" in warned
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="parley.services._files"):
        Node.open(data).close()
    assert caplog.records == []  # nothing more to tighten
