"""An idle node holds only what serving needs: the libraries of rarely used paths (reports,
name matching) and the console's locale data load when those paths run, not at start-up."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from parley.services import init_node
from parley.web._i18n import languages

LAZY = ("matplotlib", "rapidfuzz", "anyascii")

_PROBE = """
import json, sys
from pathlib import Path
from parley.cli._main import app
from parley.services import Node
from parley.api import create_app
import babel.localedata
node = Node.open(Path(sys.argv[1]))
try:
    create_app(node)
finally:
    node.close()
modules = sorted(m for m in sys.modules if m.split(".")[0] in sys.argv[2:])
print(json.dumps({"modules": modules, "locales": sorted(babel.localedata._cache)}))
"""


def _started(data: Path) -> dict[str, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(data), *LAZY],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    loaded: dict[str, list[str]] = json.loads(done.stdout.splitlines()[-1])
    return loaded


def test_starting_a_node_loads_neither_rare_libraries_nor_locale_data(tmp_path: Path) -> None:
    init_node(tmp_path / "node", "us-eucom", "Lazy imports")
    assert _started(tmp_path / "node") == {"modules": [], "locales": []}


def test_the_console_names_its_languages_when_a_page_asks() -> None:
    assert languages() == {"ar": "العربية", "en": "English", "ru": "Русский", "uk": "Українська"}
