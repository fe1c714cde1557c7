#!/usr/bin/env bash
# API before/after (issue #16's "no regression"): the current binary against a reference
# binary built from an earlier commit (BASE_BIN), each on a catalog it ingested itself (a new
# binary's migrations change the schema), on two catalog shapes: the generator's (~10 offers per
# product) and one product per offer (bench/one-product-per-offer.py). Uncached, wrk -t2 -c16,
# DURATION seconds per endpoint, the two binaries alternating endpoint by endpoint so host
# drift hits both alike.
# Usage: BASE_BIN=/path/to/old/preciso bench/api-compare.sh [OFFERS] [DURATION]   (1000000, 10)
#        PRECISO_BENCH_PG_URL=postgres://… serves from PostgreSQL (scratch databases) instead.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
DUR=${2:-10}
OUT=bench/out/api-compare
SHAPES=bench/out/shapes
mkdir -p "$OUT" "$SHAPES"
command -v wrk >/dev/null || { echo "wrk missing: apt-get install -y wrk" >&2; exit 1; }
[ -n "${BASE_BIN:-}" ] || { echo "set BASE_BIN to the reference binary" >&2; exit 1; }
cargo build --release -q -p preciso
declare -A BINS=([current]=$PWD/target/release/preciso [reference]=$BASE_BIN)
BACKEND=sqlite
[ -n "${PRECISO_BENCH_PG_URL:-}" ] && BACKEND=pg
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); offers: $N; ${DUR}s per endpoint; wrk -t2 -c16; $BACKEND"
echo "current: $(git rev-parse --short HEAD); reference: $BASE_BIN"

for run in 0 1; do
  f="$SHAPES/grouped-$run-$N.jsonl"
  [ -f "$f" ] || ${BINS[current]} gen --offers "$N" --stores 20 --seed 1 --run "$run" --out "$f" >/dev/null
  [ -f "$SHAPES/single-$run-$N.jsonl" ] || python3 bench/one-product-per-offer.py "$f" "$SHAPES/single-$run-$N.jsonl"
done

url_of() {  # label
  if [ "$BACKEND" = sqlite ]; then echo "sqlite://$PWD/$OUT/data-$1/preciso.sqlite"; else echo "${PRECISO_BENCH_PG_URL%/*}/preciso_cmp_$1"; fi
}
build() {  # label bin shape
  local dir="$OUT/data-$1"
  [ -f "$dir/.built" ] && return
  rm -rf "$dir" && mkdir -p "$dir"
  [ "$BACKEND" = pg ] && psql -q "$PRECISO_BENCH_PG_URL" -c "DROP DATABASE IF EXISTS preciso_cmp_$1 WITH (FORCE)" -c "CREATE DATABASE preciso_cmp_$1"
  "$2" --data-dir "$dir" --database-url "$(url_of "$1")" ingest --json "$SHAPES/$3-0-$N.jsonl" "$SHAPES/$3-1-$N.jsonl" > /dev/null
  touch "$dir/.built"
}
PORT=18090
serve() {  # label bin
  cat > "$OUT/$1.toml" <<TOML
data_dir = "$PWD/$OUT/data-$1"
database_url = "$(url_of "$1")"
[http]
listen = "127.0.0.1:$PORT"
rate_limit_per_minute = 0
cache_ttl_secs = 0
[scheduler]
enabled = false
TOML
  PRECISO_LOG=warn "$2" --config "$OUT/$1.toml" serve > "$OUT/serve-$1.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 200); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.05; done
}
stop() { kill -TERM "$SERVER"; wait "$SERVER" || true; }
bench() {  # label path
  wrk -t2 -c16 -d"${DUR}s" --latency "http://127.0.0.1:$PORT$2" > "$OUT/wrk.txt"
  local rps p99 errs
  rps=$(awk '/Requests\/sec/ {print $2}' "$OUT/wrk.txt"); p99=$(awk '$1=="99%" {print $2}' "$OUT/wrk.txt")
  errs=$(grep -E 'Non-2xx|Socket errors' "$OUT/wrk.txt" | tr '\n' ' ' || true)
  printf '%-10s %10s req/s  p99 %-9s %s\n' "$1" "$rps" "$p99" "$errs"
}

for shape in grouped single; do
  for label in current reference; do build "${shape}_$label" "${BINS[$label]}" "$shape"; done
  # The request paths, from the current binary's catalog (ids are content-derived: the same in both).
  serve "${shape}_current" "${BINS[current]}"
  B=http://127.0.0.1:$PORT
  CAT=$(curl -s $B/api/categories | python3 -c 'import json,sys; c=json.load(sys.stdin)["items"]; print(max(c,key=lambda x:x["offers"])["key"])')
  PID=$(curl -s "$B/api/best-prices/$CAT?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["product_id"])')
  WORD=$(curl -s "$B/api/best-prices/$CAT?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["title"].split()[0].lower())')
  stop
  echo "== shape $shape: largest category $CAT, product $PID, search word $WORD"
  for e in "best-prices|/api/best-prices/$CAT" "price-comparison id|/api/price-comparison?product_id=$PID" \
           "price-comparison q|/api/price-comparison?q=$WORD" "ranked-offers|/api/ranked-offers?category=$CAT" \
           "trending-offers|/api/trending-offers?days=7" "trending-offers 90 days|/api/trending-offers?days=90" \
           "price-analysis|/api/reports/price-analysis/$CAT" \
           "store-comparison|/api/reports/store-comparison"; do
    echo "-- ${e%%|*}"
    for label in current reference; do
      serve "${shape}_$label" "${BINS[$label]}"
      curl -s -o /dev/null "http://127.0.0.1:$PORT${e#*|}"   # warm
      bench "$label" "${e#*|}"
      stop
    done
  done
done
