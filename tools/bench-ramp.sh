#!/usr/bin/env bash
# A stage ramp's achieved rate against its schedule, per interval: runs
# `goto load --stages STAGES --interval 1s --json` against a goto responder
# (or URL) and compares each 1 s interval's requests with the integral of
# the schedule over that second (k6 ramping-arrival-rate semantics: each
# stage ramps linearly from the previous stage's end, from 0 at the start).
# Goal (issue 12): within 2% per interval when the server has headroom.
# Usage: tools/bench-ramp.sh [path/to/goto]   (default: target/release/goto)
#   STAGES=10s:2000,10s:4000 CONNS=32 URL=http://127.0.0.1:PORT/ to change.
set -euo pipefail
cd "$(dirname "$0")/.."
GOTO=${1:-target/release/goto}
if [ ! -x "$GOTO" ]; then
  cargo build --release --bin goto
fi
STAGES=${STAGES:-10s:2000,10s:4000}
CONNS=${CONNS:-32}
PORT=${PORT:-18495}
if [ -z "${URL:-}" ]; then
  "$GOTO" --port "$PORT" --request-logs=false --log-level warn &
  PID=$!
  trap 'kill $PID 2>/dev/null || true' EXIT
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/health" && break; sleep 0.1; done
  URL="http://127.0.0.1:$PORT/"
fi
OUT=$(mktemp)
"$GOTO" load --no-progress --json -c "$CONNS" --stages "$STAGES" --interval 1s "$URL" > "$OUT"
STAGES=$STAGES python3 - "$OUT" <<'PY'
import json, os, sys
v = json.load(open(sys.argv[1]))
stages = []
for s in os.environ["STAGES"].split(","):
    d, r = s.split(":")
    secs = float(d[:-1]) * {"s": 1, "m": 60}[d[-1]] if d[-1] in "sm" else float(d)
    stages.append((secs, float(r)))
def rate(t):
    start, prev = 0.0, 0.0
    for secs, r in stages:
        if t <= start + secs:
            return prev + (r - prev) * (t - start) / secs
        start, prev = start + secs, r
    return 0.0
def integral(a, b, steps=1000):
    h = (b - a) / steps
    return sum(rate(a + (i + 0.5) * h) for i in range(steps)) * h
worst, rows, prev_t = 0.0, [], 0.0
for e in v["timeline"]:
    t = e["t"]
    want = integral(prev_t, t)
    got = e["requests"]
    full = abs((t - prev_t) - 1.0) < 0.05
    err = (got - want) / want * 100 if want else 0.0
    if full and want >= 100:
        worst = max(worst, abs(err))
    rows.append(f"  t={t:6.2f}s  schedule {want:8.1f}  sent {got:6d}  {err:+6.2f}%{'' if full else '  (partial interval)'}")
    prev_t = t
print("\n".join(rows))
print(f"stages {os.environ['STAGES']}: worst full-interval error {worst:.2f}% (goal: within 2%); total {v['requests']} requests, {v['answered']} answered")
PY
rm -f "$OUT"
