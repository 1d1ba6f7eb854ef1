#!/usr/bin/env bash
# Writes constraints.txt (make constraints): the newest versions pyproject.toml allows, with the
# test extras, installed into a fresh virtual environment and frozen there. make test and
# make demo install with -c constraints.txt, so every machine tests what was tested here.
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
python3 -m venv "$scratch/venv"
"$scratch/venv/bin/python" -m pip install -q --upgrade pip
"$scratch/venv/bin/python" -m pip install -q -e '.[test]'
{
    echo "# The versions make test and make demo install (pip -c). Written by make constraints:"
    echo "# run it after changing a dependency in pyproject.toml, then run make test."
    "$scratch/venv/bin/python" -m pip freeze --exclude-editable | grep -iv '^parley[ =@]'
} > constraints.txt
