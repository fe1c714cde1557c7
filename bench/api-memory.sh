#!/usr/bin/env bash
# Server memory under uncached load (issue #3: RssAnon < 300 MB): the four main endpoints one
# after another, `wrk -t2 -c16` for DURATION seconds each, with the server's own memory
# (RssAnon) after each. Uses the catalog bench/api.sh builds (run that first).
# Usage: bench/api-memory.sh [OFFERS] [DURATION] [ENV=VALUE...]   (defaults 1000000 and 6)
# Extra ENV=VALUE pairs are passed to the server, e.g. MIMALLOC_PURGE_DELAY=0.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
DUR=${2:-6}
shift $(( $# > 2 ? 2 : $# ))
OUT=bench/out/api
DATA=$OUT/data-$N
[ -f "$DATA/preciso.sqlite" ] || { echo "no catalog at $DATA: run bench/api.sh $N first" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk missing: apt-get install -y wrk" >&2; exit 1; }
cargo build --release -q -p preciso
cat > "$OUT/memory.toml" <<TOML
data_dir = "$DATA"
[http]
listen = "127.0.0.1:18081"
rate_limit_per_minute = 0
cache_ttl_secs = 0
TOML
env "$@" PRECISO_LOG=warn target/release/preciso --config "$OUT/memory.toml" serve > "$OUT/memory-serve.log" 2>&1 &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
BASE=http://127.0.0.1:18081
for _ in $(seq 100); do curl -sf $BASE/health >/dev/null && break; sleep 0.05; done
anon() { awk '/RssAnon/ {printf "%.0f MB", $2/1024}' /proc/"$SERVER"/status; }
CAT=$(curl -s $BASE/api/categories | python3 -c 'import json,sys; c=json.load(sys.stdin)["items"]; print(max(c,key=lambda x:x["offers"])["key"])')
PID=$(curl -s "$BASE/api/best-prices/$CAT?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["product_id"])')
echo "idle: RssAnon $(anon)"
for p in "/api/best-prices/$CAT" "/api/price-comparison?product_id=$PID" "/api/ranked-offers?category=$CAT" "/api/reports/price-analysis/$CAT"; do
  rps=$(wrk -t2 -c16 -d"${DUR}s" "$BASE$p" | awk '/Requests\/sec/ {print $2}')
  printf '%-60s %10s req/s  RssAnon after: %s\n' "$p" "$rps" "$(anon)"
done
