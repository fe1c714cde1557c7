#!/usr/bin/env bash
# Forensic analysis end to end (issue #18): `preciso analyze` over a catalog of OFFERS
# generated offers with DAYS daily scrapes (run N is the catalog N days later, ~5% of prices
# changed), on the generator's shape (~10 offers per product) and with one product per offer
# (`gen --unique-products`). Wall time and peak anonymous memory (RssAnon, sampled
# every 50 ms: SQLite's mapped database pages are page cache, not the process's own).
# Each day's file is generated, ingested and deleted, so disk holds one day at a time.
# Usage: bench/quality.sh [OFFERS] [DAYS] [SHAPES]     (1000000 30 "grouped single")
#        PRECISO_BENCH_PG_URL=postgres://… also builds and analyses a PostgreSQL catalog of the
#        first shape (database preciso_quality_<shape>).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
DAYS=${2:-30}
SHAPES=${3:-grouped single}
OUT=bench/out/quality
mkdir -p "$OUT"
cargo build --release -q -p preciso
BIN=$PWD/target/release/preciso
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); offers: $N; days: $DAYS; commit $(git rev-parse --short HEAD)"

# peak RssAnon (kB) of a command, and its wall time
measure() {  # label cmd...
  local label=$1; shift
  local start end peak=0
  start=$(date +%s.%N)
  "$@" &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    local kb
    kb=$(awk '/RssAnon/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    [ -n "$kb" ] && [ "$kb" -gt "$peak" ] && peak=$kb
    sleep 0.05
  done
  wait "$pid" || [ $? -le 4 ]  # 3 and 4 are the report's warn and fail
  end=$(date +%s.%N)
  printf '%-40s %6.2f s  %5d MB RssAnon\n' "$label" "$(echo "$end - $start" | bc)" "$((peak / 1024))"
}

build() {  # shape url
  local shape=$1 url=$2 dir=$OUT/data-$1
  local marker=$dir/.built-$(echo "$url" | md5sum | cut -c1-8)
  [ -f "$marker" ] && return
  mkdir -p "$dir"
  for day in $(seq 0 $((DAYS - 1))); do
    local f=$OUT/day.jsonl
    local unique=()
    [ "$shape" = single ] && unique=(--unique-products)
    "$BIN" gen --offers "$N" --stores 20 --seed 1 --run "$day" "${unique[@]}" --out "$f" >/dev/null
    "$BIN" --data-dir "$dir" --database-url "$url" ingest "$f" >/dev/null
    rm -f "$f"
  done
  touch "$marker"
}

first=${SHAPES%% *}
for shape in $SHAPES; do
  url="sqlite://$PWD/$OUT/data-$shape/preciso.sqlite"
  build "$shape" "$url"
  for i in 1 2; do
    measure "sqlite $shape, run $i" "$BIN" --data-dir "$OUT/data-$shape" --database-url "$url" \
      analyze --as-of "$(date -u +%F)" --output "$OUT/report-sqlite-$shape.json"
  done
done

if [ -n "${PRECISO_BENCH_PG_URL:-}" ]; then
  db=preciso_quality_$first
  url="${PRECISO_BENCH_PG_URL%/*}/$db"
  if [ ! -f "$OUT/data-$first/.built-pg" ]; then
    psql -q "$PRECISO_BENCH_PG_URL" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
    build "$first" "$url"
    touch "$OUT/data-$first/.built-pg"
  fi
  for i in 1 2; do
    measure "postgres $first, run $i" "$BIN" --data-dir "$OUT/data-$first" --database-url "$url" \
      analyze --as-of "$(date -u +%F)" --output "$OUT/report-pg-$first.json"
  done
  cmp "$OUT/report-sqlite-$first.json" "$OUT/report-pg-$first.json" && echo "reports byte-identical"
fi
