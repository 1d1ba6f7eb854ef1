"""An idle node holds only what serving needs: the libraries of rarely used paths (reports,
name matching, geometry, migrations) and the console's locale data load when those paths
run, not at start-up."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from parley.services import init_node
from parley.web._i18n import languages

LAZY = ("matplotlib", "rapidfuzz", "anyascii")
# Loaded once a node has areas (sites, notices, agreements) or its database lacks a migration.
GEOMETRY = ("numpy", "pyproj", "shapely")
MIGRATIONS = ("alembic", "mako")

_PROBE = """
import json, sys
from pathlib import Path
from parley.cli._main import app
from parley.services import Node
from parley.api import create_app
import asyncio
import babel.localedata
node = Node.open(Path(sys.argv[1]))
try:
    create_app(node)
    asyncio.run(node.deconfliction.flush())  # the first pass of its duty: the index's load
finally:
    node.close()
modules = sorted(m for m in sys.modules if m.split(".")[0] in sys.argv[2:])
print(json.dumps({"modules": modules, "locales": sorted(babel.localedata._cache)}))
"""


def _started(data: Path, lazy: tuple[str, ...] = LAZY) -> dict[str, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(data), *lazy],
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


def test_a_node_without_areas_at_the_newest_migration_loads_no_geometry_nor_alembic(
    tmp_path: Path,
) -> None:
    init_node(tmp_path / "node", "us-eucom", "Lazy imports")
    assert _started(tmp_path / "node", GEOMETRY + MIGRATIONS)["modules"] == []


def test_a_node_with_areas_loads_the_geometry_libraries(tmp_path: Path) -> None:
    init_node(tmp_path / "node", "us-eucom", "Lazy imports")
    sites = tmp_path / "sites.csv"
    sites.write_text("lon,lat,name,category\n30.5,50.4,Hospital,hospital\n", encoding="utf-8")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "parley",
            "sites",
            "import",
            str(sites),
            "--data",
            str(tmp_path / "node"),
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    loaded = {m.split(".")[0] for m in _started(tmp_path / "node", GEOMETRY)["modules"]}
    assert loaded == set(GEOMETRY)


def test_the_console_names_its_languages_when_a_page_asks() -> None:
    assert languages() == {"ar": "العربية", "en": "English", "ru": "Русский", "uk": "Українська"}
