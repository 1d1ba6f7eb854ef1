#!/usr/bin/env bash
# Installs the system packages the tests use, from Debian's packages, when missing:
# a PostgreSQL server (the store tests run against a real one) and jq (the README's
# walk-through, which a test runs as written, reads JSON answers with it) and Chromium (the
# console's browser tests drive it through Playwright, by its path: /usr/bin/chromium).
set -euo pipefail

have_postgres() {
  command -v initdb >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}

if ! have_postgres; then
  echo "installing PostgreSQL from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
fi

if ! command -v jq >/dev/null 2>&1; then
  echo "installing jq from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq jq >/dev/null
fi

if ! command -v chromium >/dev/null 2>&1; then
  echo "installing Chromium from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi
