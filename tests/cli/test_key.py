"""``parley init --encrypt-key`` and ``parley node encrypt-key`` / ``decrypt-key``: node.key under
a passphrase, each failure one line with exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from parley.cli import app
from parley.protocol import pem_is_encrypted
from parley.services import PASSPHRASE_ENV
from tests.cli.test_cli import invoke, runner

OLD = "first passphrase of the key"
NEW = "second passphrase of the key"
NEW_ENV = "PARLEY_NEW_KEY_PASSPHRASE"


@pytest.fixture(autouse=True)
def _no_passphrase_around(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (PASSPHRASE_ENV, NEW_ENV):
        monkeypatch.delenv(name, raising=False)


def init(data: Path, *extra: str) -> tuple[int, str, str]:
    return invoke("init", "--party", "us-eucom", "--name", "US", "--data", str(data), *extra)


def encrypted(data: Path) -> bool:
    return pem_is_encrypted((data / "node.key").read_bytes())


def test_init_encrypts_the_key_with_the_passphrase_of_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "node"
    monkeypatch.setenv(PASSPHRASE_ENV, OLD)

    code, out, err = init(data, "--encrypt-key")

    assert code == 0, err
    assert (
        out.splitlines()[-1]
        == "node.key is encrypted: the node opens it with PARLEY_KEY_PASSPHRASE"
    )
    assert encrypted(data)
    assert invoke("node", "show", "--data", str(data))[0] == 0


def test_init_with_no_passphrase_and_no_terminal_writes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "node"
    code, _, err = init(data, "--encrypt-key")
    assert code == 2
    assert err == "Invalid input: passphrase: no terminal to ask it at: set PARLEY_KEY_PASSPHRASE"
    assert not data.exists()


@pytest.mark.parametrize(
    ("passphrase", "says"),
    [
        (
            None,
            "Invalid input: node.key: {key} is encrypted: set PARLEY_KEY_PASSPHRASE or the "
            "setting key_passphrase_file",
        ),
        (
            "not the right one",
            "Invalid input: PARLEY_KEY_PASSPHRASE: does not open {key}: a "
            "wrong passphrase, or a damaged file",
        ),
    ],
    ids=["missing", "wrong"],
)
def test_opening_without_the_right_passphrase_is_one_line_with_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, passphrase: str | None, says: str
) -> None:
    data = tmp_path / "node"
    monkeypatch.setenv(PASSPHRASE_ENV, OLD)
    assert init(data, "--encrypt-key")[0] == 0
    if passphrase is None:
        monkeypatch.delenv(PASSPHRASE_ENV)
    else:
        monkeypatch.setenv(PASSPHRASE_ENV, passphrase)

    code, out, err = invoke("node", "show", "--data", str(data))

    assert (code, out) == (2, "")
    assert err == says.format(key=data / "node.key")


def test_a_key_is_encrypted_its_passphrase_changed_and_decrypted_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "node"
    assert init(data)[0] == 0
    monkeypatch.setenv(PASSPHRASE_ENV, OLD)

    result = runner.invoke(app, ["node", "encrypt-key", "--data", str(data)])
    assert result.exit_code == 0, result.stderr
    assert encrypted(data)
    assert (data / "node.key").stat().st_mode & 0o777 == 0o600
    (line,) = result.stderr.splitlines()
    assert json.loads(line.split(" parley.audit ", 1)[1])["action"] == "node.key_encrypted"

    code, _, err = invoke("node", "encrypt-key", "--data", str(data))  # a new one is needed
    assert (code, err) == (2, f"Invalid input: passphrase: no terminal to ask it at: set {NEW_ENV}")
    monkeypatch.setenv(NEW_ENV, NEW)
    assert invoke("node", "encrypt-key", "--data", str(data))[0] == 0
    assert invoke("node", "show", "--data", str(data))[0] == 2  # OLD no longer opens it
    monkeypatch.setenv(PASSPHRASE_ENV, NEW)
    assert invoke("node", "show", "--data", str(data))[0] == 0

    code, out, err = invoke("node", "decrypt-key", "--data", str(data))
    assert code == 0, err
    assert out == f"{data / 'node.key'} is in clear: whoever reads it can sign as us-eucom\n"
    assert not encrypted(data)
    monkeypatch.delenv(PASSPHRASE_ENV)
    assert invoke("node", "show", "--data", str(data))[0] == 0
    code, _, err = invoke("node", "decrypt-key", "--data", str(data))
    assert (code, err) == (2, f"Conflict: {data / 'node.key'} is not encrypted")


def test_a_short_passphrase_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "node"
    assert init(data)[0] == 0
    monkeypatch.setenv(PASSPHRASE_ENV, "short")
    code, _, err = invoke("node", "encrypt-key", "--data", str(data))
    assert (code, err) == (2, "Invalid input: passphrase: must have at least 12 characters")
    assert not encrypted(data)


def test_a_rotated_key_stays_under_the_passphrase_of_the_key_it_replaces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "node"
    monkeypatch.setenv(PASSPHRASE_ENV, OLD)
    assert init(data, "--encrypt-key")[0] == 0

    code, _, err = invoke("node", "rotate-key", "--data", str(data))

    assert code == 0, err
    assert encrypted(data)
    assert invoke("node", "show", "--data", str(data))[0] == 0
    old_files = list(data.glob("node.key.*.old"))
    assert len(old_files) == 1
    assert pem_is_encrypted(old_files[0].read_bytes())
