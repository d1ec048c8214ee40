#!/usr/bin/env bash
# Service benchmark with wrk (Debian's), on SQLite and on PostgreSQL, next to a bare Axum JSON
# endpoint (the ceiling):
#   stock read     the badge endpoint
#   cart add       a new visitor's first bottle (a new cart)
#   cart edit      a returning visitor changing a quantity in one of 500 open carts
#   checkout       a new cart and its checkout, over and over (order, stock held, payment session),
#                  each from a client address of its own (behind a trusted proxy, 127.0.0.1)
#   limit, 1       one client checking its cart out again and again: past the limit (20 a
#                  minute), refused with 429
#   limit, 100k+   the same cart checked out from a new client address every request: each one
#                  counted (and the cart's open order found again)
#   cart read      a returning visitor's cart (three lines)
#   session read   a signed-in browser asking who it is (`GET /api/account`: the session lookup
#                  every signed-in request makes, and nothing else)
#   cart read, signed in
#                  the same three-line cart, the account's, found from the session; the line
#                  after the table gives what the lookup adds to a cart read, against what the
#                  cart read costs past HTTP alone (the ceiling)
#   sign-in        a right password, again and again (argon2id: the hashing's rate per core)
# then 1,000 connections for 60 s on the stock read. Prints requests/s, the ratio to the
# ceiling, p99 latency and errors. With --baseline BIN, the same loads run against that build
# too (an earlier `atelier`, say), in the same run, and the table gives both and their ratio.
# With --metrics-cost, only what `/metrics` costs: cart adds on two SQLite services of this
# build, one with METRICS_TOKEN set (every request counted and timed) and one without, taking
# turns eight times (which goes first alternating), and the median of the eight pairs' ratios.
#
#   benches/service.sh [seconds per load, default 15] [--no-soak] [--baseline BIN] [--metrics-cost]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=15
SOAK=1
BASELINE=
METRICS_COST=0
while [ $# -gt 0 ]; do
  case "$1" in
    --no-soak) SOAK=0 ;;
    --metrics-cost) METRICS_COST=1 ;;
    --baseline) BASELINE="$2"; shift ;;
    *) DURATION="$1" ;;
  esac
  shift
done
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
ulimit -n 65536 2>/dev/null || true

cargo build --release --quiet --bin atelier
cargo build --release --quiet -p atelier-checkout --example bare_json
BIN=target/release/atelier
WORK=$(mktemp -d)
PIDS=()
DBS=()
PG_ADMIN="${DATABASE_URL_POSTGRES:-postgres://postgres@127.0.0.1:5432/postgres}"
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for db in "${DBS[@]}"; do psql "$PG_ADMIN" -qc "drop database if exists $db" >/dev/null 2>&1 || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

"$BIN" build --output-dir "$WORK/public" --force >/dev/null
ADDRESS='{"email":"ada@example.com","name":"Ada Lovelace","line1":"1 rue des Fleurs","city":"Grasse","postal_code":"06130","country":"FR","shipping_method":"standard"}'

cat > "$WORK/add.lua" <<'LUA'
-- Every request is a new visitor adding a bottle: a new cart and its first line.
wrk.method = "POST"
wrk.body = '{"sku":"LAV-PROV-30","quantity":1}'
wrk.headers["Content-Type"] = "application/json"
LUA

# A new cart, then its checkout: each connection alternates, carrying the cookie it was given.
# The checkouts are counted apart (every other request), each from a client of its own.
cat > "$WORK/checkout.lua" <<'LUA'
local threads = {}
function setup(thread) table.insert(threads, thread); thread:set("id", #threads) end
-- Globals, so that done() can read each thread's through thread:get.
cookies, checkouts, failed = {}, 0, 0
local add = wrk.format("POST", "/api/cart/items", { ["Content-Type"] = "application/json" }, '{"sku":"LAV-PROV-30"}')
local address = '{"email":"ada@example.com","name":"Ada Lovelace","line1":"1 rue des Fleurs","city":"Grasse","postal_code":"06130","country":"FR","shipping_method":"standard"}'
request = function()
  local cookie = table.remove(cookies)
  if cookie == nil then return add end
  checkouts = checkouts + 1
  local ip = string.format("10.%d.%d.%d", id % 256, math.floor(checkouts / 256) % 256, checkouts % 256)
  return wrk.format("POST", "/api/checkout", { ["Content-Type"] = "application/json", ["Cookie"] = cookie, ["X-Forwarded-For"] = ip }, address)
end
response = function(status, headers, body)
  local set = headers["Set-Cookie"] or headers["set-cookie"]
  if set then table.insert(cookies, (set:match("^([^;]+)"))) end
  if status ~= 200 and status ~= 201 then failed = failed + 1 end
end
done = function(summary, latency, requests)
  local n, f = 0, 0
  for _, t in ipairs(threads) do n = n + t:get("checkouts"); f = f + t:get("failed") end
  io.write(string.format("checkouts %d %d\n", n, f))
end
LUA

# One cart checked out again and again: by one client, then by a new client each request.
make_limit_scripts() { # port tag
  local cookie
  cookie=$(curl -fsS -D - -o /dev/null -H 'Content-Type: application/json' -d '{"sku":"LAV-PROV-30"}' \
    "http://127.0.0.1:$1/api/cart/items" | sed -n 's/^[Ss]et-[Cc]ookie: \(atelier_cart=[A-Za-z0-9_]*\).*/\1/p')
  cat > "$WORK/limit-one-$2.lua" <<LUA
wrk.method = "POST"
wrk.body = '$ADDRESS'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Cookie"] = "$cookie"
LUA
  cat > "$WORK/limit-many-$2.lua" <<LUA
local threads = 0
function setup(thread) threads = threads + 1; thread:set("id", threads) end
local n = 0
request = function()
  n = n + 1
  local ip = string.format("10.%d.%d.%d", (id or 0) % 256, math.floor(n / 256) % 256, n % 256)
  return wrk.format("POST", "/api/checkout", { ["Content-Type"] = "application/json", ["Cookie"] = "$cookie", ["X-Forwarded-For"] = ip }, '$ADDRESS')
end
LUA
}

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

# A cart of three lines, and an account signed in (registered, confirmed from its e-mail in the
# outbox, signed in): the cookies of both, for the read loads.
make_read_scripts() { # port tag data-dir
  local cart session token
  cart=$(curl -fsS -D - -o /dev/null -H 'Content-Type: application/json' -d '{"sku":"LAV-PROV-30"}' \
    "http://127.0.0.1:$1/api/cart/items" | sed -n 's/^[Ss]et-[Cc]ookie: \(atelier_cart=[A-Za-z0-9_]*\).*/\1/p')
  for sku in LAV-PROV-100 ROSE-BUL-5; do
    curl -fsS -o /dev/null -H 'Content-Type: application/json' -H "Cookie: $cart" -d "{\"sku\":\"$sku\"}" \
      "http://127.0.0.1:$1/api/cart/items" || true
  done
  curl -fsS -o /dev/null -H 'Content-Type: application/json' \
    -d '{"email":"bench@example.com","password":"quiet lavender harvest","name":"Bench"}' "http://127.0.0.1:$1/api/account/register"
  for _ in $(seq 1 100); do
    token=$(cat "$3"/outbox/*.eml 2>/dev/null | sed -e 's/=\r\{0,1\}$//' | tr -d '\r\n' | sed -e 's/=3D/=/g' |
      grep -o 'verify?token=[0-9a-f]\{64\}' | head -1 | cut -d= -f2 || true)
    [ -n "$token" ] && break
    sleep 0.1
  done
  curl -fsS -o /dev/null -H 'Content-Type: application/json' \
    -d "{\"token\":\"$token\",\"password\":\"quiet lavender harvest\"}" "http://127.0.0.1:$1/api/account/verify"
  session=$(curl -fsS -D - -o /dev/null -H 'Content-Type: application/json' \
    -d '{"email":"bench@example.com","password":"quiet lavender harvest"}' "http://127.0.0.1:$1/api/account/sign-in" |
    sed -n 's/^[Ss]et-[Cc]ookie: \(atelier_session=[0-9a-f]*\).*/\1/p')
  for sku in LAV-PROV-30 LAV-PROV-100 ROSE-BUL-5; do
    curl -fsS -o /dev/null -H 'Content-Type: application/json' -H "Cookie: $session" -d "{\"sku\":\"$sku\"}" \
      "http://127.0.0.1:$1/api/cart/items" || true
  done
  printf 'wrk.headers["Cookie"] = "%s"\n' "$cart" > "$WORK/cart-read-$2.lua"
  printf 'wrk.headers["Cookie"] = "%s"\n' "$session" > "$WORK/cart-read-signed-$2.lua"
  printf 'wrk.headers["Cookie"] = "%s"\n' "$session" > "$WORK/session-read-$2.lua"
  cat > "$WORK/sign-in-$2.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"email":"bench@example.com","password":"quiet lavender harvest"}'
wrk.headers["Content-Type"] = "application/json"
LUA
}

start_service() { # bin name port database-url [NAME=value…]
  local dir="$WORK/$2"
  mkdir -p "$dir"
  local env=(ATELIER_DATA_DIR="$dir" CHECKOUTS_PER_MINUTE=20 TRUSTED_PROXIES=127.0.0.1 RUST_LOG=error
    PUBLIC_URL="http://127.0.0.1:$3")
  [ -n "$4" ] && env+=(DATABASE_URL="$4")
  env+=("${@:5}")
  env "${env[@]}" "$1" catalog sync --file "$WORK/public/catalog.json" >/dev/null
  env "${env[@]}" "$1" stock set LAV-PROV-30 100000000 >/dev/null
  env "${env[@]}" "$1" stock set LAV-PROV-100 100000000 >/dev/null
  env "${env[@]}" "$1" stock set ROSE-BUL-5 100000000 >/dev/null
  env "${env[@]}" "$1" checkout --port "$3" --site "$WORK/public" >/dev/null 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$3/api/health" >/dev/null && return; sleep 0.1; done
  echo "service $2 did not start" >&2; exit 1
}

run() { # label url [script] [connections] [seconds]
  local out
  out=$(wrk -t2 -c"${4:-64}" -d"${5:-$DURATION}s" --latency ${3:+-s "$3"} "$2")
  local rps p99 errors checkouts
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out" | tr '\n' ' ')
  checkouts=$(awk '/^checkouts / {print $2, $3}' <<<"$out")
  if [ -n "$checkouts" ]; then
    # Only the checkouts count; the adds that make their carts are the other half.
    read -r n failed <<<"$checkouts"
    rps=$(awk -v n="$n" -v d="${5:-$DURATION}" 'BEGIN { printf "%.1f", n / d }')
    errors="checkouts not 2xx: $failed"
  fi
  printf '%s\t%s\t%s\t%s\n' "$1" "$rps" "$p99" "${errors:-none}"
}

# One build's loads on both engines; ports from $2.
measure() { # bin first-port tag
  local bin=$1 port=$2 tag=$3
  local db="atelier_bench_${tag}_$$"
  psql "$PG_ADMIN" -qc "create database $db" >/dev/null
  DBS+=("$db")
  start_service "$bin" "$tag-sqlite" "$port" ""
  start_service "$bin" "$tag-postgres" "$((port + 1))" "${PG_ADMIN%/*}/$db"
  make_edit_script "$port" "$WORK/edit-$tag-sqlite.lua"
  make_edit_script "$((port + 1))" "$WORK/edit-$tag-postgres.lua"
  make_limit_scripts "$port" "$tag-sqlite"
  make_limit_scripts "$((port + 1))" "$tag-postgres"
  make_read_scripts "$port" "$tag-sqlite" "$WORK/$tag-sqlite"
  make_read_scripts "$((port + 1))" "$tag-postgres" "$WORK/$tag-postgres"
  sleep 0.5
  for engine in sqlite postgres; do
    local p=$port name=SQLite
    [ "$engine" = postgres ] && p=$((port + 1)) && name=PostgreSQL
    run "stock read, $name" "http://127.0.0.1:$p/api/stock?sku=LAV-PROV-30"
    run "cart add, $name" "http://127.0.0.1:$p/api/cart/items" "$WORK/add.lua"
    run "cart edit, $name" "http://127.0.0.1:$p/api/cart/items" "$WORK/edit-$tag-$engine.lua"
    run "checkout, $name" "http://127.0.0.1:$p/" "$WORK/checkout.lua" 16
    run "limit, 1 client, $name" "http://127.0.0.1:$p/api/checkout" "$WORK/limit-one-$tag-$engine.lua"
    run "limit, 100k+ clients, $name" "http://127.0.0.1:$p/api/checkout" "$WORK/limit-many-$tag-$engine.lua"
    run "cart read, $name" "http://127.0.0.1:$p/api/cart" "$WORK/cart-read-$tag-$engine.lua"
    run "session read, $name" "http://127.0.0.1:$p/api/account" "$WORK/session-read-$tag-$engine.lua"
    run "cart read, signed in, $name" "http://127.0.0.1:$p/api/cart" "$WORK/cart-read-signed-$tag-$engine.lua"
    # One connection a core: each sign-in's argon2 holds a core for its length.
    run "sign-in, $name" "http://127.0.0.1:$p/api/account/sign-in" "$WORK/sign-in-$tag-$engine.lua" 2
  done
}

if [ "$METRICS_COST" = 1 ]; then
  TOKEN=bench-metrics-token-0123456789
  start_service "$BIN" off 8391 ""
  start_service "$BIN" on 8392 "" METRICS_TOKEN=$TOKEN
  sleep 0.5
  for round in 1 2 3 4 5 6 7 8; do
    if [ $((round % 2)) = 1 ]; then
      run "off" "http://127.0.0.1:8391/api/cart/items" "$WORK/add.lua" >> "$WORK/off.tsv"
      run "on" "http://127.0.0.1:8392/api/cart/items" "$WORK/add.lua" >> "$WORK/on.tsv"
    else
      run "on" "http://127.0.0.1:8392/api/cart/items" "$WORK/add.lua" >> "$WORK/on.tsv"
      run "off" "http://127.0.0.1:8391/api/cart/items" "$WORK/add.lua" >> "$WORK/off.tsv"
    fi
  done
  median() { sort -n | awk '{ v[NR] = $1 } END { print (v[int((NR + 1) / 2)] + v[int(NR / 2) + 1]) / 2 }'; }
  OFF=$(cut -f2 "$WORK/off.tsv" | median); ON=$(cut -f2 "$WORK/on.tsv" | median)
  RATIO=$(paste "$WORK/off.tsv" "$WORK/on.tsv" | awk -F'\t' '{ print $6 / $2 }' | median)
  printf 'cart add, SQLite, 64 connections, eight %s-second turns each:\n' "$DURATION"
  printf '  without metrics: median %.0f requests/s (turns: %s)\n' "$OFF" "$(cut -f2 "$WORK/off.tsv" | xargs printf '%.0f ')"
  printf '  with metrics:    median %.0f requests/s (turns: %s)\n' "$ON" "$(cut -f2 "$WORK/on.tsv" | xargs printf '%.0f ')"
  awk -v r="$RATIO" 'BEGIN { printf "  with/without, median of the pairs: %.3f (a cost of %.1f%%)\n", r, 100 * (1 - r) }'
  curl -fsS -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8392/metrics \
    | grep -E '^atelier_(http_requests_total\{route="/api/cart/items"|cart_writer_batch_edits_(count|sum))' | sed 's/^/  /'
  exit 0
fi

target/release/examples/bare_json 8190 & PIDS+=($!)
sleep 0.3
CEILING=$(run "ceiling: bare Axum JSON" "http://127.0.0.1:8190/api/bare" | awk -F'\t' '{print $2}')
measure "$BIN" 8191 now > "$WORK/now.tsv"
if [ -n "$BASELINE" ]; then
  measure "$BASELINE" 8291 base > "$WORK/base.tsv"
  printf 'ceiling (bare Axum JSON): %.0f requests/s; %s-second loads, 64 connections (checkout: 16)\n\n' "$CEILING" "$DURATION"
  printf '%-32s %12s %12s %8s %9s %9s\n' "load" "baseline/s" "this/s" "ratio" "p99 base" "p99 this"
  paste "$WORK/base.tsv" "$WORK/now.tsv" | awk -F'\t' '{ r = ($2 > 0) ? $6 / $2 : 0; printf "%-32s %12.0f %12.0f %7.2fx %9s %9s\n", $1, $2, $6, r, $3, $7 }'
  echo
  echo "errors (this build):"; awk -F'\t' '$4 != "none" {print "  " $1 ": " $4}' "$WORK/now.tsv"
else
  printf '%-32s %12s %9s %9s  %s\n' "load (64 connections, ${DURATION}s)" "requests/s" "ceiling" "p99" "errors"
  awk -F'\t' -v c="$CEILING" '{ printf "%-32s %12.0f %8.0f%% %9s  %s\n", $1, $2, 100 * $2 / c, $3, $4 }' "$WORK/now.tsv"
fi

# What a session lookup costs beside a cart read, each less what HTTP costs alone (the ceiling).
echo
awk -F'\t' -v c="$CEILING" '
  $1 ~ /^cart read, signed in/ { signed[$1 ~ /SQLite/ ? "SQLite" : "PostgreSQL"] = $2; next }
  $1 ~ /^cart read/ { cart[$1 ~ /SQLite/ ? "SQLite" : "PostgreSQL"] = $2 }
  $1 ~ /^session read/ { sess[$1 ~ /SQLite/ ? "SQLite" : "PostgreSQL"] = $2 }
  $1 ~ /^sign-in/ { signin[$1 ~ /SQLite/ ? "SQLite" : "PostgreSQL"] = $2 }
  END {
    for (e in cart) {
      tc = 1e6 / cart[e] - 1e6 / c; ts = 1e6 / sess[e] - 1e6 / c; tl = 1e6 / signed[e] - 1e6 / cart[e]
      printf "%s: a cart read costs %.0f us past HTTP; signed in, the session lookup adds %.1f us (%.1f%% of a cart read); GET /api/account costs %.0f us past HTTP; %.1f sign-ins/s on 2 connections (%.0f ms each)\n", e, tc, tl, 100 * tl / tc, ts, signin[e], 2000 / signin[e]
    }
  }' "$WORK/now.tsv"

if [ "$SOAK" = 1 ]; then
  echo
  echo "soak: 1,000 connections for 60 s on the stock read (SQLite)"
  run "stock read, 1000 connections" "http://127.0.0.1:8191/api/stock?sku=LAV-PROV-30" "" 1000 60 | awk -F'\t' '{ printf "%-28s %12.0f %9s  %s\n", $1, $2, $3, $4 }'
fi
