#!/usr/bin/env bash
# Issue 24 row 3: the client's memory over many invocations. Starts a goto
# responder and a goto client on 127.0.0.1, adds a 1-request target on the
# client, invokes it N times (blocking), and prints the client's VmRSS at
# the start, every STEP invocations, after reading /client/results, and
# after /client/results/clear, plus the totals the results report.
# Goal: N=600 grows the client by at most 100 MB.
# Measured 2026-12-07, debug builds on the shared 2-core box
# (`N=600 tools/soak-client.sh target/debug/goto`), growth over the start:
#   before (main 9057e94): +170 MB per 100 invocations, +1,017 MB at 600,
#     +1,334 MB after reading the results, +954 MB after the clear;
#   after: +9.4 MB at 100 and still +9.4 MB at 600, +10.2 MB after the
#     reads, +3.6 MB after the clear; totals exact (600 x 200 OK), 50 kept.
# Usage: tools/soak-client.sh [path/to/goto]   (default: target/release/goto)
#   N=600 STEP=100 PORT=18941 to change. Needs curl and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-target/release/goto}
[ -x "$B" ] || cargo build --release --bin goto
N=${N:-600}
STEP=${STEP:-100}
PORT=${PORT:-18941}
SPORT=$((PORT + 1))
"$B" --port "$SPORT" --request-logs=false --log-level warn >/dev/null 2>&1 & srv=$!
"$B" --port "$PORT" --request-logs=false --log-level warn >/dev/null 2>&1 & cli=$!
trap 'kill $srv $cli 2>/dev/null || true' EXIT
u=http://127.0.0.1:$PORT
for _ in $(seq 100); do
  curl -s -o /dev/null "$u/health" && curl -s -o /dev/null "http://127.0.0.1:$SPORT/health" && break
  sleep 0.1
done
rss() { awk '/VmRSS/{print $2}' "/proc/$cli/status"; }
curl -sf -XPOST "$u/client/targets/add" \
  -d "{\"name\":\"one\",\"url\":\"http://127.0.0.1:$SPORT/x\",\"requestCount\":1}" >/dev/null
start=$(rss); t0=$(date +%s.%N)
echo "start rss_kb=$start"
for i in $(seq 1 "$N"); do
  curl -sf -o /dev/null -XPOST --max-time 30 "$u/client/targets/one/invoke"
  [ $((i % STEP)) -eq 0 ] && echo "after $i rss_kb=$(rss) growth_kb=$(( $(rss) - start ))"
done
echo "elapsed_s=$(echo "$(date +%s.%N) - $t0" | bc)"
curl -sf "$u/client/results" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print("results: invocations", d.get("targetInvocationCounts"), "by status", d.get("countsByStatus"))'
kept=$(curl -sf "$u/client/results/invocations" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
echo "kept one by one: $kept"
echo "after results rss_kb=$(rss) growth_kb=$(( $(rss) - start ))"
curl -sf -o /dev/null -XPOST "$u/client/results/clear"
echo "after clear rss_kb=$(rss) growth_kb=$(( $(rss) - start ))"
