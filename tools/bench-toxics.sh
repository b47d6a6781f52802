#!/usr/bin/env bash
# What toxics deliver, measured from the client's side over real sockets.
#
#   bandwidth: a raw TCP proxy listener (upstream: a TCP "stream" listener
#              that writes as fast as it can) with a bandwidth toxic of
#              RATE KB/s; a client reads for DUR seconds and reports
#              delivered KB/s and its ratio to RATE (goal: within 5%).
#   latency:   an HTTP proxy target with a latency toxic of LAT ms; N
#              sequential requests through it and N direct; reports the
#              added p50 (goal: within 1 ms of LAT).
#   responder delay: /response/delay/set/LAT ms on a plain port, N
#              sequential requests; the added p50, as for the toxic.
#   shares:    /response/status/set/503/percent/10 over 10,000 requests
#              with `goto load`; reports the delivered share.
#
# Usage: tools/bench-toxics.sh [dur_s=10] [rate_kbs=100] [lat_ms=50] [n=200]
# Env:   GOTO=path/to/goto (default: release build via cargo), PORT=18901
set -euo pipefail

DUR=${1:-10}
RATE=${2:-100}
LAT=${3:-50}
N=${4:-200}
PORT=${PORT:-18901}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [[ -z "${GOTO:-}" ]]; then
    (cd "$ROOT" && cargo build --release -q -p goto)
    GOTO="${CARGO_TARGET_DIR:-$ROOT/target}/release/goto"
fi

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

start() { # port
    "$GOTO" --port "$1" --request-logs=false 2>/dev/null &
    PIDS+=("$!")
    for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:$1/label" >/dev/null && return 0
        sleep 0.05
    done
    echo "goto on port $1 did not start" >&2
    exit 1
}

api() { curl -sf -X "$1" "http://127.0.0.1:$PORT$2" ${3:+-d "$3"} >/dev/null; }

start "$PORT"
start $((PORT + 1))
SRC=$((PORT + 2)); PX=$((PORT + 3))
api POST /listeners/add "{\"port\":$SRC,\"protocol\":\"tcp\",\"mode\":\"stream\",\"payload\":\"$(printf 'x%.0s' $(seq 1000))\",\"interval\":\"1ms\"}"
api POST /listeners/add "{\"port\":$PX,\"protocol\":\"tcp\",\"upstream\":\"127.0.0.1:$SRC\"}"
api POST "/listeners/$PX/toxics/add" "{\"name\":\"bw\",\"type\":\"bandwidth\",\"attributes\":{\"rate\":$RATE}}"

python3 - "$PX" "$DUR" "$RATE" <<'PY'
import socket, sys, time
port, dur, rate = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
s = socket.create_connection(("127.0.0.1", port))
# The first second fills buffers along the path; measure after it.
t0 = time.monotonic(); got = 0; start = None; base = 0
while True:
    b = s.recv(65536)
    if not b: break
    got += len(b)
    now = time.monotonic()
    if start is None and now - t0 >= 1.0:
        start, base = now, got
    if start is not None and now - start >= dur: break
kbs = (got - base) / (now - start) / 1000
print(f"bandwidth: asked {rate:.0f} KB/s, delivered {kbs:.1f} KB/s over {now-start:.1f} s, ratio {kbs/rate:.3f}")
PY

UP=$((PORT + 1))
api POST /request/proxy/targets/add "{\"name\":\"t\",\"url\":\"http://127.0.0.1:$UP\",\"match\":{\"uris\":[\"/via\"]}}"
api POST /request/proxy/targets/t/toxics/add "{\"name\":\"lat\",\"type\":\"latency\",\"attributes\":{\"latency\":$LAT}}"
python3 - "$PORT" "$N" "$LAT" <<'PY'
import http.client, statistics, sys, time
port, n, lat = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
def p50(path):
    c = http.client.HTTPConnection("127.0.0.1", port)
    ts = []
    for _ in range(n):
        t = time.perf_counter(); c.request("GET", path); c.getresponse().read()
        ts.append((time.perf_counter() - t) * 1000)
    return statistics.median(ts)
api = http.client.HTTPConnection("127.0.0.1", port)
api.request("POST", "/request/proxy/targets/t/toxics/lat/remove"); api.getresponse().read()
base = p50("/via/x")
api.request("POST", "/request/proxy/targets/t/toxics/add", f'{{"name":"lat","type":"latency","attributes":{{"latency":{int(lat)}}}}}'); api.getresponse().read()
with_toxic = p50("/via/x")
print(f"latency: asked {lat:.0f} ms, p50 proxied {base:.2f} ms -> {with_toxic:.2f} ms, added {with_toxic-base:.2f} ms (error {with_toxic-base-lat:+.2f} ms)")
PY
# The responder's own delay, for comparison (same timer path as the toxic).
python3 - "$UP" "$N" "$LAT" <<'PY'
import http.client, statistics, sys, time
port, n, lat = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
c = http.client.HTTPConnection("127.0.0.1", port)
def p50():
    ts = []
    for _ in range(n):
        t = time.perf_counter(); c.request("GET", "/d"); c.getresponse().read()
        ts.append((time.perf_counter() - t) * 1000)
    return statistics.median(ts)
base = p50()
c.request("PUT", f"/response/delay/set/{int(lat)}ms"); c.getresponse().read()
delayed = p50()
c.request("PUT", "/response/delay/clear"); c.getresponse().read()
print(f"responder delay: asked {lat:.0f} ms, p50 {base:.2f} ms -> {delayed:.2f} ms, added {delayed-base:.2f} ms (error {delayed-base-lat:+.2f} ms)")
PY

api POST /response/status/set/503/percent/10
"$GOTO" load --json --no-progress -n 10000 -c 4 "http://127.0.0.1:$PORT/share" > /tmp/bench-toxics-$$.json
python3 - /tmp/bench-toxics-$$.json <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
c, n = v["countsByStatusCodes"].get("503", 0), v["requests"]
print(f"shares: 503 on {c} of {n} requests ({100 * c / n:.2f}% for 10%)")
PY
rm -f /tmp/bench-toxics-$$.json
