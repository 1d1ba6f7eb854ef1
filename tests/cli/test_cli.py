"""The ``parley`` command: init, operators, peers and the demo, in-process and as a real program."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from parley.cli import app
from parley.clock import SystemClock, to_ms
from parley.errors import AuthenticationFailed
from parley.protocol import Ed25519Signer, encode_public_key, fingerprint
from parley.services import Node
from parley.store import LinkRecord

PARLEY = Path(sys.executable).with_name("parley")
BY_CONSOLE = re.compile(r"^console \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
PASSWORD = "correct horse battery staple"

# Wide enough that rich never wraps a line (a path, a fingerprint) in the middle.
runner = CliRunner(env={"COLUMNS": "250"})


def invoke(*args: str, input: str | None = None) -> tuple[int, str, str]:
    """Exit code, stdout and stderr (its whitespace collapsed) of an in-process run."""
    result = runner.invoke(app, list(args), input=input)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, " ".join(result.stderr.split())


def init(data: Path, party: str = "us-eucom", name: str = "US European Command") -> str:
    code, out, err = invoke("init", "--party", party, "--name", name, "--data", str(data))
    assert code == 0, err
    return out


def public_key_of(data: Path) -> str:
    node = Node.open(data)
    try:
        return node.public_key
    finally:
        node.close()


def login(data: Path, username: str, password: str) -> str:
    node = Node.open(data)
    try:
        return asyncio.run(node.operators.login(username, password)).token
    finally:
        node.close()


def authenticate(data: Path, token: str) -> str:
    node = Node.open(data)
    try:
        return node.operators.authenticate(token).username
    finally:
        node.close()


def add_operator(data: Path, username: str, role: str = "operator", password: str = PASSWORD):
    return invoke(
        "operator",
        "add",
        "--data",
        str(data),
        "--username",
        username,
        "--role",
        role,
        input=password + "\n",
    )


def table_rows(out: str) -> list[list[str]]:
    """The body rows of a rich table, each a list of stripped cells."""
    return [
        [cell.strip() for cell in line.split("│")[1:-1]]
        for line in out.splitlines()
        if line.startswith("│")
    ]


@pytest.fixture
def node_dir(tmp_path: Path) -> Path:
    data = tmp_path / "us-eucom"
    init(data)
    return data


# -- init ------------------------------------------------------------------------------------
def test_init_creates_private_key_config_and_database_and_prints_key_and_fingerprint(
    tmp_path: Path,
) -> None:
    data = tmp_path / "node"
    out = init(data)

    assert (data / "node.key").stat().st_mode & 0o777 == 0o600
    assert "us-eucom" in (data / "parley.toml").read_text("utf-8")
    assert (data / "parley.db").stat().st_size > 0
    node = Node.open(data)  # the database holds this node's party and key
    try:
        assert node.party == "us-eucom"
        assert f"Public key:  {node.public_key}" in out
        assert f"Fingerprint: {node.fingerprint}" in out
    finally:
        node.close()


def test_init_as_a_program_keeps_the_key_private_even_with_a_permissive_umask(
    tmp_path: Path,
) -> None:
    data = tmp_path / "node"
    done = subprocess.run(
        [
            str(PARLEY),
            "init",
            "--party",
            "ru-genstaff",
            "--name",
            "Russian General Staff",
            "--data",
            str(data),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        umask=0,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (data / "node.key").stat().st_mode & 0o777 == 0o600
    assert public_key_of(data) in done.stdout


def test_init_as_a_program_keeps_the_folder_config_and_database_private(tmp_path: Path) -> None:
    data = tmp_path / "node"
    done = subprocess.run(
        [str(PARLEY), "init", "--party", "us-eucom", "--name", "US EUCOM", "--data", str(data)],
        capture_output=True,
        text=True,
        timeout=60,
        umask=0,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    modes = {path.name: path.stat().st_mode & 0o777 for path in (data, *data.iterdir())}
    assert modes == {"node": 0o700, "node.key": 0o600, "parley.toml": 0o600, "parley.db": 0o600}


def test_serve_writes_where_it_listens_readable_by_the_node_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    data = tmp_path / "node"
    init(data)

    def served_and_stopped(_server: uvicorn.Server, sockets: list[socket.socket]) -> None:
        for listener in sockets:
            listener.close()

    monkeypatch.setattr(uvicorn.Server, "run", served_and_stopped)
    old = os.umask(0)
    try:
        code, _, err = invoke("serve", "--data", str(data), "--port", "0")
    finally:
        os.umask(old)
    assert code == 0, err
    served = data / "served.json"
    assert served.stat().st_mode & 0o777 == 0o600
    assert json.loads(served.read_text("utf-8"))["url"].startswith("http://127.0.0.1:")


def test_init_twice_fails_with_exit_2_and_does_not_overwrite_the_key(node_dir: Path) -> None:
    key = (node_dir / "node.key").read_bytes()
    config = (node_dir / "parley.toml").read_text("utf-8")

    code, out, err = invoke(
        "init", "--party", "ru-genstaff", "--name", "Other", "--data", str(node_dir)
    )

    assert code == 2
    assert "already holds a node" in err
    assert "refusing to overwrite its key" in err
    assert "Traceback" not in out + err
    assert (node_dir / "node.key").read_bytes() == key
    assert (node_dir / "parley.toml").read_text("utf-8") == config
    Node.open(node_dir).close()  # key and database still match


def test_init_with_an_invalid_party_id_fails_with_exit_2_naming_the_party(tmp_path: Path) -> None:
    code, _, err = invoke("init", "--party", "US EUCOM", "--name", "x", "--data", str(tmp_path))
    assert code == 2
    assert "party" in err
    assert not (tmp_path / "node.key").exists()


def test_init_with_a_party_id_holding_a_space_prints_one_invalid_input_line(
    tmp_path: Path,
) -> None:
    result = runner.invoke(
        app, ["init", "--party", "Bad Party", "--name", "x", "--data", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "Invalid input: party: a party id is 2-63 lower-case letters, digits or '-'"
    ]
    assert not (tmp_path / "node.key").exists()


# -- operator add ------------------------------------------------------------------------------
def test_operator_add_reads_the_password_from_the_first_line_of_a_password_file(
    node_dir: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text(PASSWORD + "\nsecond line is ignored\n", "utf-8")

    code, out, err = invoke(
        "operator",
        "add",
        "--data",
        str(node_dir),
        "--username",
        "duty1",
        "--role",
        "operator",
        "--password-file",
        str(secret),
    )

    assert code == 0, err
    assert "duty1" in out
    assert "operator" in out
    assert login(node_dir, "duty1", PASSWORD)


def test_operator_add_reads_the_password_from_stdin(node_dir: Path) -> None:
    code, _, err = add_operator(node_dir, "watch1", role="supervisor")
    assert code == 0, err
    assert login(node_dir, "watch1", PASSWORD)
    with pytest.raises(AuthenticationFailed):
        login(node_dir, "watch1", PASSWORD + "x")


def test_operator_add_as_a_program_reads_the_password_from_piped_stdin(node_dir: Path) -> None:
    done = subprocess.run(
        [
            str(PARLEY),
            "operator",
            "add",
            "--data",
            str(node_dir),
            "--username",
            "duty1",
            "--role",
            "operator",
        ],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert login(node_dir, "duty1", PASSWORD)


def test_operator_add_has_no_password_option_so_a_password_never_appears_in_argv(
    node_dir: Path,
) -> None:
    group: Any = typer.main.get_command(app)
    options = {
        name for param in group.commands["operator"].commands["add"].params for name in param.opts
    }
    assert "--password-file" in options
    assert not {"--password", "-p"} & options

    code, _, err = invoke(
        "operator",
        "add",
        "--data",
        str(node_dir),
        "--username",
        "duty1",
        "--role",
        "operator",
        "--password",
        PASSWORD,
    )

    assert code == 2
    assert "No such option" in err
    node = Node.open(node_dir)
    try:
        assert node.store.get_operator("duty1") is None
    finally:
        node.close()


@pytest.mark.parametrize(
    ("username", "role", "password", "message"),
    [
        ("duty1", "operator", "short", "password: must have at least 12 characters"),
        ("duty1", "pilot", PASSWORD, "role: must be one of operator, supervisor, admin, auditor"),
        ("duty1", "operator", "", "password: must have at least 12 characters"),
    ],
    ids=["too-short-password", "unknown-role", "empty-password"],
)
def test_operator_add_with_invalid_input_fails_with_exit_2_naming_the_field(
    node_dir: Path, username: str, role: str, password: str, message: str
) -> None:
    code, _, err = add_operator(node_dir, username, role=role, password=password)
    assert code == 2
    assert message in err
    node = Node.open(node_dir)
    try:
        assert node.store.get_operator(username) is None
    finally:
        node.close()


def test_operator_add_of_an_existing_username_fails_with_exit_2_and_keeps_the_first(
    node_dir: Path,
) -> None:
    assert add_operator(node_dir, "duty1")[0] == 0

    code, _, err = add_operator(node_dir, "duty1", role="admin", password="another password 2")

    assert code == 2
    assert "operator duty1 already exists" in err
    assert login(node_dir, "duty1", PASSWORD)


def test_operator_add_with_a_missing_password_file_fails_with_exit_2_naming_the_file(
    node_dir: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-secret.txt"
    code, out, err = invoke(
        "operator",
        "add",
        "--data",
        str(node_dir),
        "--username",
        "duty1",
        "--role",
        "operator",
        "--password-file",
        str(missing),
    )
    assert code == 2
    assert f"'--password-file': file '{missing}' does not exist" in err
    assert "Traceback" not in out + err


def test_operator_add_on_a_folder_without_a_node_fails_with_exit_2(tmp_path: Path) -> None:
    code, _, err = add_operator(tmp_path / "empty", "duty1")
    assert code == 2
    assert "parley init" in err


# -- operator list / disable -------------------------------------------------------------------
def test_operator_list_shows_each_operator_with_role_and_disabled_flag(node_dir: Path) -> None:
    add_operator(node_dir, "duty1")
    add_operator(node_dir, "admin", role="admin")
    invoke("operator", "disable", "--data", str(node_dir), "--username", "duty1")

    code, out, _ = invoke("operator", "list", "--data", str(node_dir))

    assert code == 0
    rows = {cells[0]: cells[1:] for cells in table_rows(out)}
    role, disabled, pending, person, created, approved, changed = rows["duty1"]
    assert (role, disabled, pending, person, approved) == ("operator", "yes", "", "duty1", "")
    assert BY_CONSOLE.match(created)
    assert BY_CONSOLE.match(changed)
    role, disabled, pending, person, created, approved, changed = rows["admin"]
    assert (role, disabled, pending, person, approved, changed) == (
        "admin",
        "",
        "",
        "admin",
        "",
        "",
    )
    assert BY_CONSOLE.match(created)


def test_operator_add_takes_the_person_behind_the_account_one_account_each(
    node_dir: Path,
) -> None:
    added = ("operator", "add", "--data", str(node_dir), "--person", "SN 1234", "--username")
    code, out, err = invoke(*added, "watch1", "--role", "supervisor", input=PASSWORD + "\n")
    assert code == 0, err
    assert out == "Operator watch1 added with role supervisor, person SN 1234\n"
    assert '"action": "operator.create", "operator": "console"' in err

    code, _, err = invoke(*added, "duty9", "--role", "operator", input=PASSWORD + "\n")
    assert code == 2
    assert err == "Conflict: person SN 1234 already has an account"


def test_console_is_no_operator_name(node_dir: Path) -> None:
    code, _, err = add_operator(node_dir, "console", role="admin")
    assert code == 2
    assert err == "Invalid input: username: console is the node's console"


def test_operator_disable_revokes_tokens_and_refuses_new_logins(node_dir: Path) -> None:
    add_operator(node_dir, "duty1")
    add_operator(node_dir, "duty2")
    token = login(node_dir, "duty1", PASSWORD)
    other = login(node_dir, "duty2", PASSWORD)
    assert authenticate(node_dir, token) == "duty1"

    code, out, err = invoke("operator", "disable", "--data", str(node_dir), "--username", "duty1")

    assert code == 0, err
    assert "revoked" in out
    with pytest.raises(AuthenticationFailed):
        authenticate(node_dir, token)
    with pytest.raises(AuthenticationFailed):
        login(node_dir, "duty1", PASSWORD)
    assert authenticate(node_dir, other) == "duty2"  # only that operator's tokens


def test_operator_disable_of_an_unknown_operator_fails_with_exit_2(node_dir: Path) -> None:
    code, _, err = invoke("operator", "disable", "--data", str(node_dir), "--username", "ghost")
    assert code == 2
    assert "no operator named ghost" in err


def test_operator_disable_of_the_last_active_admin_is_refused(node_dir: Path) -> None:
    add_operator(node_dir, "admin", role="admin")

    code, _, err = invoke("operator", "disable", "--data", str(node_dir), "--username", "admin")

    assert code == 2
    assert err == (
        "Conflict: admin is the last active admin of this node: approve or add another admin "
        "before disabling it"
    )


# -- peers -------------------------------------------------------------------------------------
@pytest.fixture
def peer_dir(tmp_path: Path) -> Path:
    data = tmp_path / "ru-genstaff"
    init(data, "ru-genstaff", "Russian General Staff")
    return data


def test_peer_add_pins_the_key_and_prints_its_fingerprint(node_dir: Path, peer_dir: Path) -> None:
    key = public_key_of(peer_dir)
    code, out, err = invoke(
        "peer",
        "add",
        "--data",
        str(node_dir),
        "--party",
        "ru-genstaff",
        "--key",
        key,
        "--name",
        "Russian General Staff",
    )

    assert code == 0, err
    assert fingerprint(base64.b64decode(key)) in out
    node = Node.open(node_dir)
    try:
        record = node.store.get_party("ru-genstaff")
        assert record is not None
        assert record.public_key == key
        assert record.name == "Russian General Staff"
        assert not record.is_self
    finally:
        node.close()


def test_peer_list_shows_every_party_with_its_fingerprint(node_dir: Path, peer_dir: Path) -> None:
    key = public_key_of(peer_dir)
    invoke(
        "peer",
        "add",
        "--data",
        str(node_dir),
        "--party",
        "ru-genstaff",
        "--key",
        key,
        "--url",
        "http://127.0.0.1:8702",
        "--url",
        "http://127.0.0.1:8703/",
    )

    code, out, _ = invoke("peer", "list", "--data", str(node_dir))

    assert code == 0
    rows = {cells[0]: cells[1:] for cells in table_rows(out)}
    own = fingerprint(base64.b64decode(public_key_of(node_dir)))
    assert rows["ru-genstaff"] == [
        "ru-genstaff",
        fingerprint(base64.b64decode(key)),
        "unknown",
        "unknown",
        "",
        "",
        "http://127.0.0.1:8702 http://127.0.0.1:8703",
    ]
    assert rows["us-eucom"] == ["US European Command", own, "self", "", "", "", ""]


def test_peer_list_shows_the_direct_path_apart_from_the_party_reachable_through_a_mediator(
    node_dir: Path, peer_dir: Path, tmp_path: Path
) -> None:
    mediator_dir = tmp_path / "ae-mediator"
    init(mediator_dir, "ae-mediator", "United Arab Emirates")
    for party, data in (("ru-genstaff", peer_dir), ("ae-mediator", mediator_dir)):
        invoke(
            "peer", "add", "--data", str(node_dir), "--party", party, "--key", public_key_of(data)
        )
    now_ms = to_ms(SystemClock().now())
    cut = LinkRecord(
        "ru-genstaff", "down", None, None, now_ms, 3, "ConnectError", now_ms, "ae-mediator"
    )
    mediator = LinkRecord("ae-mediator", "up", 12, now_ms, now_ms, 0, "", now_ms, "ae-mediator")
    node = Node.open(node_dir)
    try:
        for link in (cut, mediator):
            node.store.write_sync(lambda tx, link=link: tx.save_link(link))
    finally:
        node.close()

    code, out, _ = invoke("peer", "list", "--data", str(node_dir))

    assert code == 0
    rows = {cells[0]: cells[3:7] for cells in table_rows(out)}
    assert rows["ru-genstaff"] == ["degraded", "down", "", "via ae-mediator"]
    assert rows["ae-mediator"] == ["up", "up", "12 ms", "yes"]


def test_peer_add_refuses_a_url_that_is_not_http(node_dir: Path, peer_dir: Path) -> None:
    code, _, err = invoke(
        "peer",
        "add",
        "--data",
        str(node_dir),
        "--party",
        "ru-genstaff",
        "--key",
        public_key_of(peer_dir),
        "--url",
        "ftp://127.0.0.1/",
    )
    assert code == 2
    assert "urls[0]" in err


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("not base64!", "key: public key is not valid base64"),
        (base64.b64encode(b"\x01" * 31).decode(), "an Ed25519 public key has 32 bytes, not 31"),
        (base64.b64encode(b"\x01" * 33).decode(), "an Ed25519 public key has 32 bytes, not 33"),
        ("", "an Ed25519 public key has 32 bytes, not 0"),
    ],
    ids=["not-base64", "31-bytes", "33-bytes", "empty"],
)
def test_peer_add_rejects_a_malformed_key_with_exit_2_and_pins_nothing(
    node_dir: Path, key: str, message: str
) -> None:
    code, out, err = invoke(
        "peer", "add", "--data", str(node_dir), "--party", "ru-genstaff", "--key", key
    )
    assert code == 2
    assert message in err
    assert "Traceback" not in out + err
    node = Node.open(node_dir)
    try:
        assert node.store.get_party("ru-genstaff") is None
    finally:
        node.close()


def test_peer_add_refuses_to_re_pin_a_known_party_and_keeps_the_first_key(
    node_dir: Path, peer_dir: Path
) -> None:
    key = public_key_of(peer_dir)
    invoke("peer", "add", "--data", str(node_dir), "--party", "ru-genstaff", "--key", key)
    impostor = encode_public_key(Ed25519Signer.generate().public_key)

    code, _, err = invoke(
        "peer", "add", "--data", str(node_dir), "--party", "ru-genstaff", "--key", impostor
    )

    assert code == 2
    assert "party ru-genstaff is already known; its key stays pinned" in err
    node = Node.open(node_dir)
    try:
        record = node.store.get_party("ru-genstaff")
        assert record is not None
        assert record.public_key == key
    finally:
        node.close()


def test_peer_add_refuses_to_re_pin_the_node_s_own_party(node_dir: Path) -> None:
    impostor = encode_public_key(Ed25519Signer.generate().public_key)
    code, _, err = invoke(
        "peer", "add", "--data", str(node_dir), "--party", "us-eucom", "--key", impostor
    )
    assert code == 2
    assert "already known" in err
    Node.open(node_dir).close()  # the node's own key is untouched
