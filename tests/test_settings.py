from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from parley.errors import InvalidInput
from parley.protocol import Precedence
from parley.settings import Settings, describe_settings, settings_from, settings_toml

DOCS = Path(__file__).parent.parent / "docs" / "settings.md"


@pytest.mark.parametrize(("name", "kind", "default", "help_text"), describe_settings())
def test_every_setting_is_documented_with_its_default(
    name: str, kind: str, default: object, help_text: str
) -> None:
    rows = [
        line for line in DOCS.read_text("utf-8").splitlines() if line.startswith(f"| `{name}` |")
    ]
    assert len(rows) == 1, f"docs/settings.md has no row for {name}"
    shown = repr(default) if kind == "str" else str(default)
    assert f"| {kind} | `{shown}` |" in rows[0]
    assert help_text.strip()


def test_default_deadlines_follow_the_design() -> None:
    defaults = Settings()
    minutes = {p: defaults.ack_deadline(p).total_seconds() / 60 for p in Precedence}
    assert minutes == {
        Precedence.FLASH: 10,
        Precedence.IMMEDIATE: 60,
        Precedence.PRIORITY: 360,
        Precedence.ROUTINE: 1440,
    }


def test_unknown_setting_is_named() -> None:
    with pytest.raises(InvalidInput, match=r"settings\.deadline_flash"):
        Settings.from_mapping({"deadline_flash": 5})


def test_wrong_type_is_named() -> None:
    with pytest.raises(InvalidInput, match=r"settings\.token_ttl_s: must be of type int"):
        Settings.from_mapping({"token_ttl_s": "soon"})


def test_integer_is_accepted_for_a_float_setting() -> None:
    assert Settings.from_mapping({"escalation_interval_s": 2}).escalation_interval_s == 2.0


def test_a_bool_setting_takes_true_or_false_only() -> None:
    assert Settings.from_mapping({"allow_http_peers": True}).allow_http_peers is True
    for value in (1, "true"):
        with pytest.raises(InvalidInput, match=r"settings\.allow_http_peers: must be of type bool"):
            Settings.from_mapping({"allow_http_peers": value})


def test_the_environment_wins_over_the_file() -> None:
    file = {"token_ttl_s": 60, "login_window_s": 10}
    environ = {"PARLEY_TOKEN_TTL_S": "120", "PARLEY_ALLOW_HTTP_PEERS": "yes", "PARLEY_OTHER": "x"}
    settings = settings_from(file, environ)
    assert (settings.token_ttl_s, settings.login_window_s) == (120, 10.0)
    assert settings.allow_http_peers is True
    assert settings_from({}, {"PARLEY_ALLOW_HTTP_PEERS": "off"}).allow_http_peers is False


@pytest.mark.parametrize(
    ("variable", "text"),
    [
        ("PARLEY_TOKEN_TTL_S", "1.5"),
        ("PARLEY_LOGIN_WINDOW_S", "soon"),
        ("PARLEY_ALLOW_HTTP_PEERS", "2"),
    ],
)
def test_a_wrong_environment_value_names_its_variable(variable: str, text: str) -> None:
    with pytest.raises(InvalidInput, match=rf"{variable}: must be of type"):
        settings_from({}, {variable: text})


def test_the_settings_table_of_a_new_file_keeps_its_overrides_only() -> None:
    text = settings_toml({"deadline_flash_s": 300})
    assert tomllib.loads(text) == {"settings": {"deadline_flash_s": 300}}
    assert "# token_ttl_s = 43200" in text.splitlines()
