#!/usr/bin/env bash
# What the read-side indexes cost at ingest (issue #16, point 7): the product text-search index
# (FTS5 on SQLite, a GIN expression index on PostgreSQL) grows with *products*, and the stored
# trending drops with *changed offers*. The generator's catalog groups ~10 offers per product;
# scrapes without GTINs and with store-specific titles give one product per offer, the worst
# case for the search index. Each shape is ingested fresh, then the next day's scrape, by the
# current binary and by a reference binary built from an earlier commit (BASE_BIN), run by run
# interleaved so host drift hits both alike.
# Usage: BASE_BIN=/path/to/old/preciso bench/catalog-shapes.sh [OFFERS]   (default 1000000)
#        PRECISO_BENCH_PG_URL=postgres://… adds PostgreSQL (a scratch database per run);
#        BACKENDS="sqlite pg" and SHAPES="grouped single" choose what runs.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
OUT=bench/out/shapes
mkdir -p "$OUT"
[ -x /usr/bin/time ] || { echo "GNU time missing: apt-get install -y time" >&2; exit 1; }
cargo build --release -q -p preciso
BIN=target/release/preciso
BASE=${BASE_BIN:-}
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "offers: $N; current: $(git rev-parse --short HEAD); reference: ${BASE:-none}"

for run in 0 1; do
  f="$OUT/grouped-$run-$N.jsonl"
  [ -f "$f" ] || $BIN gen --offers "$N" --stores 20 --seed 1 --run "$run" --out "$f" >/dev/null
  g="$OUT/single-$run-$N.jsonl"
  # One product per offer: no GTIN, the title made store-specific by the offer's SKU.
  [ -f "$g" ] || python3 bench/one-product-per-offer.py "$f" "$g"
done

pg_db() {  # a fresh scratch database URL on PRECISO_BENCH_PG_URL's server
  local name="preciso_shapes_$1"
  psql -q "$PRECISO_BENCH_PG_URL" -c "DROP DATABASE IF EXISTS $name" -c "CREATE DATABASE $name"
  echo "${PRECISO_BENCH_PG_URL%/*}/$name"
}

one() {  # label binary backend shape
  local label=$1 bin=$2 backend=$3 shape=$4 dir="$OUT/data-$1" url
  rm -rf "$dir" && mkdir -p "$dir"
  if [ "$backend" = sqlite ]; then url="sqlite://$dir/preciso.sqlite"; else url=$(pg_db "$label"); fi
  for run in 0 1; do
    /usr/bin/time -f "%e %M" -o "$dir/time" "$bin" --data-dir "$dir" --database-url "$url" \
      ingest --json "$OUT/$shape-$run-$N.jsonl" > "$dir/report.json"
    read -r secs rss < "$dir/time"
    python3 - "$label" "$run" "$secs" "$rss" "$dir/report.json" <<'PY'
import json, sys
label, run, secs, rss, path = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
c = json.load(open(path))["total"]["counts"]
day = "fresh" if run == "0" else "next day"
print(f"{label:<28} {day:<9} {secs:7.2f} s  {c['read']/secs:>9,.0f} rec/s  RSS {rss/1024:4.0f} MB  "
      f"ins {c['inserted']} upd {c['updated']} unch {c['unchanged']}")
PY
  done
  if [ "$backend" = sqlite ]; then
    echo "$label products: $(sqlite3 "$dir/preciso.sqlite" 'SELECT count(*) FROM products'), file $(du -m "$dir/preciso.sqlite" | cut -f1) MB"
  else
    psql -qtA "$url" -c "SELECT 'products: ' || count(*) || ', database ' || pg_database_size(current_database()) / 1048576 || ' MB' FROM products" | sed "s/^/$label /"
    psql -q "$PRECISO_BENCH_PG_URL" -c "DROP DATABASE IF EXISTS preciso_shapes_$label"
  fi
  rm -rf "$dir"
}

backends=(sqlite)
[ -n "${PRECISO_BENCH_PG_URL:-}" ] && backends+=(pg)
[ -n "${BACKENDS:-}" ] && read -r -a backends <<< "$BACKENDS"   # e.g. BACKENDS=pg
for backend in "${backends[@]}"; do
  for shape in ${SHAPES:-grouped single}; do
    one "${backend}_${shape}_current" "$BIN" "$backend" "$shape"
    [ -n "$BASE" ] && one "${backend}_${shape}_reference" "$BASE" "$backend" "$shape"
    one "${backend}_${shape}_current2" "$BIN" "$backend" "$shape"
  done
done
