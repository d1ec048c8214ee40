#!/usr/bin/env bash
# The Folio's edition run at scale, on SQLite and on PostgreSQL: N paying subscribers (10,000 by
# default) whose paid period covers one edition (the site's winter 2026 edition, four bottles).
# Each engine is measured twice on the same database:
#   baseline   the service with the subscriptions not yet paid: wrk adds bottles to new carts;
#   delivery   the subscriptions paid, the service started again: its worker makes every
#              order (stock taken, lines at no charge) and queues every e-mail at once, while
#              the same wrk load runs.
# Prints how long the delivery took, its rate, the cart's requests/s and p99 in both, and checks
# that every subscriber got exactly one order and one e-mail.
#
# The load saturates the machine by default (wrk, 64 connections, each sending its next request
# as soon as the last is answered); PACE_MS=5 makes it a steady one instead (16 connections,
# each waiting 5 ms between requests: about 2,500 requests a second here).
#
#   [ENGINES="sqlite postgres"] [PACE_MS=5] benches/folio.sh [subscribers, default 10000] [seconds of cart load, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}
DURATION=${2:-10}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
command -v sqlite3 >/dev/null || { echo "sqlite3 is needed: apt-get install sqlite3" >&2; exit 1; }
ulimit -n 65536 2>/dev/null || true

cargo build --release --quiet --bin atelier
BIN=target/release/atelier
WORK=$(mktemp -d)
PIDS=()
PG_ADMIN="${DATABASE_URL_POSTGRES:-postgres://postgres@127.0.0.1:5432/postgres}"
PG_DB="atelier_bench_folio_$$"
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql "$PG_ADMIN" -qc "drop database if exists $PG_DB" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

"$BIN" build --output-dir "$WORK/public" --force >/dev/null
EDITION_DAY=$(python3 -c 'import json,sys; e=[e for e in json.load(open(sys.argv[1]))["folio_editions"] if e["slug"]=="winter-2026"][0]; print(e["date"]); print(" ".join(e["skus"]))' "$WORK/public/catalog.json")
SHIPS_ON=$(sed -n 1p <<<"$EDITION_DAY")
SKUS=$(sed -n 2p <<<"$EDITION_DAY")
SHIPS_AT=$(date -u -d "$SHIPS_ON" +%s)

cat > "$WORK/add.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"sku":"LAV-PROV-30","quantity":1}'
wrk.headers["Content-Type"] = "application/json"
LUA
if [ -n "${PACE_MS:-}" ]; then
  echo "function delay() return ${PACE_MS} end" >> "$WORK/add.lua"
  CONNECTIONS=16
else
  CONNECTIONS=64
fi

# N accounts, each with a pending subscription and a paid invoice covering the edition's day.
python3 - "$N" "$SHIPS_AT" > "$WORK/seed.sql" <<'PY'
import sys
n, ships = int(sys.argv[1]), int(sys.argv[2])
start, end = ships - 10 * 86400, ships + 80 * 86400
print("begin;")
for i in range(n):
    a, s = f"acc_bench_{i:06}", f"sub_bench_{i:06}"
    print(f"insert into account (account_id, email, name, password_hash, password_changed_at, created_at, updated_at) values ('{a}', 'reader{i}@example.com', 'Reader {i}', 'x', 0, {i}, {i});")
    print(f"insert into subscription (subscription_id, account_id, plan_id, provider, status, price_minor, currency, current_period_start, current_period_end, ship_name, ship_line1, ship_line2, ship_postal_code, ship_city, ship_country, created_at, updated_at) values ('{s}', '{a}', 'quarterly', 'sandbox', 'pending', 6400, 'EUR', {start}, {end}, 'Reader {i}', '{i} rue des Fleurs', '', '06130', 'Grasse', 'FR', {i}, {i});")
    print(f"insert into subscription_invoice (invoice_id, subscription_id, status, amount_minor, currency, period_start, period_end, event_at, created_at, updated_at) values ('in_bench_{i:06}', '{s}', 'paid', 6400, 'eur', {start}, {end}, 0, 0, 0);")
print("commit;")
PY

db_query() { # engine sql
  if [ "$1" = sqlite ]; then sqlite3 "$WORK/sqlite/atelier.sqlite" "$2"; else psql "${PG_ADMIN%/*}/$PG_DB" -Atqc "$2"; fi
}

start_service() { # engine port
  local env=(ATELIER_DATA_DIR="$WORK/$1" RUST_LOG=error PUBLIC_URL="http://127.0.0.1:$2")
  [ "$1" = postgres ] && env+=(DATABASE_URL="${PG_ADMIN%/*}/$PG_DB")
  env "${env[@]}" "$BIN" checkout --port "$2" --site "$WORK/public" >/dev/null 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 300); do curl -fs "http://127.0.0.1:$2/api/health" >/dev/null && return; sleep 0.05; done
  echo "service on $1 did not start" >&2; exit 1
}

stop_service() {
  kill "${PIDS[-1]}" 2>/dev/null || true
  wait "${PIDS[-1]}" 2>/dev/null || true
  unset 'PIDS[-1]'
}

load() { # port → "rps p99"
  local out
  out=$(wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$WORK/add.lua" "http://127.0.0.1:$1/api/cart/items")
  echo "$(awk '/Requests\/sec/ {print $2}' <<<"$out") $(awk '$1 == "99%" {print $2}' <<<"$out")"
}

printf '%-9s %12s %12s %14s %14s %12s %12s\n' engine subscribers "delivered in" "orders/s" "cart req/s" "cart p99" "p99 before"
port=18740
for engine in ${ENGINES:-sqlite postgres}; do
  port=$((port + 1))
  mkdir -p "$WORK/$engine"
  env_db=()
  if [ "$engine" = postgres ]; then
    psql "$PG_ADMIN" -qc "create database $PG_DB" >/dev/null
    env_db=(DATABASE_URL="${PG_ADMIN%/*}/$PG_DB")
  fi
  env ATELIER_DATA_DIR="$WORK/$engine" "${env_db[@]}" "$BIN" catalog sync --file "$WORK/public/catalog.json" >/dev/null
  env ATELIER_DATA_DIR="$WORK/$engine" "${env_db[@]}" "$BIN" stock set LAV-PROV-30 100000000 >/dev/null
  for sku in $SKUS; do env ATELIER_DATA_DIR="$WORK/$engine" "${env_db[@]}" "$BIN" stock set "$sku" 1000000 >/dev/null; done
  # Statistics as a live database has them (PostgreSQL's autovacuum analyzes a table that grew).
  if [ "$engine" = sqlite ]; then sqlite3 "$WORK/sqlite/atelier.sqlite" < "$WORK/seed.sql"; else psql "${PG_ADMIN%/*}/$PG_DB" -qf "$WORK/seed.sql" >/dev/null; psql "${PG_ADMIN%/*}/$PG_DB" -qc analyze; fi

  # Baseline: nothing due (the subscriptions wait for payment).
  start_service "$engine" "$port"
  read -r _ p99_before <<<"$(load "$port")"
  stop_service

  # Delivery: paid; the worker delivers as the service starts, under the same load.
  db_query "$engine" "update subscription set status = 'active'" >/dev/null
  t0=$(date +%s.%N)
  start_service "$engine" "$port"
  load "$port" > "$WORK/load" &
  LOAD=$!
  while [ "$(db_query "$engine" "select count(*) from edition_delivery")" -lt "$N" ]; do
    sleep 0.05
    if awk -v now="$(date +%s.%N)" -v t0="$t0" 'BEGIN { exit !(now - t0 > 600) }'; then
      echo "the delivery did not finish in 10 minutes" >&2; exit 1
    fi
  done
  t1=$(date +%s.%N)
  wait "$LOAD"
  read -r rps p99 < "$WORK/load"
  stop_service
  orders=$(db_query "$engine" "select count(*) from customer_order where subscription_id is not null")
  mails=$(db_query "$engine" "select count(*) from outbox where kind = 'folio_edition'")
  [ "$orders" = "$N" ] && [ "$mails" = "$N" ] || { echo "$engine: $orders orders and $mails e-mails for $N subscribers" >&2; exit 1; }
  secs=$(awk -v a="$t1" -v b="$t0" 'BEGIN { print a - b }')
  printf '%-9s %12s %11.2fs %14.0f %14s %12s %12s\n' "$engine" "$N" "$secs" "$(awk -v n="$N" -v s="$secs" 'BEGIN { print n / s }')" "$rps" "$p99" "$p99_before"
done
