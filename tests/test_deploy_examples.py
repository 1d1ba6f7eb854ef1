"""The deployment examples (deploy/) and docs/deploy.md, checked offline: the unit file
parses (and passes ``systemd-analyze verify`` where systemd is installed), and every
``parley`` command line they give names commands and options the CLI has and settings
``settings.py`` declares. An example that drifts from the program fails here, not on a host."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import typer

from parley.cli import app
from parley.settings import ENV_PREFIX, Settings

ROOT = Path(__file__).parents[1]
DOC = ROOT / "docs" / "deploy.md"
UNIT = ROOT / "deploy" / "parley.service"
CONTAINERFILE = ROOT / "deploy" / "Containerfile"
SETTINGS = {f.name for f in fields(Settings)}
SECTIONS = {"Unit", "Service", "Install"}


def cli() -> Any:
    """The ``parley`` command as click sees it (typer's own click: groups have ``commands``)."""
    return typer.main.get_command(app)


def is_group(command: Any) -> bool:
    return hasattr(command, "commands")


def env_vars(command: Any) -> set[str]:
    """Every environment variable an option of the CLI reads."""
    found = {env for p in command.params for env in _as_list(getattr(p, "envvar", None))}
    if is_group(command):
        for sub in command.commands.values():
            found |= env_vars(sub)
    return found


def _as_list(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """A systemd unit as systemd reads it: sections, ``Key=value`` lines, comments,
    backslash continuations; a key may repeat."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    lines = iter(text.splitlines())
    for raw in lines:
        line = raw.strip()
        while line.endswith("\\"):
            line = line[:-1] + " " + next(lines).strip()
        if not line or line.startswith(("#", ";")):
            continue
        if section := re.fullmatch(r"\[([A-Za-z]+)\]", line):
            assert section[1] not in sections, f"section [{section[1]}] twice"
            current = sections.setdefault(section[1], {})
            continue
        key, equals, value = line.partition("=")
        assert equals, f"not Key=value: {raw!r}"
        assert re.fullmatch(r"[A-Za-z]+", key.strip()), f"not a key: {raw!r}"
        assert current is not None, f"{key} outside any section"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def commands(block: str) -> list[list[str]]:
    """The ``parley`` invocations of a shell block: the words after the program, one list a
    command (lines joined at a backslash, commands split at ``&&``, ``;`` and ``|``)."""
    found = []
    for line in block.replace("\\\n", " ").splitlines():
        if line.lstrip().startswith("#"):
            continue
        words = shlex.split(line, comments=True)
        for start, word in enumerate(words):
            if (word == "parley" or word.endswith("/bin/parley")) and _is_command(words, start):
                rest = words[start + 1 :]
                ends = [i for i, w in enumerate(rest) if w in {"&&", ";", "|", "||"}]
                found.append(rest[: ends[0]] if ends else rest)
    return found


def _is_command(words: list[str], at: int) -> bool:
    """``parley`` runs here (rather than naming a user or an image) when a subcommand follows."""
    return at + 1 < len(words) and words[at + 1] in cli().commands


def check_command(words: list[str]) -> None:
    """The subcommands exist; every ``--option`` is one of the last one's."""
    command = cli()
    path = ["parley"]
    while is_group(command) and words and words[0] in command.commands:
        path.append(words[0])
        command = command.commands[words.pop(0)]
    assert not is_group(command), f"{' '.join(path)} needs a subcommand"
    options = {name: p for p in command.params for name in (*p.opts, *p.secondary_opts)}
    args = iter(words)
    for word in args:
        if not word.startswith("-"):
            continue
        name = word.split("=", 1)[0]
        assert name in options, f"{' '.join(path)} has no option {name}"
        param = options[name]
        if not getattr(param, "is_flag", True) and "=" not in word:
            value = next(args, None)
            assert value is not None, f"{' '.join(path)} {name} without its value"


def unit_commands() -> list[list[str]]:
    service = parse_unit(UNIT.read_text("utf-8"))["Service"]
    return [cmd for line in service["ExecStart"] for cmd in commands(line)]


def containerfile_commands() -> list[list[str]]:
    """ENTRYPOINT and CMD together, as the image runs them, and every RUN/CMD shell line."""
    text = CONTAINERFILE.read_text("utf-8").replace("\\\n", " ")
    exec_form = {
        m[1]: [str(w) for w in json.loads(m[2])]
        for m in re.finditer(r"^(ENTRYPOINT|CMD) (\[.*\])$", text, re.MULTILINE)
    }
    return [
        *commands(shlex.join([*exec_form["ENTRYPOINT"], *exec_form["CMD"]])),
        *(cmd for line in re.findall(r"^RUN (.*)$", text, re.MULTILINE) for cmd in commands(line)),
    ]


def doc_commands() -> list[list[str]]:
    """The commands of the guide's shell blocks (``sh``; the others are files and drawings)."""
    blocks = re.findall(r"```sh\n(.*?)```", DOC.read_text("utf-8"), re.DOTALL)
    return [cmd for block in blocks for cmd in commands(block)]


def test_the_unit_file_parses_and_has_the_hardening_the_guide_promises() -> None:
    unit = parse_unit(UNIT.read_text("utf-8"))
    assert set(unit) == SECTIONS
    service = {key: values[-1] for key, values in unit["Service"].items()}
    promised = {"User": "parley", "Restart": "always", "NoNewPrivileges": "true",
                "PrivateTmp": "true", "ProtectSystem": "strict"}  # fmt: skip
    assert {key: service.get(key) for key in promised} == promised
    # The parent stops its workers on SIGTERM; what is left after the timeout dies with it.
    assert service["KillMode"] in {"mixed", "control-group"}
    [serve] = unit_commands()
    data = serve[serve.index("--data") + 1]
    assert data in service["ReadWritePaths"].split()
    assert serve[serve.index("--workers") + 1] == "2"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd is not installed")
def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    # Its program must exist to be verified: the one of this environment stands in.
    here = str(Path(sys.executable).with_name("parley"))
    unit = tmp_path / "parley.service"
    unit.write_text(UNIT.read_text("utf-8").replace("/opt/parley/bin/parley", here), "utf-8")
    done = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "parley.service" not in done.stderr, done.stderr


def test_the_containerfile_runs_the_node_unprivileged_with_its_data_a_volume() -> None:
    text = CONTAINERFILE.read_text("utf-8")
    assert re.search(r"^FROM \S*python:3\.11-slim", text, re.MULTILINE)
    assert re.search(r"^USER parley$", text, re.MULTILINE)
    assert '\nVOLUME ["/var/lib/parley"]' in text
    assert re.search(r"^EXPOSE 8701$", text, re.MULTILINE)
    [health] = re.findall(r"^HEALTHCHECK .*?CMD (.*)$", text.replace("\\\n", " "), re.MULTILINE)
    assert "http://127.0.0.1:8701/api/v1/health/live" in health
    [serve] = [cmd for cmd in containerfile_commands() if cmd[:1] == ["serve"]]
    assert serve[serve.index("--data") + 1] == "/var/lib/parley"


def test_the_health_endpoint_the_examples_probe_is_served() -> None:
    from parley.api._metrics import router

    assert "/api/v1/health/live" in {getattr(route, "path", "") for route in router.routes}


@pytest.mark.parametrize(
    "source", ["docs/deploy.md", "deploy/parley.service", "deploy/Containerfile"]
)
def test_every_parley_command_names_options_the_cli_has(source: str) -> None:
    found = {
        "docs/deploy.md": doc_commands,
        "deploy/parley.service": unit_commands,
        "deploy/Containerfile": containerfile_commands,
    }[source]()
    assert found, f"no parley command found in {source}"
    for words in found:
        check_command(list(words))


def test_the_checker_refuses_what_the_cli_lacks() -> None:
    with pytest.raises(AssertionError, match="has no option --worker"):
        check_command(["serve", "--data", "/d", "--worker", "2"])
    with pytest.raises(AssertionError, match="needs a subcommand"):
        check_command(["peer"])
    assert commands("useradd --system parley && sudo -u parley parley serve --data /d") == [
        ["serve", "--data", "/d"]
    ]


def test_every_setting_and_variable_named_exists() -> None:
    doc = DOC.read_text("utf-8")
    named = set(re.findall(r"[Tt]he setting\s+`(\w+)`", doc))
    for block in re.findall(r"```toml\n(.*?)```", doc, re.DOTALL):
        named |= set(re.findall(r"^(\w+)\s*=", block, re.MULTILINE))
    assert {"database_url", "leader_poll_s"} <= named
    assert named <= SETTINGS, named - SETTINGS
    texts = [doc, UNIT.read_text("utf-8"), CONTAINERFILE.read_text("utf-8")]
    variables = {v for text in texts for v in re.findall(rf"\b{ENV_PREFIX}[A-Z_]+\b", text)}
    own = env_vars(cli()) | {"PARLEY_KEY_PASSPHRASE"}
    unknown = {v for v in variables - own if v.removeprefix(ENV_PREFIX).lower() not in SETTINGS}
    assert not unknown, unknown
