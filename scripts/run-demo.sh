#!/usr/bin/env bash
# scripts/run-demo.sh BIN DB: serves the demo database DB on http://127.0.0.1:3000 in the
# foreground (Ctrl-C stops it), after printing a few requests to try. `make run` calls it.
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: scripts/run-demo.sh PATH-TO-HOTPATH DEMO-DB" >&2
  exit 2
fi
BIN=$1
DB=$2
HOST=127.0.0.1
PORT=3000
[ -x "$BIN" ] || { echo "run-demo: $BIN is not an executable (run make)" >&2; exit 1; }
[ -f "$DB" ] || { echo "run-demo: $DB does not exist (run: $BIN demo --out $DB)" >&2; exit 1; }

BASE="http://$HOST:$PORT"
cat <<MSG
hotpath: serving $DB on $BASE (Ctrl-C to stop). Try:

  # one user by primary key
  curl '$BASE/users?id=eq.42&select=id,username,email'

  # products of a category with their details embedded (a join through the foreign key)
  curl '$BASE/products?category_id=eq.7&select=id,name,price,product_details(description)&order=id&limit=5'

  # a device's latest readings: filter, order and limit
  curl '$BASE/readings?device_id=eq.3&select=temperature,ts&order=ts.desc&limit=10'

MSG
exec "$BIN" serve --db-uri "$DB" --server-host "$HOST" --server-port "$PORT"
