"""The README's "Running a node by hand", run as written in one shell, as a newcomer would:
two nodes, keys exchanged, operators, a channel opened and accepted, a message sent and
acknowledged, an agreement signed by both and an allegation answered, with the ``parley``
command alone. The README cannot drift from the program."""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from parley.cli._cluster import free_port

README = Path(__file__).parents[2] / "README.md"
SECTION = "## Running a node by hand"
PORTS = ("8701", "8702")
SENTINEL = "::step-done::"
# A step whose output must show this before the walk goes on: a newcomer reads it, and runs
# the command again while replication catches up, as the README says.
EXPECT = {
    "parley channel list --node http://127.0.0.1:8702": "ru-genstaff (party, invited)",
    "parley events --node http://127.0.0.1:8702": "message (flash): Line check [",
    "parley events --node http://127.0.0.1:8701": "message (flash): Line check [acknowledged]",
    "parley agreement show --node http://127.0.0.1:8701": "in_force",
    "parley allegation list --node http://127.0.0.1:8702": "answered",
    "parley peer list --data ./eucom": "ru-genstaff",
    "parley node show --data ./eucom": "Served at:   http://127.0.0.1:8701",
}
PATIENCE_S = 60.0

pytestmark = pytest.mark.skipif(shutil.which("jq") is None, reason="the README's steps use jq")


def readme_steps() -> list[str]:
    """The section's shell commands, each complete (continuations and loops joined)."""
    section = README.read_text("utf-8").split(SECTION, 1)[1].split("\n## ", 1)[0]
    steps: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", section, re.DOTALL):
        pending: list[str] = []
        for line in block.splitlines():
            pending.append(line)
            command = "\n".join(pending)
            if line.endswith("\\"):
                continue
            if subprocess.run(["bash", "-n", "-c", command], capture_output=True).returncode == 0:
                steps.append(command)
                pending = []
        assert not pending, f"an incomplete command in the README: {pending}"
    return steps


class Shell:
    """One bash, fed a step at a time; what it prints is read as it comes."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            ["bash", "--norc", "--noprofile"],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.send("set -o pipefail")

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def send(self, step: str) -> tuple[int, str]:
        """Run ``step``; its exit status and what was printed meanwhile."""
        assert self.process.stdin is not None
        self.process.stdin.write(f"{step}\necho {SENTINEL}$?\n")
        self.process.stdin.flush()
        printed: list[str] = []
        deadline = time.monotonic() + PATIENCE_S
        while True:
            line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            before, done, status = line.partition(SENTINEL)
            printed.append(before)
            if done:
                return int(status), "".join(printed)

    def close(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
        if self.process.stdin is not None:
            self.process.stdin.close()
        # The nodes the walk started may still be logging their shutdown: read to the end
        # before closing what the reader reads.
        self.reader.join(timeout=30)
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture
def shell(tmp_path: Path) -> Iterator[Shell]:
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "COLUMNS": "200"}
    running = Shell(tmp_path, env)
    yield running
    running.close()


def listening(port: str) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", int(port))) == 0


def wait_listening(port: str) -> None:
    deadline = time.monotonic() + PATIENCE_S
    while not listening(port):
        assert time.monotonic() < deadline, f"nothing listens on {port}"
        time.sleep(0.05)


def test_the_readme_walk_through_runs_as_written(shell: Shell) -> None:
    ports = {readme: str(free_port()) for readme in PORTS}
    steps = readme_steps()
    assert any(step.startswith("parley ack ") for step in steps)
    log: list[str] = []
    for step in steps:
        expect = next((text for start, text in EXPECT.items() if step.startswith(start)), "")
        for readme, port in ports.items():
            step, expect = step.replace(readme, port), expect.replace(readme, port)
        deadline = time.monotonic() + PATIENCE_S
        while True:
            status, printed = shell.send(step)
            log.append(f"$ {step}\n{printed}[exit {status}]\n")
            if status == 0 and expect in printed:
                break
            assert time.monotonic() < deadline, "".join(log)
            time.sleep(0.5)
        if step.endswith("&"):
            wait_listening(step.split("--port ")[1].split()[0])
    for port in ports.values():  # the README stops both nodes at its end
        deadline = time.monotonic() + PATIENCE_S
        while listening(port):
            assert time.monotonic() < deadline, f"a node still serves on {port}"
            time.sleep(0.05)
    walk = "".join(log)
    assert "Traceback" not in walk
    assert re.search(r"Acknowledged [0-9a-f]{64}: ack [0-9a-f]{64} by duty1", walk), walk
