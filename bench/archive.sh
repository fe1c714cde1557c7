#!/usr/bin/env bash
# Archive reconciliation benchmark (docs/OPERATIONS.md O30): a ledger of N completed files and N
# matching objects in a local-directory archive; times `preciso archive verify` (listing plus
# ledger pass). Usage: bench/archive.sh [N] (default 100000).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
OUT=bench/out/archive-$N
cargo build --release -q -p preciso
BIN=$PWD/target/release/preciso
rm -rf "$OUT" && mkdir -p "$OUT"
$BIN --data-dir "$OUT" migrate > /dev/null
python3 - "$OUT" "$N" <<'PY'
import hashlib, os, sqlite3, sys
out, n = sys.argv[1], int(sys.argv[2])
db = sqlite3.connect(os.path.join(out, "preciso.sqlite"))
rows = []
for i in range(n):
    body = f"file {i}\n".encode()
    sha = hashlib.sha256(body).hexdigest()
    key = f"raw/mixed/2026/11/27/{sha}.jsonl"
    path = os.path.join(out, "archive", key)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(body)
    rows.append((f"f{i}.jsonl", sha, len(body), 1795795200, 1795795200, "done", key))
db.executemany(
    "INSERT INTO ingest_files (name, sha256, size, received_at, finished_at, status, archive_key) VALUES (?,?,?,?,?,?,?)",
    rows,
)
db.commit()
PY
echo "machine: $(nproc) cores; ledger rows and objects: $N"
for _ in 1 2 3; do
  /usr/bin/time -f "archive verify: %e s, peak RSS %M KB" $BIN --data-dir "$OUT" archive verify --json > "$OUT/report.json"
done
python3 -c "import json; r=json.load(open('$OUT/report.json')); print('checked', r['checked'], 'missing', len(r['missing_in_archive']), 'orphans', len(r['orphan_in_archive']), 'size mismatches', len(r['size_mismatch']))"
