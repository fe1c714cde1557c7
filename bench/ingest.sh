#!/usr/bin/env bash
# Ingest benchmark (issue #2): 1,000,000 generated offers as JSONL.
#   1. read + normalize + hash throughput alone (no database)
#   2. end-to-end ingest into a fresh SQLite file (rate, peak RSS)
#   3. re-ingest of the next day's scrape (~5% price changes)
#   4. re-ingest of that same data again (--force): the unchanged path
#   5. physical reference: sqlite3 CLI `.import` of the same rows, pre-normalized, as CSV into
#      the same `offers` table (same schema and indexes)
# Usage: bench/ingest.sh [OFFERS]   (default 1000000). Needs sqlite3 and GNU time.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
OUT=bench/out
mkdir -p "$OUT"
rm -rf "$OUT/data" "$OUT/ref.sqlite"
command -v sqlite3 >/dev/null || { echo "sqlite3 CLI missing: apt-get install -y sqlite3" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "GNU time missing: apt-get install -y time" >&2; exit 1; }

cargo build --release -q -p preciso
cargo build --release -q -p preciso-ingest --bench normalize 2>/dev/null || true
BIN=target/release/preciso

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "offers: $N"
[ -f "$OUT/run0-$N.jsonl" ] || $BIN gen --offers "$N" --stores 20 --seed 1 --run 0 --out "$OUT/run0-$N.jsonl"
[ -f "$OUT/run1-$N.jsonl" ] || $BIN gen --offers "$N" --stores 20 --seed 1 --run 1 --out "$OUT/run1-$N.jsonl"
ls -la "$OUT"/run*-"$N".jsonl

echo "== 1. read + normalize + hash (no database)"
cargo bench -q -p preciso-ingest --bench normalize -- "$PWD/$OUT/run0-$N.jsonl"

ingest() {  # label, args...
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$OUT/time.txt" $BIN --data-dir "$OUT/data" ingest --json "$@" > "$OUT/report.json"
  read -r secs rss_kb < "$OUT/time.txt"
  python3 - "$label" "$secs" "$rss_kb" "$OUT/report.json" <<'PY'
import json, sys
label, secs, rss, path = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
t = json.load(open(path))["total"]
c = t["counts"]
print(f"{label}: {c['read']} records in {secs:.2f} s wall = {c['read']/secs:,.0f} records/s "
      f"(pipeline {t['records_per_sec']:,.0f}/s); peak RSS {rss/1024:.0f} MB; "
      f"inserted {c['inserted']} updated {c['updated']} unchanged {c['unchanged']} "
      f"duplicate {c['duplicate']} rejected {c['rejected']}")
PY
}
echo "== 2. fresh ingest"
ingest "fresh" "$OUT/run0-$N.jsonl"
echo "== 3. next day's scrape (~5% price changes)"
ingest "5%-changed" "$OUT/run1-$N.jsonl"
echo "== 4. same data again (--force): unchanged path"
ingest "unchanged" --force "$OUT/run1-$N.jsonl"

echo "== 5. physical reference: sqlite3 .import of the same rows, pre-normalized"
DB="$OUT/data/preciso.sqlite"
sqlite3 "$DB" -csv "SELECT id, store_id, sku, url, product_id, title, brand, brand_key, category,
  category_key, gtin, image_url, price_minor, list_price_minor, currency, prev_price_minor,
  price_changed_at, availability, rating_centi, review_count, first_seen, last_seen,
  hex(content_hash), last_file_id FROM offers" > "$OUT/offers.csv"
ROWS=$(wc -l < "$OUT/offers.csv")
# Same schema, table and indexes (the CLI leaves foreign keys off, so the rows need no
# parents).
rm -rf "$OUT/refdata"
$BIN --data-dir "$OUT/refdata" migrate >/dev/null
mv "$OUT/refdata/preciso.sqlite" "$OUT/ref.sqlite"
rm -rf "$OUT/refdata"
start=$(date +%s.%N)
sqlite3 "$OUT/ref.sqlite" <<SQL
PRAGMA synchronous=NORMAL;
.mode csv
.import $OUT/offers.csv offers
SQL
end=$(date +%s.%N)
python3 -c "s=$end-$start; print(f'sqlite3 .import: {$ROWS} rows in {s:.2f} s = {$ROWS/s:,.0f} rows/s')"

# ---- PostgreSQL (when PRECISO_BENCH_PG_URL is set, e.g. postgres://postgres@127.0.0.1:5432/test)
if [ -n "${PRECISO_BENCH_PG_URL:-}" ]; then
  command -v psql >/dev/null || { echo "psql missing" >&2; exit 1; }
  ADMIN=$PRECISO_BENCH_PG_URL
  BASE=${ADMIN%/*}
  psql -q "$ADMIN" -c "DROP DATABASE IF EXISTS preciso_bench WITH (FORCE)" -c "CREATE DATABASE preciso_bench"
  PGURL=$BASE/preciso_bench
  echo "== 6. PostgreSQL: fresh ingest"
  ingest_pg() {
    local label=$1; shift
    /usr/bin/time -f "%e %M" -o "$OUT/time.txt" $BIN --database-url "$PGURL" --data-dir "$OUT/data-pg" ingest --json "$@" > "$OUT/report.json"
    read -r secs rss_kb < "$OUT/time.txt"
    python3 - "$label" "$secs" "$rss_kb" "$OUT/report.json" <<'PY'
import json, sys
label, secs, rss, path = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
c = json.load(open(path))["total"]["counts"]
print(f"{label}: {c['read']} records in {secs:.2f} s = {c['read']/secs:,.0f} records/s; peak RSS {rss/1024:.0f} MB; "
      f"inserted {c['inserted']} updated {c['updated']} unchanged {c['unchanged']}")
PY
  }
  ingest_pg "pg fresh" "$OUT/run0-$N.jsonl"
  ingest_pg "pg 5%-changed" "$OUT/run1-$N.jsonl"
  echo "== 7. physical reference: COPY of the same pre-normalized rows into the same table"
  psql -q "$ADMIN" -c "DROP DATABASE IF EXISTS preciso_bench_ref WITH (FORCE)" -c "CREATE DATABASE preciso_bench_ref"
  # The same schema and indexes, without the foreign keys the rows alone cannot satisfy.
  $BIN --database-url "$BASE/preciso_bench_ref" --data-dir "$OUT/data-pg-ref" migrate >/dev/null
  psql -q "$BASE/preciso_bench_ref" -c "ALTER TABLE offers DROP CONSTRAINT offers_store_id_fkey, DROP CONSTRAINT offers_product_id_fkey"
  psql -q "$PGURL" -c "\copy (SELECT id, store_id, sku, url, product_id, title, brand, brand_key, category, category_key, gtin, image_url, price_minor, list_price_minor, currency, prev_price_minor, price_changed_at, availability, rating_centi, review_count, first_seen, last_seen, content_hash, last_file_id FROM offers) TO '$OUT/offers-pg.csv' CSV"
  ROWS=$(wc -l < "$OUT/offers-pg.csv")
  start=$(date +%s.%N)
  psql -q "$BASE/preciso_bench_ref" -c "\copy offers (id, store_id, sku, url, product_id, title, brand, brand_key, category, category_key, gtin, image_url, price_minor, list_price_minor, currency, prev_price_minor, price_changed_at, availability, rating_centi, review_count, first_seen, last_seen, content_hash, last_file_id) FROM '$OUT/offers-pg.csv' CSV"
  end=$(date +%s.%N)
  python3 -c "s=$end-$start; print(f'COPY: {$ROWS} rows in {s:.2f} s = {$ROWS/s:,.0f} rows/s')"
fi
