#!/usr/bin/env bash
# A long open-model run with a 1 s timeline, logging the load client's and
# the server's RSS every minute: `goto load -r RATE -d DUR --interval 1s
# --json` against a goto responder on 127.0.0.1. Goal (issue 12): RSS stays
# flat over an hour (the timeline keeps the last 3,600 intervals).
# Usage: tools/soak-rss.sh [path/to/goto]   (default: target/release/goto)
#   RATE=2000 DUR=3600s INTERVAL=1s EVERY=60 OUT=/tmp/goto-soak-rss to change
#   (INTERVAL=100ms fills the 3,600-entry timeline in 6 minutes).
# Prints the RSS log as it grows (seconds, client kB, server kB) and the
# run's totals at the end; stop early with Ctrl-C (the log so far stays).
set -euo pipefail
cd "$(dirname "$0")/.."
GOTO=${1:-target/release/goto}
if [ ! -x "$GOTO" ]; then
  cargo build --release --bin goto
fi
RATE=${RATE:-2000}
DUR=${DUR:-3600s}
EVERY=${EVERY:-60}
INTERVAL=${INTERVAL:-1s}
OUT=${OUT:-/tmp/goto-soak-rss}
PORT=${PORT:-18497}
mkdir -p "$OUT"
"$GOTO" --port "$PORT" --request-logs=false --log-level warn &
SERVER=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/health" && break; sleep 0.1; done
"$GOTO" load -r "$RATE" -d "$DUR" --interval "$INTERVAL" --json "http://127.0.0.1:$PORT/" \
  > "$OUT/load.json" 2> "$OUT/load.err" &
LOAD=$!
trap 'kill $LOAD $SERVER 2>/dev/null || true' EXIT
rss() { awk '/VmRSS/{print $2}' "/proc/$1/status" 2>/dev/null || echo -; }
start=$(date +%s)
while kill -0 "$LOAD" 2>/dev/null; do
  echo "$(( $(date +%s) - start )) client_rss_kb=$(rss $LOAD) server_rss_kb=$(rss $SERVER)" | tee -a "$OUT/rss.log"
  for _ in $(seq "$EVERY"); do kill -0 "$LOAD" 2>/dev/null || break; sleep 1; done
done
python3 - "$OUT/load.json" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
print(f"requests {v['requests']}, answered {v['answered']}, {v['requestsPerSecond']} req/s, timeline entries {len(v['timeline'])}")
PY
