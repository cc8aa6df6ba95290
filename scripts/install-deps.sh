#!/usr/bin/env bash
# Installs the Debian packages hotpath's build, tests and benchmarks need, when missing.
# Idempotent and quiet when everything is there. Runs apt-get as root, or through sudo.
# xxd builds the admin dashboard page into the binary; chromium runs its test
# (tests/dashboard, headless, through playwright-core from npm).
# postgresql (the server programs, and the postgres user scripts/pg-cluster.sh runs them as
# when we are root) and postgresql-contrib (pg_stat_statements) are for the PostgreSQL tests,
# which make throwaway clusters of their own: Debian's default cluster is never used.
set -euo pipefail

PACKAGES=(
  build-essential pkg-config clang libclang-rt-dev clang-format
  libh2o-evloop-dev libssl-dev zlib1g-dev libsqlite3-dev sqlite3 libjansson-dev libxxhash-dev
  libinih-dev libcmocka-dev libbrotli-dev libzstd-dev libpq-dev libhiredis-dev
  curl python3 nodejs npm wrk brotli zstd prometheus
  postgresql postgresql-contrib
  xxd chromium
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# Node and npm may come from elsewhere than Debian's packages (as on our CI image): a working
# node and npm on the PATH is enough.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
filtered=()
for p in "${missing[@]}"; do [ -n "$p" ] && filtered+=("$p"); done
[ ${#filtered[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${filtered[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${filtered[@]}" >/dev/null
