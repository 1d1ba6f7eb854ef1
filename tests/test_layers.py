"""Imports go one way: adapters -> services -> protocol and store."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).parent.parent / "src" / "parley"
# The store's private modules, its SQL among them: adapters reach the store through services.
STORE_PRIVATE = {
    f"parley.store.{path.stem}" for path in (SRC / "store").glob("_*.py") if path.stem != "__init__"
}
# What each layer must never import. The shared modules (errors, clock, settings) are open to all.
FORBIDDEN = {
    "protocol": {
        "parley.store",
        "parley.services",
        "parley.api",
        "parley.cli",
        "sqlalchemy",
        "fastapi",
        "httpx",
        "parley.settings",
    },
    "store": {"parley.services", "parley.api", "parley.cli", "fastapi"},
    "services": {"parley.api", "parley.cli", "fastapi", "sqlalchemy"},
    "api": {"parley.cli", "sqlalchemy", *STORE_PRIVATE},
    # The console is an adapter like the API, beside it: the API mounts it, never the reverse.
    "web": {"parley.cli", "parley.api", "parley.store", "sqlalchemy"},
    "forms": {
        "parley.store",
        "parley.services",
        "parley.api",
        "parley.cli",
        "sqlalchemy",
        "fastapi",
    },
    "exchange": {
        "parley.store",
        "parley.services",
        "parley.api",
        "parley.cli",
        "sqlalchemy",
        "fastapi",
    },
    "deconflict": {
        "parley.store",
        "parley.services",
        "parley.api",
        "parley.cli",
        "sqlalchemy",
        "fastapi",
    },
}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_only_inward(layer: str) -> None:
    offending = []
    for path in (SRC / layer).rglob("*.py"):
        for name in imports_of(path):
            if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN[layer]):
                offending.append(f"{path.relative_to(SRC)} imports {name}")
    assert offending == []
