#!/usr/bin/env bash
# Where a fresh PostgreSQL ingest spends its time (issue #20, point 1): one fresh database, one
# ingest of FILE, and beside it a poll (every 0.3 s) of the statements the server runs for it,
# printed each time their kind changes, with seconds since the start — the batch phase
# (COPY …), the end's index builds (CREATE INDEX …), keys (ALTER TABLE …) and summaries. Also
# the run's wall time and the WAL it wrote (pg_stat_wal).
# Usage: bench/pg-phases.sh FILE [BINARY]   (e.g. a file of bench/scale.sh or bench/pg-ingest.sh)
#        PG=postgres://postgres@127.0.0.1:5432 (a server where databases can be created).
# The poll costs a little CPU (a psql every 0.3 s): compare runs made with it only to each other.
set -euo pipefail
cd "$(dirname "$0")/.."
FILE=${1:?usage: bench/pg-phases.sh FILE [BINARY]}
BIN=${2:-target/release/preciso}
PG=${PG:-postgres://postgres@127.0.0.1:5432}
DB=preciso_pg_phases
OUT=bench/out/pg-phases
mkdir -p "$OUT"
psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" 2>/dev/null
rm -rf "$OUT/data"
wal() { psql -Atq "$PG/postgres" -c "SELECT wal_bytes FROM pg_stat_wal"; }
since() { python3 -c "print(round($(date +%s.%N) - $1, 1))"; }
start=$(date +%s.%N)
(
  last=""
  while [ ! -f "$OUT/stop" ]; do
    q=$(psql -Atq "$PG/postgres" -c "SELECT string_agg(regexp_replace(left(query, 45), '\s+', ' ', 'g'), ' | ' ORDER BY pid)
          FROM pg_stat_activity WHERE datname = '$DB' AND state = 'active' AND pid <> pg_backend_pid()" 2>/dev/null || true)
    key=$(echo "$q" | sed 's/[0-9]//g' | cut -c1-30)
    if [ -n "$q" ] && [ "$key" != "$last" ]; then echo "$(since "$start") $q"; last=$key; fi
    sleep 0.3
  done
) > "$OUT/statements.log" &
poll=$!
w0=$(wal)
t0=$(date +%s.%N)
$BIN --database-url "$PG/$DB" --data-dir "$OUT/data" ingest --json "$FILE" > "$OUT/last.json"
wall=$(since "$t0")
w1=$(wal)
touch "$OUT/stop"; wait $poll; rm -f "$OUT/stop"
# Consecutive batch statements folded into one line each.
grep -vE "^[0-9.]+ (COPY (offers|price_history|products|bulk_)|INSERT INTO products|SELECT id, content|UPDATE ingest_files)" \
  "$OUT/statements.log" | cut -c1-120
echo "$(basename "$FILE"): wall $wall s, WAL $(( (w1 - w0) / 1000000 )) MB (statements since the poll began, which starts ~0.1 s before the run)"
psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" 2>/dev/null
