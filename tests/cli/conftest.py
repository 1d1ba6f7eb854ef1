"""What every CLI test shares."""

from __future__ import annotations

import pytest

from parley.cli import _main as cli_main


@pytest.fixture(autouse=True)
def _wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables and lines as a wide terminal shows them, whichever test imported the CLI first:
    rich sizes its consoles once, when they are made."""
    monkeypatch.setattr(cli_main.console, "width", 250)
    monkeypatch.setattr(cli_main.err_console, "width", 250)
