#!/usr/bin/env bash
# Installs what the benchmarks compare against, from Debian's packages, when missing: PostGIS
# for the PostgreSQL server the tests use (bench/deconflict_bench.py measures the index
# against a GiST index on the same data). Synapse is not installed here: bench/compare_matrix.py
# puts it in a virtualenv of its own.
set -euo pipefail

bash "$(dirname "$0")/system-deps.sh"

for initdb in /usr/lib/postgresql/*/bin/initdb; do
  version=$(basename "$(dirname "$(dirname "$initdb")")")
  if [ ! -f "/usr/share/postgresql/$version/extension/postgis.control" ]; then
    echo "installing PostGIS for PostgreSQL $version from Debian's packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "postgresql-$version-postgis-3" >/dev/null
  fi
done
