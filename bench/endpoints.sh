#!/usr/bin/env bash
# Every GET endpoint of the API and several documented filter combinations, one request at a
# time with the response cache off: the median of RUNS single requests each (issue #20,
# point 6: < 50 ms at 1M offers, O(page)). Uses the catalog bench/ui.sh builds.
# Usage: bench/endpoints.sh [OFFERS] [RUNS] [--unique]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
RUNS=${2:-5}
SHAPE=${3:-}
OUT=bench/out/ui
DATA=$OUT/data-$N${SHAPE:+-unique}
[ -f "$DATA/preciso.sqlite" ] || bash bench/ui.sh "$N" 1 $SHAPE > /dev/null
cargo build --release -q -p preciso
BIN=$PWD/target/release/preciso
cat > "$OUT/endpoints.toml" <<TOML
data_dir = "$DATA"
[http]
listen = "127.0.0.1:18082"
rate_limit_per_minute = 0
cache_ttl_secs = 0
TOML
PRECISO_LOG=warn $BIN --config "$OUT/endpoints.toml" serve > "$OUT/endpoints.log" 2>&1 &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null || true' EXIT
BASE=http://127.0.0.1:18082
for _ in $(seq 200); do curl -sf $BASE/health >/dev/null && break; sleep 0.05; done
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); offers: $N${SHAPE:+ (one product per offer)}; SQLite; cache off; median of $RUNS"
CAT=$(curl -sf "$BASE/api/categories" | python3 -c 'import json,sys; print(max(json.load(sys.stdin)["items"], key=lambda c: c["offers"])["key"])')
TOP=${CAT%%/*}
ITEM=$(curl -sf "$BASE/api/best-prices/$CAT?limit=1" | python3 -c 'import json,sys; i=json.load(sys.stdin)["items"][0]; print(i["id"], i["product_id"], i["title"].split()[0], i["store"], i.get("brand") or "x")')
read -r OFFER PRODUCT WORD STORE BRAND <<< "$ITEM"
PATHS=(
  "/api/best-prices/$CAT" "/api/best-prices/$TOP?page=50" "/api/best-prices/$CAT?store=$STORE" "/api/best-prices/$CAT?brand=$BRAND&min_price=100&max_price=5000000"
  "/api/search?q=$WORD" "/api/search?q=$WORD&store=$STORE&sort=-price" "/api/search?store=$STORE" "/api/search?category=$CAT&min_price=1000"
  "/api/price-comparison?product_id=$PRODUCT" "/api/price-comparison?q=$WORD"
  "/api/ranked-offers?limit=10" "/api/ranked-offers?category=$CAT&limit=10" "/api/ranked-offers?store=$STORE&sort=price" "/api/ranked-offers?brand=$BRAND&sort=rating"
  "/api/trending-offers?days=7" "/api/trending-offers?days=90&category=$CAT"
  "/api/reports/store-comparison" "/api/reports/price-analysis/$CAT" "/api/reports/price-analysis/$TOP"
  "/api/brands?limit=50" "/api/categories" "/api/stores" "/api/offers/$OFFER" "/api/offers/$OFFER/history"
  "/api/archivos" "/api/forensic/list" "/api/forensic/scores" "/health"
)
printf '| endpoint | median ms | status |\n|---|---|---|\n'
for p in "${PATHS[@]}"; do
  code=$(curl -s -o /dev/null -w '%{http_code}' "$BASE$p")
  for _ in $(seq "$RUNS"); do curl -s -o /dev/null -w '%{time_total}\n' "$BASE$p"; done | sort -n |
    awk -v p="$p" -v c="$code" '{a[NR]=$1} END {printf "| `%s` | %.1f | %s |\n", p, a[int((NR+1)/2)]*1000, c}'
done
