#!/usr/bin/env bash
# Every GET endpoint of the API and several documented filter combinations, one request at a
# time with the response cache off: the median of RUNS single requests each (issue #20,
# point 6: < 50 ms at 1M offers, O(page)). Uses the catalog bench/ui.sh builds.
# Then, with MIXED_SECS set, a mixed load over all of them (wrk -t2 -c32, round robin, cache
# off): requests/s, latency percentiles and timeouts (the issue's last check of point 6).
# With DATABASE_URL set (a PostgreSQL catalog, e.g. one `preciso copy` filled from the SQLite
# one), the server reads that database instead.
# With UNDER_LOAD=1 as well, each path is requested alone once during the load and the 15
# slowest are listed (where the tail comes from).
# DB_CONCURRENCY=N sets `http.db_concurrency` (catalog reads at once; the backend's default otherwise).
# Usage: [MIXED_SECS=60 [UNDER_LOAD=1]] [DB_CONCURRENCY=N] [DATABASE_URL=postgres://…] [BIN=…] bench/endpoints.sh [OFFERS] [RUNS] [--unique]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
RUNS=${2:-5}
SHAPE=${3:-}
OUT=bench/out/ui
DATA=$OUT/data-$N${SHAPE:+-unique}
[ -f "$DATA/preciso.sqlite" ] || bash bench/ui.sh "$N" 1 $SHAPE > /dev/null
# BIN=/path/to/preciso compares another build (e.g. an earlier commit's) on the same catalog.
if [ -z "${BIN:-}" ]; then cargo build --release -q -p preciso; BIN=$PWD/target/release/preciso; fi
BACKEND=SQLite DB_LINE=""
if [ -n "${DATABASE_URL:-}" ]; then BACKEND=PostgreSQL DB_LINE="database_url = \"$DATABASE_URL\""; fi
cat > "$OUT/endpoints.toml" <<TOML
data_dir = "$DATA"
$DB_LINE
[http]
listen = "127.0.0.1:18082"
rate_limit_per_minute = 0
cache_ttl_secs = 0
${DB_CONCURRENCY:+db_concurrency = $DB_CONCURRENCY}
TOML
PRECISO_LOG=warn $BIN --config "$OUT/endpoints.toml" serve > "$OUT/endpoints.log" 2>&1 &
SERVER=$!
trap 'kill -TERM $SERVER ${WRK:-} 2>/dev/null || true' EXIT
BASE=http://127.0.0.1:18082
for _ in $(seq 200); do curl -sf $BASE/health >/dev/null && break; sleep 0.05; done
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); offers: $N${SHAPE:+ (one product per offer)}; $BACKEND; cache off; median of $RUNS"
CAT=$(curl -sf "$BASE/api/categories" | python3 -c 'import json,sys; print(max(json.load(sys.stdin)["items"], key=lambda c: c["offers"])["key"])')
TOP=${CAT%%/*}
ITEM=$(curl -sf "$BASE/api/best-prices/$CAT?limit=1" | python3 -c 'import json,sys; i=json.load(sys.stdin)["items"][0]; w=i["title"].split()[0]; print(i["id"], i["product_id"], w, w[:2], i["store"], i.get("brand") or "x")')
read -r OFFER PRODUCT WORD PREFIX STORE BRAND <<< "$ITEM"
PATHS=(
  "/api/best-prices/$CAT" "/api/best-prices/$TOP?page=50" "/api/best-prices/$CAT?store=$STORE" "/api/best-prices/$CAT?brand=$BRAND&min_price=100&max_price=5000000"
  "/api/best-prices/$TOP?min_price=100" "/api/best-prices/$TOP?store=$STORE&min_price=100" "/api/best-prices/$TOP?brand=$BRAND"
  "/api/search?q=$WORD" "/api/search?q=$WORD&store=$STORE&sort=-price" "/api/search?store=$STORE" "/api/search?category=$CAT&min_price=1000"
  "/api/search?category=$TOP&max_price=5000" "/api/search?brand=$BRAND" "/api/search?min_price=100&max_price=5000"
  "/api/price-comparison?product_id=$PRODUCT" "/api/price-comparison?q=$WORD"
  # The shortest prefix searched: a word's first two letters (a single letter is matched as a
  # whole word since the thirteenth session; as a prefix it matched a sixth of the products).
  "/api/search?q=$PREFIX" "/api/price-comparison?q=$PREFIX"
)
# Ranked offers: every sort bare, then each filter (and a deep page) with the default sort and
# with the price, rating and date sorts (date since the twelfth session).
for sort in value price -price rating date discount; do PATHS+=("/api/ranked-offers?sort=$sort&limit=10"); done
for f in "category=$CAT" "category=$TOP" "store=$STORE" "brand=$BRAND" "min_price=1000" "max_price=5000" "category=$TOP&min_price=100" "page=100"; do
  PATHS+=("/api/ranked-offers?$f" "/api/ranked-offers?$f&sort=price" "/api/ranked-offers?$f&sort=rating" "/api/ranked-offers?$f&sort=date")
done
PATHS+=(
  "/api/trending-offers?days=7" "/api/trending-offers?days=90" "/api/trending-offers?days=90&category=$CAT" "/api/trending-offers?days=90&category=$TOP"
  "/api/trending-offers?days=90&brand=$BRAND" "/api/trending-offers?days=90&store=$STORE" "/api/trending-offers?days=90&min_price=100&max_price=5000000"
  "/api/reports/store-comparison" "/api/reports/price-analysis/$CAT" "/api/reports/price-analysis/$TOP"
  "/api/brands?limit=50" "/api/brands?limit=1000" "/api/categories" "/api/stores" "/api/offers/$OFFER" "/api/offers/$OFFER/history"
  "/api/archivos" "/api/forensic/list" "/api/forensic/scores" "/health"
)
printf '| endpoint | median ms | status |\n|---|---|---|\n'
for p in "${PATHS[@]}"; do
  code=$(curl -s -o /dev/null -w '%{http_code}' "$BASE$p")
  for _ in $(seq "$RUNS"); do curl -s -o /dev/null -w '%{time_total}\n' "$BASE$p"; done | sort -n |
    awk -v p="$p" -v c="$code" '{a[NR]=$1} END {printf "| `%s` | %.1f | %s |\n", p, a[int((NR+1)/2)]*1000, c}'
done
if [ "${MIXED_SECS:-0}" != 0 ]; then
  command -v wrk >/dev/null || { echo "wrk missing: apt-get install -y wrk" >&2; exit 1; }
  {
    echo "local paths = {"
    for p in "${PATHS[@]}"; do printf '  "%s",\n' "$p"; done
    echo "}"
    echo "local i = 0"
    echo "request = function() i = i % #paths + 1; return wrk.format('GET', paths[i]) end"
  } > "$OUT/mixed.lua"
  echo
  echo "mixed load: ${#PATHS[@]} GET endpoints round robin, wrk -t2 -c32 -d${MIXED_SECS}s --timeout 2s, cache off"
  # CPU seconds (user + system, children included) of the server and of every PostgreSQL
  # process over the load: whose CPU the requests are waiting for.
  ticks() { local s=0 t; for p in "$@"; do t=$(awk '{print $14+$15+$16+$17}' "/proc/$p/stat" 2>/dev/null || echo 0); s=$((s + t)); done; echo "$s"; }
  pg_pids() { pgrep -x postgres || true; }
  server0=$(ticks $SERVER); pg0=$(ticks $(pg_pids))
  wrk -t2 -c32 -d"${MIXED_SECS}s" --timeout 2s --latency -s "$OUT/mixed.lua" "$BASE" > "$OUT/mixed.out" &
  WRK=$!
  # UNDER_LOAD=1: while the load runs, each path is also requested alone, in turn, and timed —
  # which paths make the tail (the ranked listings' own queue showed this way).
  # Paths the load outlasted are left out.
  if [ "${UNDER_LOAD:-0}" != 0 ]; then
    sleep 2
    for p in "${PATHS[@]}"; do
      kill -0 $WRK 2>/dev/null || break
      printf '%s %s\n' "$(curl -s -o /dev/null -w '%{time_total}' "$BASE$p")" "$p"
    done > "$OUT/under-load.txt"
  fi
  wait $WRK
  grep -E 'Requests/sec|Latency|50%|75%|90%|99%|Socket errors|requests in|Non-2xx' "$OUT/mixed.out"
  hz=$(getconf CLK_TCK)
  PG_CPU=""
  if [ -n "${DATABASE_URL:-}" ]; then
    PG_CPU="; PostgreSQL's processes $(( ($(ticks $(pg_pids)) - pg0) / hz )) s (backends that exited meanwhile not counted)"
  fi
  echo "CPU over the load: the server $(( ($(ticks $SERVER) - server0) / hz )) s$PG_CPU"
  if [ "${UNDER_LOAD:-0}" != 0 ]; then
    echo
    echo "the 15 slowest paths requested alone during the load (ms; $(wc -l < "$OUT/under-load.txt") of ${#PATHS[@]} timed before it ended):"
    sort -rn "$OUT/under-load.txt" | head -15 | awk '{printf "%8.1f  %s\n", $1 * 1000, $2}'
  fi
fi
