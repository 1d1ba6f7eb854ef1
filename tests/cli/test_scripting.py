"""What a script driving ``parley`` relies on: --version, PARLEY_DATA and the other PARLEY_*
variables, the settings file init writes, ``db current|upgrade`` and --json listings."""

from __future__ import annotations

import json
import re
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
from typer.testing import CliRunner

from parley.cli import app
from parley.services import CONFIG_FILE
from parley.settings import Settings
from tests.cli.test_cli import PASSWORD, add_operator, node_dir  # noqa: F401

runner = CliRunner(env={"COLUMNS": "250"})


def run(*args: str, **env: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_version_prints_the_installed_version() -> None:
    code, out, _ = run("--version")
    assert code == 0
    assert out == f"parley {version('parley')}\n"


def test_parley_data_stands_for_data(node_dir: Path) -> None:  # noqa: F811
    code, out, err = run("node", "show", "--json", PARLEY_DATA=str(node_dir))
    assert code == 0, err
    assert json.loads(out)["party"] == "us-eucom"


def test_data_given_wins_over_parley_data(node_dir: Path, tmp_path: Path) -> None:  # noqa: F811
    elsewhere = tmp_path / "nothing"
    code, out, err = run(
        "node", "show", "--json", "--data", str(node_dir), PARLEY_DATA=str(elsewhere)
    )
    assert code == 0, err
    assert json.loads(out)["party"] == "us-eucom"


def test_init_writes_every_setting_commented_at_its_default(node_dir: Path) -> None:  # noqa: F811
    text = (node_dir / CONFIG_FILE).read_text("utf-8")
    parsed = tomllib.loads(text)
    assert parsed["settings"] == {}
    assert parsed["node"] == {"party": "us-eucom", "name": "US European Command"}
    uncommented = re.sub(r"^# (\w+ = )", r"\1", text, flags=re.MULTILINE)
    assert Settings.from_mapping(tomllib.loads(uncommented)["settings"]) == Settings()
    assert len(tomllib.loads(uncommented)["settings"]) == len(Settings.__dataclass_fields__)


def test_a_setting_from_the_environment_applies(node_dir: Path) -> None:  # noqa: F811
    # An unreachable store named in the environment is what the node then tries to open.
    url = f"sqlite:///{node_dir / 'missing' / 'other.db'}"
    code, _, err = run("db", "current", "--data", str(node_dir), PARLEY_DATABASE_URL=url)
    assert code == 1
    assert err.startswith("Store unavailable: cannot open the store")


def test_a_malformed_setting_in_the_environment_names_its_variable(
    node_dir: Path,  # noqa: F811
) -> None:
    code, _, err = run("peer", "list", "--data", str(node_dir), PARLEY_TOKEN_TTL_S="soon")
    assert code == 2
    assert err == "Invalid input: PARLEY_TOKEN_TTL_S: must be of type int\n"


def test_db_current_and_upgrade_on_an_empty_database(node_dir: Path) -> None:  # noqa: F811
    env = {"PARLEY_DATABASE_URL": f"sqlite:///{node_dir / 'fresh.db'}"}
    code, out, err = run("db", "current", "--data", str(node_dir), "--json", **env)
    assert code == 0, err
    before = json.loads(out)
    assert before["current"] is None
    assert before["up_to_date"] is False

    code, out, err = run("db", "upgrade", "--data", str(node_dir), **env)
    assert code == 0, err
    assert out == f"Schema upgraded from empty to {before['head']}\n"

    code, out, _ = run("db", "current", "--data", str(node_dir), "--json", **env)
    assert json.loads(out) == {
        "current": before["head"],
        "head": before["head"],
        "up_to_date": True,
    }
    code, out, _ = run("db", "upgrade", "--data", str(node_dir), "--json", **env)
    assert json.loads(out) == {"before": before["head"], "after": before["head"]}


def test_a_postgresql_store_without_its_driver_says_what_to_install(
    node_dir: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)
    url = "postgresql+psycopg://parley@127.0.0.1:9/parley"
    code, _, err = run("db", "current", "--data", str(node_dir), PARLEY_DATABASE_URL=url)
    assert code == 1
    assert err.count("\n") == 1
    assert "pip install 'parley[postgres]'" in err


def test_listings_print_json(node_dir: Path) -> None:  # noqa: F811
    add_operator(node_dir, "duty1")
    code, out, err = run("operator", "list", "--json", "--data", str(node_dir))
    assert code == 0, err
    [duty] = json.loads(out)
    assert duty["username"] == "duty1"
    assert (duty["role"], duty["disabled"], duty["pending"]) == ("operator", False, False)
    assert duty["created_by"] == "console"
    assert duty["created_at"].endswith("Z")
    assert duty["approved_at"] is None

    code, out, err = run("peer", "list", "--json", "--data", str(node_dir))
    assert code == 0, err
    [me] = json.loads(out)
    assert (me["party"], me["link"], me["urls"]) == ("us-eucom", "self", [])

    code, out, err = run("sites", "list", "--json", "--data", str(node_dir))
    assert code == 0, err
    assert json.loads(out) == []


def test_the_node_and_the_operator_come_from_the_environment(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text(PASSWORD + "\n", "utf-8")
    env = {
        "PARLEY_NODE": "http://127.0.0.1:1",
        "PARLEY_USERNAME": "duty1",
        "PARLEY_PASSWORD_FILE": str(secret),
    }
    code, _, err = run("channel", "list", **env)
    assert code == 3, err  # not 2: no option is missing, the node does not answer
    assert "127.0.0.1:1" in err
