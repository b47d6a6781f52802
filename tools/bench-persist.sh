#!/usr/bin/env bash
# Times a registry's locker store call with --data-dir once one locker is
# large: KEYS entries of SIZE bytes under one peer, then STORES more stores
# (each acknowledged only after its durable save). Before dirty tracking a
# save re-serialized every row; now it writes the rows a call changed.
# Usage: tools/bench-persist.sh [path/to/goto]   (default: target/release/goto)
#   KEYS=5000 SIZE=1024 STORES=300 to change the sizes. Needs python3.
set -euo pipefail
cd "$(dirname "$0")/.."
GOTO=${1:-target/release/goto}
if [ ! -x "$GOTO" ]; then
  cargo build --release --bin goto
fi
KEYS=${KEYS:-5000}
SIZE=${SIZE:-1024}
STORES=${STORES:-300}
PORT=${PORT:-18490}
DIR=$(mktemp -d)
"$GOTO" --port "$PORT" --request-logs=false --log-level warn --data-dir "$DIR" &
PID=$!
trap 'kill $PID 2>/dev/null || true; rm -rf "$DIR"' EXIT
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/health" && break; sleep 0.1; done

PORT=$PORT KEYS=$KEYS SIZE=$SIZE STORES=$STORES python3 - <<'PY'
import http.client, os, statistics, time
port, keys, size, stores = (int(os.environ[k]) for k in ("PORT", "KEYS", "SIZE", "STORES"))
c = http.client.HTTPConnection("127.0.0.1", port)
def store(key, body):
    c.request("POST", f"/registry/peers/big/127.0.0.1:1/locker/store/{key}", body=body)
    r = c.getresponse(); r.read()
    assert r.status == 200, r.status
body = b"x" * size
t = time.monotonic()
for i in range(keys):
    store(f"fill{i}", body)
fill = time.monotonic() - t
times = []
for i in range(stores):
    t = time.monotonic()
    store(f"more{i}", body)
    times.append((time.monotonic() - t) * 1000)
times.sort()
print(f"locker of {keys} x {size} B filled in {fill:.1f} s ({fill / keys * 1000:.2f} ms/store on average while growing)")
print(f"then {stores} stores: p50 {statistics.median(times):.2f} ms, mean {statistics.mean(times):.2f} ms, p90 {times[int(len(times) * 0.9)]:.2f} ms")
PY
