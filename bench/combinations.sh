#!/usr/bin/env bash
# Filter combinations of the listing endpoints, one request at a time with the response cache
# off (issue #20, point 6: every documented filter combination < 50 ms at 1M offers): ranked
# offers (every sort × 11 filter sets × pages 1 and 50), best prices (8 filter sets × a leaf and
# a top-level category × pages 1 and 50), search (11 × pages 1 and 50, dearest first too with a text) and
# trending (7 × two windows × pages 1 and 50), the median of 3 each. Prints the paths over
# LIMIT_MS (default 50) and the 15 slowest. Uses the catalog bench/ui.sh builds; with
# DATABASE_URL set, the server reads that database instead (bench/endpoints.sh).
# --unique: the one-product-per-offer catalog (`bench/ui.sh N 1 --unique`).
# Usage: [DATABASE_URL=postgres://…] [BIN=…] [LIMIT_MS=50] bench/combinations.sh [OFFERS] [--unique]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
SHAPE=${2:-}
LIMIT_MS=${LIMIT_MS:-50}
OUT=bench/out/ui
DATA=$OUT/data-$N${SHAPE:+-unique}
[ -f "$DATA/preciso.sqlite" ] || bash bench/ui.sh "$N" 1 $SHAPE > /dev/null
if [ -z "${BIN:-}" ]; then cargo build --release -q -p preciso; BIN=$PWD/target/release/preciso; fi
BACKEND=SQLite DB_LINE=""
if [ -n "${DATABASE_URL:-}" ]; then BACKEND=PostgreSQL DB_LINE="database_url = \"$DATABASE_URL\""; fi
cat > "$OUT/combinations.toml" <<TOML
data_dir = "$DATA"
$DB_LINE
[http]
listen = "127.0.0.1:18083"
rate_limit_per_minute = 0
cache_ttl_secs = 0
TOML
PRECISO_LOG=warn $BIN --config "$OUT/combinations.toml" serve > "$OUT/combinations.log" 2>&1 &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null || true' EXIT
BASE=http://127.0.0.1:18083
for _ in $(seq 200); do curl -sf $BASE/health >/dev/null && break; sleep 0.05; done
CAT=$(curl -sf "$BASE/api/categories" | python3 -c 'import json,sys; print(max(json.load(sys.stdin)["items"], key=lambda c: c["offers"])["key"])')
TOP=${CAT%%/*}
# The first offer's first title word, store and brand, URL-encoded (a brand may hold a space).
ITEM=$(curl -sf "$BASE/api/best-prices/$CAT?limit=1" | python3 -c 'import json,sys,urllib.parse as u; i=json.load(sys.stdin)["items"][0]; w=i["title"].split()[0]; print(*(u.quote(x, safe="") for x in (w, w[:2], i["store"], i.get("brand") or "x")))')
# PREFIX: the word's first two characters (the shortest prefix searched), cut before quoting.
read -r WORD PREFIX STORE BRAND <<< "$ITEM"
paths() {
  local sort f c d s page
  for sort in value price -price rating date discount; do
    for f in "" "category=$CAT" "category=$TOP" "store=$STORE" "brand=$BRAND" "min_price=1000" "max_price=5000" \
      "category=$TOP&min_price=100" "store=$STORE&brand=$BRAND" "store=$STORE&category=$TOP" \
      "brand=$BRAND&category=$TOP&min_price=100&max_price=5000000"; do
      for page in 1 50; do echo "/api/ranked-offers?sort=$sort&page=$page${f:+&$f}"; done
    done
  done
  for f in "" "store=$STORE" "brand=$BRAND" "min_price=100" "max_price=5000" "store=$STORE&min_price=100" \
    "brand=$BRAND&max_price=5000000" "store=$STORE&brand=$BRAND"; do
    for c in "$CAT" "$TOP"; do for page in 1 50; do echo "/api/best-prices/$c?page=$page${f:+&$f}"; done; done
  done
  for f in "q=$WORD" "q=$PREFIX" "store=$STORE" "brand=$BRAND" "category=$TOP" "q=$WORD&category=$TOP" \
    "q=$PREFIX&store=$STORE" "q=$PREFIX&min_price=1000" "category=$CAT&min_price=1000&max_price=9000000" \
    "store=$STORE&brand=$BRAND" "min_price=100&max_price=5000"; do
    # Dearest first needs a text (without one the API answers 400).
    for s in "" ${f%%=*}; do
      [ "$s" = q ] && s="&sort=-price" || [ -z "$s" ] || continue
      for page in 1 50; do echo "/api/search?page=$page&$f$s"; done
    done
  done
  for f in "" "category=$CAT" "category=$TOP" "brand=$BRAND" "store=$STORE" "min_price=100&max_price=5000000" \
    "store=$STORE&category=$TOP"; do
    for d in 7 90; do for page in 1 50; do echo "/api/trending-offers?days=$d&page=$page${f:+&$f}"; done; done
  done
}
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); offers: $N${SHAPE:+ (one product per offer)}; $BACKEND; cache off; median of 3"
paths | while read -r path; do
  for _ in 1 2 3; do curl -s -o /dev/null -w '%{time_total} %{http_code}\n' "$BASE$path"; done |
    sort -n | sed -n 2p | awk -v p="$path" '{ printf "%.1f %s %s\n", $1 * 1000, $2, p }'
done > "$OUT/combinations.txt"
echo "$(wc -l < "$OUT/combinations.txt") paths; not 200: $(awk '$2 != 200' "$OUT/combinations.txt" | wc -l); over $LIMIT_MS ms: $(awk -v l="$LIMIT_MS" '$1 > l' "$OUT/combinations.txt" | wc -l)"
awk -v l="$LIMIT_MS" '$1 > l || $2 != 200' "$OUT/combinations.txt"
echo "the 15 slowest (ms, status, path):"
sort -rn "$OUT/combinations.txt" | head -15
