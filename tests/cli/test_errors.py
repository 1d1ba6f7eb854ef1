"""Every error of the ``parley`` command is one line on stderr with a documented exit status:
0 done, 1 failed, 2 refused (usage, input, a refusal), 3 no Parley node at --node."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from parley.cli import app
from parley.cli._cluster import free_port
from parley.services import Node, Role
from tests.cli.test_cli import PARLEY, init, runner
from tests.cli.test_send import send_args
from tests.conftest import PASSWORD, as_role, pin_all

TRACE = "Traceback"


def run(*args: str, stdin: str | None = None) -> tuple[int, str, list[str]]:
    """Exit status, stdout and the lines of stderr of an in-process run."""
    result = runner.invoke(app, list(args), input=stdin)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr.splitlines()


def program(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PARLEY), *args], input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


def secret(tmp_path: Path, password: str = PASSWORD) -> Path:
    path = tmp_path / "password"
    path.write_text(password + "\n", "utf-8")
    return path


def send_line_check(url: str, password_file: Path) -> list[str]:
    return send_args(url, "ch_0123456789abcdef0123", password_file, "--text", "Line check")


# -- a node that does not answer, or is not a node -------------------------------------------
def test_send_where_no_node_listens_says_so_in_one_line_and_exits_3(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    code, out, err = run(*send_line_check(url, secret(tmp_path)))
    assert (code, out) == (3, "")
    assert len(err) == 1, err
    assert err[0].startswith(f"Node unreachable: no answer from {url} (")
    assert err[0].endswith("is 'parley serve' running there?")


def test_send_as_a_program_where_no_node_listens_prints_no_traceback(tmp_path: Path) -> None:
    done = program(*send_line_check(f"http://127.0.0.1:{free_port()}", secret(tmp_path)))
    assert done.returncode == 3
    assert done.stderr.count("\n") == 1, done.stderr
    assert TRACE not in done.stderr


class _NotParley(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(404)
        self.send_header("content-type", "text/html")
        self.end_headers()
        self.wfile.write(b"<h1>Not here</h1>")

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def web_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotParley)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def test_a_url_that_is_no_parley_node_is_named_in_one_line_with_exit_3(
    web_server: str, tmp_path: Path
) -> None:
    code, _, err = run(*send_line_check(web_server, secret(tmp_path)))
    assert code == 3
    assert err == [
        f"Node unreachable: {web_server} is not a Parley node: GET /api/v1/health answered 404 "
        "with text/html"
    ]


def test_a_node_url_without_a_scheme_is_an_input_error(tmp_path: Path) -> None:
    code, _, err = run(*send_line_check("127.0.0.1:8701", secret(tmp_path)))
    assert code == 2
    assert err == ["Invalid input: --node: '127.0.0.1:8701' is not an http(s) URL of a node"]


def test_a_wrong_password_is_refused_by_the_node_in_one_line(served, tmp_path: Path) -> None:
    _node, url = served
    code, _, err = run(*send_line_check(url, secret(tmp_path, "not the password")))
    assert code == 2
    assert err == [
        "Authentication failed: wrong username or password, or the operator is disabled "
        "(the node answered 401)"
    ]


# -- files and data folders -------------------------------------------------------------------
def test_export_into_a_folder_that_does_not_exist_names_the_file(tmp_path: Path) -> None:
    data = tmp_path / "us-eucom"
    peer = tmp_path / "ru-genstaff"
    init(data)
    init(peer, "ru-genstaff", "Russian General Staff")
    us, ru = Node.open(data), Node.open(peer)
    try:

        async def opened() -> str:
            await pin_all(us, ru)
            view = await us.channels.create(
                as_role(us, Role.ADMIN), "hotline", {"ru-genstaff": "party"}
            )
            await us.transparency.publish_checkpoint()
            return view.event.channel

        channel = asyncio.run(opened())
    finally:
        us.close()
        ru.close()
    out = tmp_path / "no" / "such" / "dir" / "x.jsonl"

    code, stdout, err = run("export", "--data", str(data), "--channel", channel, "--out", str(out))

    assert (code, stdout) == (2, "")
    assert err == [f"File error: {out}: No such file or directory"]


def _no_key(data: Path) -> None:
    (data / "node.key").unlink()


def _key_is_a_folder(data: Path) -> None:
    (data / "node.key").unlink()
    (data / "node.key").mkdir()


def _config_not_toml(data: Path) -> None:
    (data / "parley.toml").write_text("[[[", "utf-8")


def _database_nowhere(data: Path) -> None:
    config = (data / "parley.toml").read_text("utf-8")
    address = "postgresql+psycopg://parley:secret@127.0.0.1:1/parley"
    (data / "parley.toml").write_text(
        config.replace("[settings]", f'[settings]\ndatabase_url = "{address}"'), "utf-8"
    )


def _unknown_setting(data: Path) -> None:
    config = (data / "parley.toml").read_text("utf-8")
    (data / "parley.toml").write_text(
        config.replace("[settings]", "[settings]\nspeed = 1"), "utf-8"
    )


@pytest.mark.parametrize(
    ("damage", "code", "says"),
    [
        (_no_key, 2, "File error: {data}/node.key: No such file or directory"),
        (_key_is_a_folder, 2, "File error: {data}/node.key: Is a directory"),
        (_config_not_toml, 2, "Invalid input: {data}/parley.toml is not valid TOML: "),
        (_unknown_setting, 2, "Invalid input: settings.speed: is not a setting"),
        (_database_nowhere, 1, "Store unavailable: cannot open the store: connection failed"),
    ],
    ids=["no-key", "key-is-a-folder", "config-not-toml", "unknown-setting", "database-nowhere"],
)
def test_a_damaged_data_folder_is_one_line_naming_what_is_wrong(
    tmp_path: Path, damage, code: int, says: str
) -> None:
    data = tmp_path / "node"
    init(data)
    damage(data)
    for command in (["operator", "list"], ["peer", "list"], ["node", "show"]):
        status, out, err = run(*command, "--data", str(data))
        assert (status, out) == (code, ""), err
        assert len(err) == 1, err
        assert err[0].startswith(says.format(data=data)), err
        assert "secret" not in err[0]  # a database password never shows


def test_a_folder_without_a_node_says_to_run_init(tmp_path: Path) -> None:
    code, _, err = run("node", "show", "--data", str(tmp_path / "nothing"))
    assert code == 2
    assert err == [
        f"Not found: {tmp_path}/nothing/parley.toml does not exist; run 'parley init' first"
    ]


def test_a_password_file_that_is_not_text_is_an_input_error(tmp_path: Path) -> None:
    data = tmp_path / "node"
    init(data)
    binary = tmp_path / "password"
    binary.write_bytes(b"\xff\xfe\x00\x81")
    operator = ["--data", str(data), "--username", "duty1", "--role", "operator"]
    code, _, err = run("operator", "add", *operator, "--password-file", str(binary))
    assert code == 2
    assert err == [f"Invalid input: --password-file: {binary} is not text"]


def test_a_sites_file_that_is_not_utf8_is_one_line_and_nothing_is_imported(
    tmp_path: Path,
) -> None:
    data = tmp_path / "node"
    init(data)
    sites = tmp_path / "sites.csv"
    sites.write_bytes(b"lon,lat,name,category\n33.1,44.2,\xff\xfe,power_plant\n")
    code, out, err = run("sites", "import", str(sites), "--data", str(data))
    assert (code, out) == (2, "")
    assert err == ["Invalid input: file: sites.csv is not UTF-8 text"]
    assert run("sites", "list", "--data", str(data))[1].endswith("0 sites\n")


# -- serve -------------------------------------------------------------------------------------
def test_serve_on_a_port_in_use_says_so_in_one_line_before_announcing_anything(
    tmp_path: Path,
) -> None:
    data = tmp_path / "node"
    init(data)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = program("serve", "--data", str(data), "--host", "127.0.0.1", "--port", str(port))
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines() == [
        f"Conflict: port {port} on 127.0.0.1 is in use by another program; stop it or choose "
        "another --port"
    ]


def test_serve_on_a_host_that_is_no_address_is_an_input_error(tmp_path: Path) -> None:
    data = tmp_path / "node"
    init(data)
    code, out, err = run("serve", "--data", str(data), "--host", "no-such-host.invalid")
    assert (code, out) == (2, "")
    assert len(err) == 1
    assert err[0].startswith("Invalid input: --host: 'no-such-host.invalid' is not an address")


def test_serve_of_a_sqlite_node_by_several_workers_is_refused_naming_the_option(
    tmp_path: Path,
) -> None:
    data = tmp_path / "node"
    init(data)
    code, out, err = run("serve", "--data", str(data), "--port", "0", "--workers", "2")
    assert (code, out) == (2, "")
    assert err == [
        "Invalid input: --workers: a node on SQLite is served by one process; set database_url "
        "to a PostgreSQL database to run several (docs/deploy.md)"
    ]


# -- usage errors --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "says"),
    [
        (
            ["verify", "bundle.jsonl", "--workers", "0"],
            "Usage error: Invalid value for '--workers': ",
        ),
        (["node", "show", "--data", "x", "--colour"], "Usage error: No such option: --colour"),
        (["send", "--node", "http://127.0.0.1:1"], "Usage error: Missing option '--username'"),
        (["channel", "bless"], "Usage error: No such command 'bless'"),
    ],
    ids=["out-of-range", "unknown-option", "missing-option", "unknown-command"],
)
def test_a_usage_error_is_one_line_pointing_at_the_help(args: list[str], says: str) -> None:
    code, out, err = run(*args)
    assert (code, out) == (2, "")
    assert len(err) == 1, err
    assert err[0].startswith(says)
    assert err[0].endswith("--help')")


def test_a_usage_error_of_the_program_is_one_line_too() -> None:
    done = program("verify", "bundle.jsonl", "--workers", "0")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "Usage error: Invalid value for '--workers': Input should be greater than or equal to 1 "
        "(see 'parley verify --help')"
    ]


def test_the_help_says_what_each_exit_status_means() -> None:
    code, out, _ = run("--help")
    assert code == 0
    text = " ".join(out.replace("│", " ").split())
    assert "Exit status: 0 done; 1 failed ('verify' found the bundle INVALID" in text
    assert (
        "2 refused (a usage error, bad input, or a refusal by the data folder or the node)" in text
    )
    assert "3 no Parley node answers at --node" in text
