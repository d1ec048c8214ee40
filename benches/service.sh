#!/usr/bin/env bash
# Service benchmark with wrk (Debian's): stock read, cart add (a new visitor's first bottle: a
# new cart) and cart edit (a returning visitor changing a quantity in one of 500 open carts) on
# SQLite and on PostgreSQL, against a bare Axum JSON endpoint as the ceiling, in one run; then
# 1,000 connections for 60 s on the stock read. Prints requests/s, the ratio to the ceiling,
# p99 latency and errors.
#
#   benches/service.sh [seconds per load, default 15] [--no-soak]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-15}"
SOAK=1
[ "${2:-}" = "--no-soak" ] && SOAK=0
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
ulimit -n 65536 2>/dev/null || true

cargo build --release --quiet --bin atelier
cargo build --release --quiet -p atelier-checkout --example bare_json
BIN=target/release/atelier
WORK=$(mktemp -d)
PIDS=()
PG_ADMIN="${DATABASE_URL_POSTGRES:-postgres://postgres@127.0.0.1:5432/postgres}"
PG_DB="atelier_bench_$$"
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql "$PG_ADMIN" -qc "drop database if exists $PG_DB" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

"$BIN" build --output-dir "$WORK/public" --force >/dev/null
psql "$PG_ADMIN" -qc "create database $PG_DB" >/dev/null

cat > "$WORK/add.lua" <<'LUA'
-- Every request is a new visitor adding a bottle: a new cart and its first line.
wrk.method = "POST"
wrk.body = '{"sku":"LAV-PROV-30","quantity":1}'
wrk.headers["Content-Type"] = "application/json"
LUA

# 500 open carts made through the API; the edit script sets a random quantity in a random one.
make_edit_script() { # port file
  {
    echo 'local carts = {'
    for _ in $(seq 1 500); do
      curl -fsS -D - -o /dev/null -H 'Content-Type: application/json' -d '{"sku":"LAV-PROV-30","quantity":1}' \
        "http://127.0.0.1:$1/api/cart/items" | sed -n 's/^[Ss]et-[Cc]ookie: atelier_cart=\([A-Za-z0-9_]*\).*/"\1",/p'
    done
    echo '}'
    cat <<'LUA'
request = function()
  local body = '{"quantity":' .. math.random(1, 12) .. '}'
  local headers = { ["Content-Type"] = "application/json", ["Cookie"] = "atelier_cart=" .. carts[math.random(#carts)] }
  return wrk.format("PATCH", "/api/cart/items/LAV-PROV-30", headers, body)
end
LUA
  } > "$2"
}

start_service() { # name port database-url
  local dir="$WORK/$1"
  mkdir -p "$dir"
  local env=(ATELIER_DATA_DIR="$dir" CHECKOUTS_PER_MINUTE=1000000)
  [ -n "$3" ] && env+=(DATABASE_URL="$3")
  env "${env[@]}" "$BIN" catalog sync --file "$WORK/public/catalog.json" >/dev/null
  env "${env[@]}" "$BIN" stock set LAV-PROV-30 100000000 >/dev/null
  env "${env[@]}" "$BIN" checkout --port "$2" --site "$WORK/public" >/dev/null 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$2/api/health" >/dev/null && return; sleep 0.1; done
  echo "service $1 did not start" >&2; exit 1
}

run() { # label url [script] [connections] [seconds]
  local out
  out=$(wrk -t2 -c"${4:-64}" -d"${5:-$DURATION}s" --latency ${3:+-s "$3"} "$2")
  local rps p99 errors
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out" | tr '\n' ' ')
  printf '%s\t%s\t%s\t%s\n' "$1" "$rps" "$p99" "${errors:-none}"
}

target/release/examples/bare_json 8190 & PIDS+=($!)
start_service sqlite 8191 ""
start_service postgres 8192 "${PG_ADMIN%/*}/$PG_DB"
make_edit_script 8191 "$WORK/edit-sqlite.lua"
make_edit_script 8192 "$WORK/edit-postgres.lua"
sleep 0.5

RESULTS="$WORK/results.tsv"
{
  run "ceiling: bare Axum JSON" "http://127.0.0.1:8190/api/bare"
  run "stock read, SQLite" "http://127.0.0.1:8191/api/stock?sku=LAV-PROV-30"
  run "stock read, PostgreSQL" "http://127.0.0.1:8192/api/stock?sku=LAV-PROV-30"
  run "cart add, SQLite" "http://127.0.0.1:8191/api/cart/items" "$WORK/add.lua"
  run "cart add, PostgreSQL" "http://127.0.0.1:8192/api/cart/items" "$WORK/add.lua"
  run "cart edit, SQLite" "http://127.0.0.1:8191/api/cart/items" "$WORK/edit-sqlite.lua"
  run "cart edit, PostgreSQL" "http://127.0.0.1:8192/api/cart/items" "$WORK/edit-postgres.lua"
} > "$RESULTS"

CEILING=$(awk -F'\t' 'NR == 1 {print $2}' "$RESULTS")
printf '%-28s %12s %9s %9s  %s\n' "load (64 connections, ${DURATION}s)" "requests/s" "ceiling" "p99" "errors"
awk -F'\t' -v c="$CEILING" '{ printf "%-28s %12.0f %8.0f%% %9s  %s\n", $1, $2, 100 * $2 / c, $3, $4 }' "$RESULTS"

if [ "$SOAK" = 1 ]; then
  echo
  echo "soak: 1,000 connections for 60 s on the stock read (SQLite)"
  run "stock read, 1000 connections" "http://127.0.0.1:8191/api/stock?sku=LAV-PROV-30" "" 1000 60 | awk -F'\t' '{ printf "%-28s %12.0f %9s  %s\n", $1, $2, $3, $4 }'
fi
