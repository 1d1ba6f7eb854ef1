"""The front-end libraries shipped in the package are exactly those package.json pins, as
`make assets` copied them: every file is in the manifest and has its recorded sha256."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).parents[2]
VENDOR = REPO / "src" / "parley" / "web" / "static" / "vendor"


def read_json(path: Path) -> Any:
    return json.loads(path.read_text("utf-8"))


def test_every_shipped_file_has_its_recorded_checksum() -> None:
    manifest = read_json(VENDOR / "MANIFEST.json")
    shipped = {
        path.relative_to(VENDOR).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in VENDOR.rglob("*")
        if path.is_file() and path.name != "MANIFEST.json"
    }

    assert shipped == manifest["files"]


def test_the_shipped_versions_are_the_pinned_and_locked_ones() -> None:
    manifest = read_json(VENDOR / "MANIFEST.json")
    pinned = read_json(REPO / "package.json")["dependencies"]
    locked = read_json(REPO / "package-lock.json")["packages"]

    assert manifest["packages"] == pinned
    for package, version in pinned.items():
        assert locked[f"node_modules/{package}"]["version"] == version, package


def test_every_package_ships_its_licence() -> None:
    manifest = read_json(VENDOR / "MANIFEST.json")

    for package in manifest["packages"]:
        assert f"{package.rsplit('/', 1)[-1]}/LICENSE" in manifest["files"], package
