#!/usr/bin/env bash
# Lighthouse on the storefront (mobile settings, Debian's Chromium): builds the site, serves it
# as the CDN does and checks the bars of the storefront (Performance ≥ 98, Accessibility,
# Best Practices and SEO 100) on home, Compendium, an essence and an article.
#
#   benches/lighthouse.sh
#
# Lighthouse 12 is installed into .atelier/lighthouse (Lighthouse 13 needs Node 22).
set -euo pipefail
cd "$(dirname "$0")/.."
LH=.atelier/lighthouse
if [ ! -d "$LH/node_modules/lighthouse" ]; then
  mkdir -p "$LH"
  npm install --prefix "$LH" --no-audit --no-fund --loglevel=error lighthouse@12.8.2 >/dev/null
fi
WORK=$(mktemp -d)
SERVICE_PID=
trap '[ -n "$SERVICE_PID" ] && kill "$SERVICE_PID" 2>/dev/null; rm -rf "$WORK"' EXIT
cargo build --release --quiet --bin atelier
BIN=target/release/atelier
SITE_PORT=$((18100 + $$ % 400))
"$BIN" build --output-dir "$WORK/public" --base-url "http://127.0.0.1:$SITE_PORT" --force >/dev/null
# The checkout service behind the CDN, on its own data folder.
export ATELIER_DATA_DIR="$WORK/data"
unset DATABASE_URL STRIPE_SECRET_KEY SMTP_URL
"$BIN" catalog sync --file "$WORK/public/catalog.json" >/dev/null 2>&1
PORT=$((18500 + $$ % 400))
"$BIN" checkout --port "$PORT" --site "$WORK/public" >/dev/null 2>&1 &
SERVICE_PID=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/api/health" >/dev/null && break; sleep 0.1; done
cp benches/lighthouse.mjs "$LH/run.mjs"
node "$LH/run.mjs" "$WORK/public" "http://127.0.0.1:$PORT" "$SITE_PORT"
