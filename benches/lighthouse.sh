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
trap 'rm -rf "$WORK"' EXIT
cargo build --release --quiet --bin atelier
target/release/atelier build --output-dir "$WORK/public" --force >/dev/null
cp benches/lighthouse.mjs "$LH/run.mjs"
node "$LH/run.mjs" "$WORK/public"
