#!/usr/bin/env bash
# Regenerates docs/screenshots/: every page of the web UI at desktop (1280 px) and phone
# (390 px) width, over a generated catalog of 8 stores with 6 daily scrapes and two quality
# analyses. Needs chromium (apt) and websocket-client (pip), as .ci/run does.
#   bash scripts/screenshots.sh [BINARY]      (default: target/debug/preciso, built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/debug/preciso}
[ -x "$bin" ] || cargo build -q --bin preciso
work=$(mktemp -d)
trap 'kill "${server:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 'data_dir = "%s/data"\n[http]\nlisten = "127.0.0.1:%s"\nrate_limit_per_minute = 0\n' \
  "$work" "$port" > "$work/preciso.toml"
for run in 0 1 2 3 4 5; do
  "$bin" gen --offers 6000 --stores 8 --seed 19 --run "$run" --out "$work/day$run.jsonl" >/dev/null
  "$bin" --config "$work/preciso.toml" ingest "$work/day$run.jsonl" >/dev/null
done
key="screenshots-admin-key-$(date +%s%N)"
PRECISO_ADMIN_KEY="$key" PRECISO_LOG=warn "$bin" --config "$work/preciso.toml" serve >"$work/serve.log" 2>&1 &
server=$!
base="http://127.0.0.1:$port"
for _ in $(seq 100); do curl -sf "$base/health" >/dev/null && break; sleep 0.1; done
for _ in 1 2; do
  curl -sf -X POST -H "x-api-key: $key" -H 'content-type: application/json' -d '{}' \
    "$base/api/forensic/analyze" >/dev/null
  sleep 1
done
for _ in $(seq 150); do
  [ "$(curl -sf "$base/api/forensic/list?status=succeeded" | grep -o job_id | wc -l)" -ge 2 ] && break
  sleep 0.2
done
curl -sf -X POST -H "x-api-key: $key" "$base/api/jobs/status/run" >/dev/null
sleep 1
python3 .ci/ui.py screenshots "$base" docs/screenshots "$key"
