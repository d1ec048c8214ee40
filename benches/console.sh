#!/usr/bin/env bash
# The staff console at scale, on SQLite and on PostgreSQL: 100,000 orders, 20,000 customer
# accounts and 5,000 guests, a million stock-ledger rows; each console page (order list,
# searches, customer look-ups, the dashboard, stock) asked for through the service's router as a
# signed-in owner, and its p50, p99 and slowest time printed.
#
#   benches/console.sh [orders, default 100000] [requests per page, default 200]
set -euo pipefail
cd "$(dirname "$0")/.."
ORDERS="${1:-100000}"
RUNS="${2:-200}"
cargo build --release --quiet --bin atelier
cargo build --release --quiet -p atelier-checkout --example console_bench
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
target/release/atelier build --output-dir "$WORK/public" --force >/dev/null
for engine in sqlite postgres; do
  target/release/examples/console_bench "$WORK/public/catalog.json" "$engine" "$ORDERS" "$RUNS"
  echo
done
