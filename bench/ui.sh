#!/usr/bin/env bash
# Web UI benchmark (issue #19): server time of each page with the response cache off, over a
# catalog of OFFERS generated offers (20 stores, two daily scrapes) in SQLite, after one quality
# analysis. Each page is fetched once to warm the page cache, then RUNS times; the table gives
# the median and the slowest (curl's time to the last byte over loopback, which is the server's
# time plus well under a millisecond). The same run times the API endpoints the pages read and
# a reference that does not depend on Preciso's code: sqlite3 counting the offers per category
# with a full scan (scale figures from other hosts by its ratio).
# Usage: bench/ui.sh [OFFERS] [RUNS] [--unique]   (defaults 1000000 and 7; --unique: every
# offer its own product, the marketplace shape of issue #20)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
RUNS=${2:-7}
SHAPE=${3:-}
OUT=bench/out/ui
mkdir -p "$OUT"
cargo build --release -q -p preciso
BIN=$PWD/target/release/preciso
DATA=$OUT/data-$N${SHAPE:+-unique}
GEN_FLAGS=${SHAPE:+--unique-products}
if [ ! -f "$DATA/preciso.sqlite" ]; then
  for run in 0 1; do
    $BIN gen --offers "$N" --stores 20 --seed 1 --run "$run" $GEN_FLAGS --out "$OUT/run$run.jsonl"
  done
  $BIN --data-dir "$DATA" ingest "$OUT/run0.jsonl" "$OUT/run1.jsonl" > /dev/null
  rm -f "$OUT/run0.jsonl" "$OUT/run1.jsonl"
fi
DB=$DATA/preciso.sqlite
cat > "$OUT/bench.toml" <<TOML
data_dir = "$DATA"
[http]
listen = "127.0.0.1:18081"
rate_limit_per_minute = 0
cache_ttl_secs = 0
TOML
KEY="bench-ui-admin-key-$(date +%s%N)"
PRECISO_ADMIN_KEY=$KEY PRECISO_LOG=warn $BIN --config "$OUT/bench.toml" serve > "$OUT/serve.log" 2>&1 &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null || true' EXIT
BASE=http://127.0.0.1:18081
for _ in $(seq 200); do curl -sf $BASE/health >/dev/null && break; sleep 0.05; done
if ! curl -sf "$BASE/api/forensic/list?status=succeeded" | grep -q job_id; then
  curl -sf -X POST -H "x-api-key: $KEY" -H 'content-type: application/json' -d '{}' "$BASE/api/forensic/analyze" > /dev/null
  for _ in $(seq 600); do curl -sf "$BASE/api/forensic/list?status=succeeded" | grep -q job_id && break; sleep 0.2; done
fi
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); offers: $N${SHAPE:+ (one product per offer)}; SQLite; response cache off; $RUNS runs per page"
ref() { local t0 t1; t0=$(date +%s%N); sqlite3 "$DB" "SELECT category_key, count(*) FROM offers GROUP BY 1" > /dev/null; t1=$(date +%s%N); echo $(( (t1 - t0) / 1000000 )); }
echo "reference: sqlite3 full-scan GROUP BY category_key: $(ref) ms, $(ref) ms"
KEYCAT=$(curl -sf "$BASE/api/categories" | python3 -c 'import json,sys; print(max(json.load(sys.stdin)["items"], key=lambda c: c["offers"])["key"])')
TOP=${KEYCAT%%/*}
WORD=$(curl -sf "$BASE/api/best-prices/$KEYCAT?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["title"].split()[0])')
PRODUCT=$(curl -sf "$BASE/api/price-comparison?q=$WORD" | python3 -c 'import json,sys; print(json.load(sys.stdin)["product"]["id"])')
STORE=$(curl -sf "$BASE/api/stores" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
PAGES=(
  "/" "/search" "/search?q=$WORD" "/search?q=$WORD&store=$STORE&min_price=1000" "/search?category=$KEYCAT&page=3"
  "/search?store=$STORE" "/products/$PRODUCT" "/categories/$KEYCAT" "/categories/$TOP" "/stores" "/quality" "/ops" "/login"
  "/api/categories" "/api/stores" "/api/reports/store-comparison" "/api/search?q=$WORD"
)
printf '| page | median ms | max ms | status |\n|---|---|---|---|\n'
for p in "${PAGES[@]}"; do
  code=$(curl -s -o /dev/null -w '%{http_code}' "$BASE$p")
  times=()
  for _ in $(seq "$RUNS"); do times+=("$(curl -s -o /dev/null -w '%{time_total}' "$BASE$p")"); done
  printf '%s\n' "${times[@]}" | sort -n | awk -v p="$p" -v c="$code" '{a[NR]=$1} END {printf "| `%s` | %.1f | %.1f | %s |\n", p, a[int((NR+1)/2)]*1000, a[NR]*1000, c}'
done
awk '/VmRSS|RssAnon/ {printf "%s %.0f MB  ", $1, $2/1024}' /proc/"$SERVER"/status; echo
