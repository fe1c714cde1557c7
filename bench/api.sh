#!/usr/bin/env bash
# API benchmark (issue #3): a catalog of OFFERS generated offers in SQLite, `preciso serve`
# with the response cache off and then on, driven by wrk over loopback for DURATION seconds per
# endpoint. Reports requests/s and latency percentiles (from wrk), and server RSS idle and
# after load. With PRECISO_BENCH_PG_URL set (e.g. postgres://postgres@127.0.0.1:5432/test) the
# same catalog is built in the PostgreSQL database `preciso_bench_api` of that server, and served
# from there.
# Usage: bench/api.sh [OFFERS] [DURATION]   (defaults 1000000 and 30). Needs wrk (apt-get install wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
DUR=${2:-30}
OUT=bench/out/api
mkdir -p "$OUT"
command -v wrk >/dev/null || { echo "wrk missing: apt-get install -y wrk" >&2; exit 1; }
cargo build --release -q -p preciso
BIN=$PWD/target/release/preciso
DATA=$OUT/data-$N
DB_LINE=""
build() {  # extra args for preciso (where the catalog goes)
  $BIN gen --offers "$N" --stores 20 --seed 1 --run 0 --out "$OUT/run0.jsonl"
  $BIN gen --offers "$N" --stores 20 --seed 1 --run 1 --out "$OUT/run1.jsonl"
  $BIN "$@" ingest --json "$OUT/run0.jsonl" "$OUT/run1.jsonl" > /dev/null
  rm -f "$OUT/run0.jsonl" "$OUT/run1.jsonl"
}
if [ -n "${PRECISO_BENCH_PG_URL:-}" ]; then
  PGURL=${PRECISO_BENCH_PG_URL%/*}/preciso_bench_api
  DATA=$OUT/data-pg-$N
  DB_LINE="database_url = \"$PGURL\""
  if [ ! -f "$DATA/.built" ]; then
    psql -q "$PRECISO_BENCH_PG_URL" -c "DROP DATABASE IF EXISTS preciso_bench_api WITH (FORCE)" -c "CREATE DATABASE preciso_bench_api"
    rm -rf "$DATA"
    build --database-url "$PGURL" --data-dir "$DATA"
    touch "$DATA/.built"
  fi
  echo "backend: PostgreSQL ($(psql -At "$PRECISO_BENCH_PG_URL" -c 'show server_version'))"
else
  [ -f "$DATA/preciso.sqlite" ] || build --data-dir "$DATA"
  echo "backend: SQLite"
fi
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); offers: $N; ${DUR}s per endpoint; wrk -t2 -c16"

serve() {  # cache_ttl_secs
  cat > "$OUT/bench.toml" <<TOML
data_dir = "$DATA"
$DB_LINE
[http]
listen = "127.0.0.1:18080"
rate_limit_per_minute = 0
cache_ttl_secs = $1
TOML
  PRECISO_LOG=warn $BIN --config "$OUT/bench.toml" serve > "$OUT/serve.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 100); do curl -sf http://127.0.0.1:18080/health >/dev/null && break; sleep 0.05; done
}
stop() { kill -TERM "$SERVER"; wait "$SERVER" || true; }
# VmRSS counts the memory-mapped database pages the OS page cache holds (RssFile); RssAnon is
# the server's own memory.
rss() { awk '/VmRSS|RssAnon|RssFile/ {printf "%s %.0f MB  ", $1, $2/1024}' /proc/"$SERVER"/status; }

BASE=http://127.0.0.1:18080
serve 0
CAT=$(curl -s $BASE/api/categories | python3 -c 'import json,sys; c=json.load(sys.stdin)["items"]; print(max(c,key=lambda x:x["offers"])["key"])')
PID=$(curl -s "$BASE/api/best-prices/$CAT?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["product_id"])')
echo "largest category: $CAT; product: $PID; server RSS idle: $(rss)"
ENDPOINTS=(
  "best-prices|/api/best-prices/$CAT"
  "price-comparison|/api/price-comparison?product_id=$PID"
  "ranked-offers (category)|/api/ranked-offers?category=$CAT"
  "price-analysis|/api/reports/price-analysis/$CAT"
)
run() {  # label
  for e in "${ENDPOINTS[@]}"; do
    name=${e%%|*}; path=${e#*|}
    wrk -t2 -c16 -d"${DUR}s" --latency "$BASE$path" > "$OUT/wrk.txt"
    rps=$(awk '/Requests\/sec/ {print $2}' "$OUT/wrk.txt")
    p50=$(awk '$1=="50%" {print $2}' "$OUT/wrk.txt"); p99=$(awk '$1=="99%" {print $2}' "$OUT/wrk.txt")
    errs=$(grep -E 'Non-2xx|Socket errors' "$OUT/wrk.txt" | tr '\n' ' ' || true)
    printf '%-6s %-26s %10s req/s  p50 %-9s p99 %-9s %s\n' "$1" "$name" "$rps" "$p50" "$p99" "$errs"
  done
  echo "server RSS after load ($1): $(rss)"
}
# One request each, timed by curl, for the single-request latency of the heaviest endpoint.
for _ in 1 2 3; do curl -s -o /dev/null -w "price-analysis single request: %{time_total}s\n" "$BASE/api/reports/price-analysis/$CAT"; done
run uncached
stop
serve 300
run cached
stop
