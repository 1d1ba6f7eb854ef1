"""``parley demo``: three node processes play the scenario, and the story they print holds."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import httpx

from parley.cli._cluster import free_port
from tests.cli.test_cli import PARLEY, table_rows
from tests.web.conftest import csrf_of

DEMO_LINE = re.compile(r"^\s*(operator|supervisor|admin|auditor)\s+(\S+)\s+password (\S+)\s*$")
CLOCK = r"\d\d:\d\d:\d\d\.\d{3}"
# Lines every telling of the scenario has, whether headless or serving.
STORY = [
    rf"^{CLOCK}  us-eucom \(duty1\) sent a PRIORITY message on hotline in English: “5 February",
    rf"^\s+delivered to ru-genstaff at {CLOCK} \([\d.]+ s after sending\)$",
    rf"^\s+acknowledged by ru-genstaff \(duty1\) at {CLOCK} \([\d.]+ s after sending, in time\)$",
    rf"^{CLOCK}  ru-genstaff \(duty1\) sent an IMMEDIATE notification on hotline: "
    r"Notice of military activity \(military_activity/1\)",
    r"^\s+us-eucom reads it in Arabic:$",
    r"^\s+\u2067إخطار بنشاط عسكري\u2069$",
    r"^\s+us-eucom reads it in Russian:$",
    r"^\s+Уведомление о военной деятельности$",
    rf"^{CLOCK}  Deconfliction alert \(high\) raised by (us-eucom|ru-genstaff): "
    "the activity of ru-genstaff meets the presence of us-eucom$",
    r"^\s+activity: ru-genstaff's Notice of military activity$",
    r"^\s+presence: us-eucom's Declaration of presence$",
    r"^\s+overlap [\d,]+ km² from \d{4}-\d\d-\d\d \d\d:\d\d to \d{4}-\d\d-\d\d \d\d:\d\d UTC$",
    rf"^{CLOCK}  ae-mediator \(duty1\) sent a ROUTINE message on abu-dhabi in Arabic: .*157",
    rf"^{CLOCK}  ru-genstaff \(duty1\) sent a FLASH message on hotline in Russian: "
    "“Проверка линии связи.*; to be acknowledged within 10 min$",
    rf"^{CLOCK}  us-eucom's log checkpoint of \d+ entries cosigned by "
    rf"ae-mediator \(at \d\d:\d\d:\d\d\) and ru-genstaff \(at \d\d:\d\d:\d\d\)$",
]


# The talks act: both rounds' minutes signed by both delegations, the Geneva excerpt for NATO.
TALKS = [
    rf"^{CLOCK}  ae-mediator recorded on abu-dhabi the round .*, Abu Dhabi 2026-02-04/05, ",
    rf"^{CLOCK}  us-eucom recorded on hotline the round .*, Geneva 2021-07-28, ",
    r"^\s+minutes signed by every delegation at ",
    rf"^{CLOCK}  us-eucom \(watch1\) released 4 events of the Geneva round to nato, marked "
    "REL NATO: ",
    r"^\s+verified offline, as nato would .*: VALID: 4 events, the others unseen$",
]

# Headless, the demo acknowledges for us-eucom too; serving, it leaves that to the console.
ACKNOWLEDGED_BY_US = rf"^\s+acknowledged by us-eucom \(duty1\) at {CLOCK} "
LEFT_TO_THE_CONSOLE = r"^\s+left for us-eucom's duty officer to acknowledge in the console$"
# What the scenario addresses to us-eucom: the exercise notice, the exchange, the launch
# notice and the line check.
WAITING_FOR_US = 4


def assert_tells_the_story(out: str, *more: str) -> None:
    for pattern in (*STORY, *more):
        assert re.search(pattern, out, re.MULTILINE), f"no line matches {pattern!r} in:\n{out}"


def run_printed_commands(out: str) -> str:
    """Paste the printed export and verify commands of the hotline; what verify prints."""
    hotline = re.search(r"^Channel hotline: (ch_\w+)$", out, re.MULTILINE)
    assert hotline, out
    commands = [
        shlex.split(line) for line in out.splitlines() if line.lstrip().startswith("parley ")
    ]
    assert [c[:2] for c in commands] == [["parley", "export"], ["parley", "verify"]], out
    export, verify = commands
    assert export[export.index("--channel") + 1] == hotline[1]
    assert verify[2:] == [export[export.index("--out") + 1]]
    for command in commands:
        done = subprocess.run(
            [str(PARLEY), *command[1:]], capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr
    assert f"Channel {hotline[1]}, exported by us-eucom" in done.stdout
    return done.stdout


def inbox_items(console: str, password: str) -> int:
    """Sign in to the console as duty1, as a browser would; the items in its inbox."""
    with httpx.Client(base_url=console, trust_env=False, timeout=10) as browser:
        form = browser.get("login")
        signed_in = browser.post(
            "login",
            data={"csrf": csrf_of(form), "username": "duty1", "password": password},
            follow_redirects=True,
        )
        assert str(signed_in.url) == console, signed_in.text
        return signed_in.text.count("data-item=")


def test_demo_check_plays_the_scenario_on_three_processes_and_exits_zero(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "parley", "demo", "--check", "--data", str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    summary = next(line for line in result.stdout.splitlines() if "demo check passed" in line)
    for check in ("agreement in force", "allegation answered", "exchange of 157 for 157"):
        assert f"{check}" in summary
    assert "FAILED" not in summary
    assert "none of the record" in result.stdout  # no shredded name is left anywhere
    rows = {tuple(cells[:2]): cells[2:] for cells in table_rows(result.stdout)}
    assert rows[("hotline", "ru-genstaff")] == rows[("hotline", "us-eucom")]
    assert rows[("abu-dhabi", "ae-mediator")][1:] == ["1", "1", "1"]
    assert "the activity of ru-genstaff meets the presence of us-eucom" in result.stdout
    assert "at risk of violating the energy moratorium" in result.stdout
    assert "Exchange of prisoners, 157 for 157" in result.stdout
    assert "rows.81.name: duplicate_in_list: is the same person as row 42" in result.stdout
    assert "rows.10.name: already_exchanged: was handed over before" in result.stdout
    assert "exchange check: 157 for 157 completed on every node" in result.stdout
    assert "SHA-256 verified" in result.stdout  # the evidence fetched from the author's node
    assert "ru-genstaff's node escalated the allegation against us-eucom" in result.stdout
    assert "1 unresolved against ru-genstaff, 1 alleged against us-eucom (1 escalated)" in (
        result.stdout
    )
    assert rows[("us-eucom", "high")][0] == rows[("ru-genstaff", "high")][0]  # same area
    for party in ("us-eucom", "ru-genstaff", "ae-mediator"):
        assert (tmp_path / "demo" / party / "node.key").is_file()
    assert_tells_the_story(result.stdout, ACKNOWLEDGED_BY_US, *TALKS)
    assert not re.search(LEFT_TO_THE_CONSOLE, result.stdout, re.MULTILINE)
    assert "VERDICT: VALID: " in run_printed_commands(result.stdout)


def test_demo_serves_until_stopped_and_its_printed_passwords_log_in(tmp_path: Path) -> None:
    base = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "parley",
            "demo",
            "--data",
            str(tmp_path / "demo"),
            "--port",
            str(base),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            lines.append(line)
            if "Press Ctrl-C" in line or not line:
                break
        out = "".join(lines)
        assert f"http://127.0.0.1:{base}/api/v1" in out, out
        assert f"OpenAPI http://127.0.0.1:{base}/docs" in out, out
        assert_tells_the_story(out, LEFT_TO_THE_CONSOLE)
        assert not re.search(ACKNOWLEDGED_BY_US, out, re.MULTILINE)
        # Pasted while the nodes run, as a reader of the story would.
        assert "VERDICT: VALID: " in run_printed_commands(out)
        printed = [m for m in map(DEMO_LINE.match, out.splitlines()) if m]
        assert len(printed) == 12  # four operators on each of three nodes
        duty = next(m for m in printed if m[2] == "duty1")
        response = httpx.post(
            f"http://127.0.0.1:{base}/api/v1/auth/token",
            trust_env=False,
            json={"username": "duty1", "password": duty[3]},
            timeout=10,
        )
        assert response.status_code == 201
        console = f"http://127.0.0.1:{base}/console/"
        assert re.search(rf"^\s+console\s+{console}$", out, re.MULTILINE), out
        assert f"open {console} and sign in as duty1" in out
        assert inbox_items(console, duty[3]) == WAITING_FOR_US
    finally:
        process.terminate()
        code = process.wait(timeout=60)
        process.stdout.close()
    assert code == 0
