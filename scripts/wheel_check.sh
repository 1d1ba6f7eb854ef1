#!/usr/bin/env bash
# make wheel-check: builds parley's wheel, checks it carries every file the package reads
# besides its modules (schemas, catalogues, the console's templates and static files, the
# demo's scenario, the migrations), installs it with constraints.txt into a fresh virtual
# environment and runs the demo's check from there, away from the source tree.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
python=${PYTHON:-.venv/bin/python}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

"$python" -m pip wheel -q --no-deps -w "$scratch/dist" .
wheel=$(echo "$scratch"/dist/parley-*.whl)
"$python" - "$wheel" src/parley <<'PY'
import sys
import zipfile
from pathlib import Path

wheel, package = sys.argv[1], Path(sys.argv[2])
carried = set(zipfile.ZipFile(wheel).namelist())
# Every file of the package that is not Python source must be in the wheel; the catalogues'
# template (messages.pot) only feeds make i18n.
wanted = {
    f"parley/{path.relative_to(package)}"
    for path in package.rglob("*")
    if path.is_file()
    and path.suffix not in (".py", ".pyc", ".pot")
    and "__pycache__" not in path.parts
}
missing = sorted(wanted - carried)
if missing:
    sys.exit("the wheel lacks: " + " ".join(missing))
print(f"{Path(wheel).name}: {len(wanted)} data files carried")
PY

python3 -m venv "$scratch/venv"
"$scratch/venv/bin/python" -m pip install -q -c "$root/constraints.txt" "$wheel"
cd "$scratch"
"$scratch/venv/bin/parley" --version
"$scratch/venv/bin/parley" demo --check
