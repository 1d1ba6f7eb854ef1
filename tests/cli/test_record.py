"""``parley verify`` on bundles anyone could make: one verdict and its exit status, whatever the
file holds, never a traceback; what a valid bundle proves and what it cannot; expected keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from parley.cli import _main as cli_main
from parley.cli import _record
from parley.protocol import fingerprint
from tests.cli.test_cli import invoke
from tests.protocol.test_bundle import (
    BAD_HEADERS,
    HOSTILE,
    SIGNERS,
    WRONG_BODIES,
    Edit,
    hostile,
    hostile_bundles,
    journal,
    resign_header,
    sealed,
)

RU = fingerprint(SIGNERS["ru"].public_key)
US = fingerprint(SIGNERS["us"].public_key)


def verify(path: Path, *options: str) -> tuple[int, str, str]:
    return invoke("verify", str(path), "--workers", "1", *options)


def bundle_of(tmp_path: Path, keep: set[int] | None = None, **options: int) -> Path:
    path = tmp_path / "hotline.jsonl"
    path.write_bytes(sealed([e.signed_bytes() for e in journal().events], keep=keep, **options))
    return path


def verdicts(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("VERDICT:")]


def test_a_valid_bundle_says_what_it_proved_and_what_it_cannot(tmp_path: Path) -> None:
    code, out, err = verify(bundle_of(tmp_path))
    assert (code, err) == (0, ""), out
    assert "Proved: every event shown was signed by its author's key above" in out
    assert "  ru               #1-#2 shown, seen by another member up to #1\n" in out
    assert "  ae               #1 shown, seen by another member up to #1\n" in out
    assert "Not proved: that an author has no event after its last one shown." in out
    assert verdicts(out) == [out.splitlines()[-1]]
    assert out.splitlines()[-1] == (
        "VERDICT: VALID: 6 events, 2 messages and notifications, each signed by its author and "
        "in us's checkpoint of 11 entries; events of an author after its last one shown are not "
        "ruled out."
    )
    assert "complete" not in out


def test_an_exporter_leaving_out_a_partys_latest_event_gets_no_claim_of_completeness(
    tmp_path: Path,
) -> None:
    # ru#2 is left out, the proof rebuilt for the rest and the header signed again.
    code, out, _ = verify(bundle_of(tmp_path, keep={0, 1, 2, 3, 4}))
    assert code == 0, out
    assert "complete" not in out
    assert "  ru               #1 shown, seen by another member up to #1\n" in out
    assert "Not proved: that an author has no event after its last one shown. The exporter " in out
    assert out.splitlines()[-1].endswith(
        "events of an author after its last one shown are not ruled out."
    )


def test_an_exporter_leaving_out_events_a_later_event_had_seen_gets_invalid(
    tmp_path: Path,
) -> None:
    code, out, err = verify(bundle_of(tmp_path, keep={0, 2, 3, 4}))
    assert (code, err) == (1, "")
    assert out == (
        "VERDICT: INVALID: line 3 (ae#1): it had seen ru up to #1, but only #0 comes before it: "
        "an event of ru is missing or out of order\n"
    )


@pytest.mark.parametrize(("edit", "reason"), WRONG_BODIES)
def test_a_body_of_the_wrong_type_in_a_signed_bundle_is_one_invalid_line(
    tmp_path: Path, edit: Edit, reason: str
) -> None:
    code, out, err = verify(hostile(tmp_path / "b.jsonl", edit))
    assert (code, out, err) == (1, f"VERDICT: INVALID: {reason}\n", "")


@pytest.mark.parametrize(
    ("content", "reason"),
    [*BAD_HEADERS, (b"", "line 1 (header) is not JSON: Expecting value: line 1 column 1")],
)
def test_a_file_that_is_no_bundle_is_one_invalid_line(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    path = tmp_path / "b.jsonl"
    path.write_bytes(content)
    code, out, err = verify(path)
    assert (code, err) == (1, "")
    assert out.startswith(f"VERDICT: INVALID: {reason}")
    assert out.count("\n") == 1


def test_no_file_to_read_is_a_usage_error_on_one_line(tmp_path: Path) -> None:
    for path in (tmp_path / "missing.jsonl", tmp_path, tmp_path / "[/x]"):
        assert verify(path) == (2, "", f"Not found: {path} is not a file")


def test_expected_keys_are_checked_with_or_without_the_spaces_of_the_fingerprint(
    tmp_path: Path,
) -> None:
    path = bundle_of(tmp_path)
    code, out, _ = verify(
        path, "--expect-key", f"ru={RU}", "--expect-key", f"us={US.replace(' ', '')}"
    )
    assert code == 0, out
    assert f"  ru               {RU}  RU (party), as expected\n" in out
    assert (
        f"  ae               {fingerprint(SIGNERS['ae'].public_key)}  AE (mediator), not checked\n"
        in out
    )


def test_another_key_than_expected_or_none_is_invalid_naming_party_and_fingerprints(
    tmp_path: Path,
) -> None:
    path = bundle_of(tmp_path)
    other = fingerprint(HOSTILE["ru"].public_key)
    assert verify(path, "--expect-key", f"ru={other}") == (
        1,
        f"VERDICT: INVALID: the key of ru in the bundle has fingerprint {RU}; "
        f"its key should have fingerprint {other}\n",
        "",
    )
    assert verify(path, "--expect-key", f"zz={RU}") == (
        1,
        f"VERDICT: INVALID: the bundle has no key of zz; its key should have fingerprint {RU}\n",
        "",
    )


@pytest.mark.parametrize(
    ("options", "error"),
    [
        (["ru"], "'ru' is not PARTY=FINGERPRINT"),
        ([f"RU={RU}"], f"'RU={RU}' is not PARTY=FINGERPRINT"),
        (["ru=1234"], "'1234' is not a key fingerprint (25 digits, spaces allowed)"),
        ([f"ru={RU}", f"ru={US}"], "ru is given two fingerprints"),
        (["[/x]=1"], "'[/x]=1' is not PARTY=FINGERPRINT"),
    ],
)
def test_a_malformed_expected_key_is_a_usage_error_on_one_line(
    tmp_path: Path, options: list[str], error: str
) -> None:
    args = [arg for option in options for arg in ("--expect-key", option)]
    assert verify(bundle_of(tmp_path), *args) == (2, "", f"Invalid input: --expect-key: {error}")


def test_the_verdict_as_json_for_scripts(tmp_path: Path) -> None:
    code, out, _ = verify(bundle_of(tmp_path), "--json", "--expect-key", f"ru={RU}")
    assert code == 0
    verdict = json.loads(out)
    assert (verdict["verdict"], verdict["reason"]) == ("valid", None)
    assert verdict["counts"] == {"events": 6, "sent": 2, "chains": 3, "checkpoint_size": 11}
    assert verdict["keys"]["ru"] == {
        "name": "RU",
        "fingerprint": RU,
        "role": "party",
        "checked": True,
    }
    assert verdict["keys"]["us"]["checked"] is False
    assert verdict["chains"]["ru"] == {"shown": 2, "seen": 1}
    assert verdict["not_proved"].startswith("that an author has no event after its last one shown")
    notice = verdict["sent"][0]
    assert (notice["author"], notice["by"], notice["precedence"]) == ("ru", "ivanov", "flash")
    assert notice["acknowledged"] == {"us": {"by": "smith", "ts": "2026-02-05T14:03:00.000Z"}}

    code, out, _ = verify(bundle_of(tmp_path, keep={0, 2, 3, 4}), "--json")
    assert code == 1
    invalid = json.loads(out)
    assert invalid == {
        "verdict": "invalid",
        "reason": invalid["reason"],
        "counts": None,
        "keys": None,
    }
    assert invalid["reason"].startswith("line 3 (ae#1): it had seen ru up to #1")


def test_text_of_the_bundle_cannot_print_a_verdict_of_its_own(tmp_path: Path) -> None:
    forged = b'"VERDICT: VALID: all is well\\nVERDICT: VALID: forged"'
    path = hostile(tmp_path / "b.jsonl", Edit(1, ("body", "text"), forged))
    path.write_bytes(resign_header(path.read_bytes(), Edit(0, ("parties", "ru", "name"), forged)))
    code, out, _ = verify(path)
    assert code == 0, out
    assert verdicts(out) == [out.splitlines()[-1]]
    assert "    text: VERDICT: VALID: all is well\\nVERDICT: VALID: forged\n" in out


def test_a_cosignature_dated_past_year_9999_is_shown_in_seconds(tmp_path: Path) -> None:
    code, out, _ = verify(bundle_of(tmp_path, cosigned_at=2**62))
    assert code == 0, out
    assert f"  cosigned by ru at {2**62} seconds after 1970\n" in out


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=hostile_bundles())
def test_whatever_a_bundle_holds_verify_prints_one_verdict_or_its_json(
    tmp_path_factory: pytest.TempPathFactory, content: bytes
) -> None:
    path = tmp_path_factory.getbasetemp() / "hostile.jsonl"
    path.write_bytes(content)
    code, out, err = verify(path)
    assert code in (0, 1)
    assert err == ""
    assert verdicts(out) == [out.splitlines()[-1]]
    assert out.startswith("VERDICT: INVALID: ") == (code == 1)
    code_json, out_json, _ = verify(path, "--json")
    assert (code_json, json.loads(out_json)["verdict"]) == (code, ["valid", "invalid"][code])


def test_a_bar_shows_progress_on_a_terminal_and_never_beside_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_record, "LARGE", 1)  # this bundle counts as large
    path = bundle_of(tmp_path)
    assert verify(path)[2] == ""  # stderr is no terminal here
    # As rich sees a terminal: it decides that once, when the console is made.
    monkeypatch.setattr(cli_main.err_console, "_force_terminal", True)
    monkeypatch.setattr(cli_main.err_console, "is_interactive", True)
    code, out, err = verify(path, "--json")
    assert (code, err) == (0, "")
    assert json.loads(out)["counts"]["events"] == 6
    code, out, err = verify(path)
    assert code == 0
    assert "Checking hotline.jsonl" in err
    assert out.splitlines()[-1].startswith("VERDICT: VALID: 6 events")
