#!/usr/bin/env bash
# Runs the admin dashboard test (tests/dashboard/run.js) against a hotpath binary: headless
# Chromium (HP_CHROMIUM, default /usr/bin/chromium) driven by playwright-core, load until the
# page has shown live figures (every wait is for a condition; caps only bound a hang), one line
# per test, ending with "N passed, N failed".
#   scripts/test-dashboard.sh BIN
# Installs the pinned playwright-core (npm ci, from package-lock.json) when node_modules is
# missing; it never downloads a browser of its own (scripts/install-deps.sh installs chromium).
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: $0 BIN" >&2
  exit 2
fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
[ -x "$bin" ] || { echo "test-dashboard: $1 is not an executable" >&2; exit 2; }
chromium=${HP_CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
  echo "test-dashboard: no Chromium at $chromium (scripts/install-deps.sh installs it)"
  echo "dashboard: 0 passed, 1 failed"
  exit 1
fi
cd "$here/tests/dashboard"
if [ ! -d node_modules/playwright-core ]; then
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
fi
exec node run.js "$bin"
