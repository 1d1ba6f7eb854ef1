"""Copies the console's front-end libraries from node_modules into the package (make assets).

The files land in src/parley/web/static/vendor/<package>/ and are committed, so a clone and
the wheel need no Node.js; MANIFEST.json there names each package's version and each file's
sha256, which tests/web/test_assets.py checks against the files and package-lock.json.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES = ROOT / "node_modules"
VENDOR = ROOT / "src" / "parley" / "web" / "static" / "vendor"
# Package -> the built files the console serves, as the package lays them out; a leading
# "dist/" is dropped, so Leaflet's stylesheet still finds its images/ beside it.
FILES = {
    "htmx.org": ["dist/htmx.min.js", "LICENSE"],
    "htmx-ext-sse": ["dist/sse.min.js", "LICENSE"],
    "leaflet": [
        "dist/leaflet.js",
        "dist/leaflet.css",
        "dist/images/layers.png",
        "dist/images/layers-2x.png",
        "dist/images/marker-icon.png",
        "dist/images/marker-icon-2x.png",
        "dist/images/marker-shadow.png",
        "LICENSE",
    ],
    "@geoman-io/leaflet-geoman-free": [
        "dist/leaflet-geoman.min.js",
        "dist/leaflet-geoman.css",
        "LICENSE",
    ],
    # Natural Earth's countries at 1:50m as TopoJSON: the base map, with no tile server.
    "world-atlas": ["countries-50m.json", "LICENSE"],
    "topojson-client": ["dist/topojson-client.min.js", "LICENSE"],
    # The accessibility checker the browser tests run on every page (tests/web/a11y.py);
    # served like the rest, so a page under its strict CSP can load it from the node.
    "axe-core": ["axe.min.js", "LICENSE"],
    # Clusters of protected sites on the situation map; its build bundles kdbush, whose licence
    # ships beside it (kdbush is pinned only for that).
    "supercluster": ["dist/supercluster.min.js", "LICENSE"],
    "kdbush": ["LICENSE"],
}


def target(package: str, name: str) -> str:
    """Where a file of a package goes, relative to the vendor folder."""
    return f"{package.rsplit('/', 1)[-1]}/{name.removeprefix('dist/')}"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    if VENDOR.exists():
        shutil.rmtree(VENDOR)
    versions: dict[str, str] = {}
    digests: dict[str, str] = {}
    for package, names in FILES.items():
        source = MODULES / package
        versions[package] = json.loads((source / "package.json").read_text("utf-8"))["version"]
        for name in names:
            destination = VENDOR / target(package, name)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / name, destination)
            digests[target(package, name)] = sha256(destination)
    manifest = {"packages": versions, "files": dict(sorted(digests.items()))}
    (VENDOR / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
    print(f"copied {len(digests)} files of {len(versions)} packages into {VENDOR}")


if __name__ == "__main__":
    main()
