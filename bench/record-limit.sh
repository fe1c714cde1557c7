#!/usr/bin/env bash
# A 40 MB record in each format (issue #16, point 10): it must be rejected while it is read,
# with peak RSS far below its size, and the record after it must still land. Beside it, the
# same file without the giant record, as the reference for the process's usual footprint.
# Usage: bench/record-limit.sh [MB]   (default 40). Needs GNU time.
set -euo pipefail
cd "$(dirname "$0")/.."
MB=${1:-40}
OUT=bench/out/record-limit
rm -rf "$OUT" && mkdir -p "$OUT"
[ -x /usr/bin/time ] || { echo "GNU time missing: apt-get install -y time" >&2; exit 1; }
cargo build --release -q -p preciso
BIN=target/release/preciso
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"

python3 - "$OUT" "$MB" <<'PY'
import json, sys
out, mb = sys.argv[1], int(sys.argv[2])
huge = "x" * (mb << 20)
good = {"store": "exito", "sku": "OK-1", "title": "Radio", "price": "$ 19.900", "currency": "COP"}
big = dict(good, sku="BIG-1", title=huge)
with open(f"{out}/big.jsonl", "w") as f:
    f.write(json.dumps(big) + "\n" + json.dumps(good) + "\n")
with open(f"{out}/big.json", "w") as f:
    f.write("[" + json.dumps(big) + ",\n" + json.dumps(good) + "]\n")
with open(f"{out}/big.csv", "w") as f:
    f.write("store,sku,title,price,currency\n")
    f.write(f'exito,BIG-1,"{huge}","$ 19.900",COP\n')
    f.write('exito,OK-1,Radio,"$ 19.900",COP\n')
with open(f"{out}/small.jsonl", "w") as f:
    f.write(json.dumps(good) + "\n")
PY

run() {  # file
  local data="$OUT/data-$(basename "$1")"
  /usr/bin/time -f "%e %M" -o "$OUT/time.txt" $BIN --data-dir "$data" ingest --json "$1" > "$OUT/report.json"
  read -r secs rss_kb < "$OUT/time.txt"
  python3 - "$1" "$secs" "$rss_kb" "$OUT/report.json" "$MB" <<'PY'
import json, sys
name, secs, rss, path, mb = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
f = json.load(open(path))["files"][0]
c = f["counts"]
codes = sorted({s["errors"][0]["code"] for s in f["reject_samples"]})
print(f"{name.rsplit('/', 1)[-1]:12} {secs:6.2f} s  peak RSS {rss / 1024:6.1f} MB  "
      f"inserted {c['inserted']}  rejected {c['rejected']} {codes}  (record: {mb} MB)")
PY
}

for f in small.jsonl big.jsonl big.json big.csv; do run "$OUT/$f"; done
