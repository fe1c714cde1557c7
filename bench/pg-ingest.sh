#!/usr/bin/env bash
# PostgreSQL ingest against COPY (issue #20, points 1 and 5), for both catalog shapes:
#   1. Preciso's fresh ingest of the file into an empty database (wall, rate, the client's CPU,
#      the whole host's busy CPU — the server's share is the difference);
#   2. reference: `\copy` of the same normalized offer rows (exported from step 1) into
#      Preciso's own `offers` table with every index of a served catalog (the foreign keys
#      off: the rows alone have no parents);
#   3. reference: `\copy` of the same rows into a one-table schema (the offers' columns, a
#      primary key and nothing else), the floor of what any loader can do.
# Shapes as in bench/scale.sh: `unique` (one product per offer), `grouped` (the generator's
# ~4 offers per product).
# Usage: bench/pg-ingest.sh [SIZES...]   (default 1000000). SHAPES="unique grouped".
#        PG=postgres://postgres@127.0.0.1:5432 (a server where databases can be created).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=("${@:-1000000}")
read -r -a SIZES <<< "${SIZES[*]}"
PG=${PG:-postgres://postgres@127.0.0.1:5432}
OUT=bench/out/scale
mkdir -p "$OUT"
command -v psql >/dev/null || { echo "psql missing" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "GNU time missing: apt-get install -y time" >&2; exit 1; }
cargo build --release -q -p preciso
BIN=target/release/preciso
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); commit $(git rev-parse --short HEAD); $(psql -Atq "$PG/postgres" -c 'SELECT version()' | cut -d, -f1)"

COLS="id, store_id, sku, url, product_id, title, brand, brand_key, category, category_key, gtin,
  image_url, price_minor, list_price_minor, currency, prev_price_minor, price_changed_at,
  availability, rating_centi, review_count, first_seen, last_seen, content_hash, last_file_id"
COLS=$(echo $COLS)

fresh_db() {  # name
  psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1" 2>/dev/null
}
busy() { awk '/^cpu /{print $2+$3+$4+$6+$7+$8}' /proc/stat; }
since() { python3 -c "print(round($(date +%s.%N) - $1, 2))"; }

for shape in ${SHAPES:-unique grouped}; do
  for n in "${SIZES[@]}"; do
    flag=""; [ "$shape" = unique ] && flag="--unique-products"
    file="$OUT/$shape-$n.jsonl"
    [ -f "$file" ] || $BIN gen --offers "$n" --stores 12 --seed 7 $flag --out "$file" >/dev/null 2>&1

    fresh_db preciso_pg_ingest
    rm -rf "$OUT/pg-data"
    b0=$(busy)
    /usr/bin/time -f "%e %U %S" -o "$OUT/time.txt" \
      $BIN --database-url "$PG/preciso_pg_ingest" --data-dir "$OUT/pg-data" ingest --json "$file" > "$OUT/last.json"
    b1=$(busy)
    read -r wall user sys < "$OUT/time.txt"
    echo "$shape $n preciso fresh: $wall s = $(python3 -c "print(f'{$n/$wall:,.0f}')") records/s; client CPU $(python3 -c "print(round($user+$sys,1))") s; host busy CPU $(( (b1 - b0) / 100 )) s"

    psql -q "$PG/preciso_pg_ingest" -c "\copy (SELECT $COLS FROM offers) TO '$OUT/offers-pg.csv' CSV"
    rows=$(wc -l < "$OUT/offers-pg.csv")

    fresh_db preciso_pg_ref
    rm -rf "$OUT/pg-ref"
    # Twice: the second opening builds the indexes on expressions a served catalog has.
    $BIN --database-url "$PG/preciso_pg_ref" --data-dir "$OUT/pg-ref" migrate >/dev/null
    $BIN --database-url "$PG/preciso_pg_ref" --data-dir "$OUT/pg-ref" migrate >/dev/null
    psql -q "$PG/preciso_pg_ref" -c "ALTER TABLE offers DROP CONSTRAINT offers_store_id_fkey, DROP CONSTRAINT offers_product_id_fkey"
    start=$(date +%s.%N)
    psql -q "$PG/preciso_pg_ref" -c "\copy offers ($COLS) FROM '$OUT/offers-pg.csv' CSV"
    copy=$(since "$start")
    echo "$shape $n COPY into Preciso's offers (all $(psql -Atq "$PG/preciso_pg_ref" -c "SELECT count(*) FROM pg_indexes WHERE tablename = 'offers'") indexes): $rows rows in $copy s = $(python3 -c "print(f'{$rows/$copy:,.0f}')") rows/s; Preciso = $(python3 -c "print(f'{$copy/$wall:.2f}')")× COPY"

    fresh_db preciso_pg_one
    psql -q "$PG/preciso_pg_one" -c "CREATE TABLE offers (id BIGINT PRIMARY KEY, store_id TEXT, sku TEXT, url TEXT,
      product_id BIGINT, title TEXT, brand TEXT, brand_key TEXT, category TEXT, category_key TEXT, gtin TEXT,
      image_url TEXT, price_minor BIGINT, list_price_minor BIGINT, currency TEXT, prev_price_minor BIGINT,
      price_changed_at BIGINT, availability TEXT, rating_centi BIGINT, review_count BIGINT, first_seen BIGINT,
      last_seen BIGINT, content_hash BYTEA, last_file_id BIGINT)"
    start=$(date +%s.%N)
    psql -q "$PG/preciso_pg_one" -c "\copy offers ($COLS) FROM '$OUT/offers-pg.csv' CSV"
    one=$(since "$start")
    echo "$shape $n COPY into a one-table schema: $rows rows in $one s = $(python3 -c "print(f'{$rows/$one:,.0f}')") rows/s"
    rm -f "$OUT/offers-pg.csv"
    psql -q "$PG/postgres" -c "DROP DATABASE preciso_pg_ref WITH (FORCE)" -c "DROP DATABASE preciso_pg_one WITH (FORCE)" -c "DROP DATABASE preciso_pg_ingest WITH (FORCE)"
  done
done
