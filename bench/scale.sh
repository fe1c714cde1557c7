#!/usr/bin/env bash
# Ingest at growing sizes and two catalog shapes (issue #20, points 1–4), on SQLite:
#   for each size: a fresh ingest (wall time, rate, peak RssAnon sampled every 0.2 s, bytes per
#   offer), then the same file again with --force (the unchanged path); beside each fresh
#   ingest, in the same run, the Python uploader of bench/python-uploader.py on the same file.
# Shapes: `grouped` is the generator's catalog (~4 offers per product); `unique` gives every
# offer its own product (`gen --unique-products`: no GTIN, the SKU in the title), as
# marketplaces without GTINs do.
# Usage: bench/scale.sh [SIZES...]   (default: 1000000 3000000)
#        SHAPES="unique grouped" chooses the shapes; PYTHON=0 skips the uploader.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=("${@:-1000000 3000000}")
read -r -a SIZES <<< "${SIZES[*]}"
OUT=bench/out/scale
mkdir -p "$OUT"
cargo build --release -q -p preciso
BIN=target/release/preciso
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); commit $(git rev-parse --short HEAD)"

# run LABEL CMD...: wall seconds and peak anonymous memory of CMD (stdout to $OUT/last.json).
run() {
  local label=$1; shift
  local start end pid peak=0 a
  start=$(date +%s.%N)
  "$@" > "$OUT/last.json" 2> "$OUT/last.err" & pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    a=$(awk '/RssAnon/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    [ -n "$a" ] && [ "$a" -gt "$peak" ] && peak=$a
    sleep 0.2
  done
  wait "$pid"
  end=$(date +%s.%N)
  WALL=$(python3 -c "print(round($end - $start, 2))")
  PEAK_MB=$((peak / 1024))
}

for shape in ${SHAPES:-unique grouped}; do
  for n in "${SIZES[@]}"; do
    flag=""; [ "$shape" = unique ] && flag="--unique-products"
    file="$OUT/$shape-$n.jsonl"
    [ -f "$file" ] || $BIN gen --offers "$n" --stores 12 --seed 7 $flag --out "$file" >/dev/null 2>&1
    dir="$OUT/data-$shape-$n"
    rm -rf "$dir"
    run fresh $BIN --data-dir "$dir" ingest --json "$file"
    read -r inserted < <(python3 -c "import json; print(json.load(open('$OUT/last.json'))['total']['counts']['inserted'])")
    bytes=$(du -cb "$dir"/preciso.sqlite* | tail -1 | cut -f1)
    echo "$shape $n fresh: ${WALL} s = $(python3 -c "print(f'{$n/$WALL:,.0f}')") records/s; peak RssAnon ${PEAK_MB} MB; $inserted offers; $((bytes / inserted)) bytes/offer"
    run unchanged $BIN --data-dir "$dir" ingest --json --force "$file"
    echo "$shape $n unchanged (--force): ${WALL} s = $(python3 -c "print(f'{$n/$WALL:,.0f}')") records/s; peak RssAnon ${PEAK_MB} MB"
    if [ "${PYTHON:-1}" != 0 ]; then
      rm -f "$OUT/python.sqlite"*
      run python python3 bench/python-uploader.py "$file" "$OUT/python.sqlite"
      echo "$shape $n python uploader: ${WALL} s = $(python3 -c "print(f'{$n/$WALL:,.0f}')") records/s; peak RssAnon ${PEAK_MB} MB"
      rm -f "$OUT/python.sqlite"*
    fi
    if [ "$n" = "${SIZES[0]}" ]; then
      echo "$shape $n largest tables and indexes (MB):"
      sqlite3 "$dir/preciso.sqlite" "SELECT name, sum(pgsize) / 1048576 FROM dbstat GROUP BY name ORDER BY 2 DESC LIMIT 12" | tr '\n' ' '
      echo
    fi
    rm -rf "$dir"
  done
done
