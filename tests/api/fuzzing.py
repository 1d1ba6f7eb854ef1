"""schemathesis against a real ``parley serve`` on 127.0.0.1, shared by the slow test
(``test_schemathesis.py``) and the longer run of ``bench/schemathesis_run.py``.

The node is made with the real commands (``make_served_node``, and ``parley operator add``
for a supervisor: accounts added on the data folder are active at once). The fuzzer speaks
as the admin for every operation, and as the supervisor for those tagged ``events``, which
an admin may not do (send, acknowledge, release). It logs the admin in again whenever an
answer is 401, since it calls ``DELETE /auth/token`` too; so the node's login throttle is
raised here, or the fuzzer's own failed logins would lock it out (the throttle has tests of
its own). ``DELETE /operators/{username}`` disables only ``duty1``: the fuzzer reads the
names of its own accounts in ``GET /operators`` and would disable them.

Every request goes through ``schemathesis_hooks``: no URL a peer is given leaves loopback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.api.processes import PASSWORDS, ServedNode, Server, make_served_node, parley

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
REPO = Path(__file__).resolve().parents[2]
SUPERVISOR = "watch1"
# Judged by the schema alone, a refusal of a rule between fields or of a form's own schema
# (first <= second, a notification's data) counts as a failure: reported, not gated.
DATA_CHECKS = frozenset({"RejectedPositiveData", "AcceptedNegativeData"})
FUZZ_SETTINGS = {
    "login_failures_per_address": 1_000_000,
    "login_failures_per_username": 1_000_000,
    # Cheap hashing: the fuzzer logs in hundreds of times; the defaults stay strong.
    "password_time_cost": 1,
    "password_memory_kib": 64,
}
CONFIG = """\
[auth.dynamic.openapi.bearer]
path = "/api/v1/auth/token"
payload = {{ username = "admin", password = "{admin}" }}
extract_selector = "/token"

[[operations]]
include-tag = "events"
headers = {{ Authorization = "Bearer ${{PARLEY_SUPERVISOR_TOKEN}}" }}

[[operations]]
include-name = "DELETE /api/v1/operators/{{username}}"
parameters = {{ "path.username" = "duty1" }}
"""


def make_fuzzed_node(folder: Path) -> ServedNode:
    """A node to fuzz: ``make_served_node``'s, with a supervisor and the settings above."""
    node = make_served_node(folder)
    parley(
        *("operator", "add", "--data", str(node.data), "--username", SUPERVISOR),
        *("--role", "supervisor"),
        stdin=PASSWORDS[SUPERVISOR] + "\n",
    )
    with (node.data / "parley.toml").open("a", encoding="utf-8") as toml:
        toml.writelines(f"{name} = {value}\n" for name, value in FUZZ_SETTINGS.items())
    return node


@dataclass
class FuzzRun:
    command: list[str]
    returncode: int
    output: str
    report: dict[str, Any]

    def gated(self) -> list[dict[str, Any]]:
        """The failures that fail the run: all but the two judged by the schema alone."""
        return [f for f in self.report.get("failures", []) if f["type"] not in DATA_CHECKS]

    def errors(self) -> list[dict[str, Any]]:
        errors: list[dict[str, Any]] = self.report.get("errors", [])
        return errors

    def summary(self) -> str:
        """What the test's failure message shows: the fuzzer's own output, then its verdict."""
        return f"$ {' '.join(self.command)}\n{self.output}"


def fuzz(
    server: Server,
    workdir: Path,
    *,
    max_examples: int,
    seed: int,
    timeout_s: int,
    max_time_s: int | None = None,
    phases: str = "examples,coverage,fuzzing,stateful",
    workers: int = 1,
) -> FuzzRun:
    """Run schemathesis once with every check; its JSON report is read back. With
    ``max_time_s`` fuzzing and the stateful phase go on until that time is spent. One worker
    by default: hypothesis, under schemathesis's worker threads, can fail on its own."""
    config = workdir / "schemathesis.toml"
    config.write_text(CONFIG.format(admin=PASSWORDS["admin"]), "utf-8")
    report = workdir / "schemathesis.json"
    command = [
        str(SCHEMATHESIS),
        *("--config-file", str(config), "--no-color"),
        *("run", f"{server.url}/openapi.json", "--checks", "all", "--mode", "all"),
        *("--phases", phases, "--max-examples", str(max_examples)),
        *("--seed", str(seed), "--workers", str(workers)),
        *(("--max-time", str(max_time_s)) if max_time_s else ()),
        *("--request-timeout", "10", "--continue-on-failure"),
        *("--report", "json", "--report-json-path", str(report)),
        "--generation-database=none",
    ]
    env = {
        **os.environ,
        "PARLEY_SUPERVISOR_TOKEN": server.login(SUPERVISOR),
        "SCHEMATHESIS_HOOKS": "tests.api.schemathesis_hooks",
        "PYTHONPATH": str(REPO),
        "COLUMNS": "120",
    }
    done = subprocess.run(
        command,
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    found = json.loads(report.read_text("utf-8")) if report.exists() else {}
    return FuzzRun(command, done.returncode, done.stdout + done.stderr, found)
