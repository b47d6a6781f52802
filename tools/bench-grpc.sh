#!/usr/bin/env bash
# Compares `goto load --grpc --cores 1` with h2load sending the very same
# unary call (goto.test.Echo/Unary, message {"text":"hi"}) to the tonic
# test server (testkit's grpc-echo, one runtime thread) pinned to CPU 1;
# the clients pinned to CPU 0 with the same shape (2 connections x 100
# streams), runs interleaved (h2load, goto, h2load, ...), medians over
# REPS. h2load posts the framed message with the gRPC headers and knows
# nothing of protobuf or gRPC statuses (it counts 2xx answers); goto counts
# calls answered OK. h2load also sends the `grpc-timeout` goto derives from
# its default 30 s --timeout, so the server does the same work for both
# (tonic arms a timer per call that carries one). For each run: calls/s,
# client CPU us per call (user+sys from /usr/bin/time) and server CPU us per
# call (/proc ticks); then the goto/h2load ratios. When both clients keep
# the one-core server saturated, calls/s follow the server's cost per call.
#
# Usage: tools/bench-grpc.sh                       # 3 reps x 5 s
#        REPS=1 DURATION=2 tools/bench-grpc.sh     # a quick look
#        BASE=/path/to/old/goto tools/bench-grpc.sh  # before/after, same runs
# Env:   REPS, DURATION (seconds), CONNS (2), STREAMS (100), PORT,
#        GOTO / ECHO (binaries; default: release builds under
#        $CARGO_TARGET_DIR or target/), BUILD=0 to skip the release build,
#        SERVER_CPU, CLIENT_CPU, GOTO_ARGS (more `goto load` flags),
#        GRPC_TIMEOUT (the header value h2load sends, "30000m"; empty for
#        none, with GOTO_ARGS="--timeout 0"), BASE (another goto build, run
#        interleaved as "base").
set -euo pipefail

REPS=${REPS:-3}
DURATION=${DURATION:-5}
CONNS=${CONNS:-2}
STREAMS=${STREAMS:-100}
PORT=${PORT:-18099}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
GRPC_TIMEOUT=${GRPC_TIMEOUT-30000m}
BASE=${BASE:-}
. "$(dirname "$0")/lib.sh"

lib_need bench-grpc "apt-get install nghttp2-client" h2load taskset python3
lib_time bench-grpc
if [ -z "${GOTO:-}" ] && [ "${BUILD:-1}" = 1 ]; then
  (cd "$LIB_ROOT" && cargo build --release --quiet -p goto -p goto-testkit --bins)
fi
BUILD=0 lib_goto bench-grpc
ECHO=${ECHO:-${CARGO_TARGET_DIR:-$LIB_ROOT/target}/release/grpc-echo}
[ -x "$ECHO" ] || { echo "bench-grpc: no grpc-echo binary at $ECHO" >&2; exit 1; }
lib_workdir bench-grpc

[ -z "$BASE" ] || [ -x "$BASE" ] || { echo "bench-grpc: BASE=$BASE is not an executable" >&2; exit 1; }
taskset -c "$SERVER_CPU" "$ECHO" "127.0.0.1:$PORT" >"$WORK/echo.log" 2>&1 &
ECHO_PID=$!
LIB_PIDS+=("$ECHO_PID")
for _ in $(seq 100); do
  grep -q listening "$WORK/echo.log" 2>/dev/null && break
  sleep 0.05
done
grep -q listening "$WORK/echo.log" || { echo "bench-grpc: grpc-echo did not start" >&2; exit 1; }
URL="http://127.0.0.1:$PORT"
PROTO="$LIB_ROOT/testkit/proto/echo.proto"
# {"text":"hi"} as protobuf (field 1, length 2) behind the 5-byte prefix.
printf '\x00\x00\x00\x00\x04\x0a\x02hi' >"$WORK/message"

H2_TIMEOUT=()
[ -z "$GRPC_TIMEOUT" ] || H2_TIMEOUT=(-H "grpc-timeout: $GRPC_TIMEOUT")

# Each run prints "client calls/s ok client_cpu_s server_cpu_s [ioDriver]".
run_h2load() {
  local t0
  t0=$(lib_ticks "$ECHO_PID")
  taskset -c "$CLIENT_CPU" /usr/bin/time -f "%U %S" -o "$WORK/time" \
    h2load -c "$CONNS" -m "$STREAMS" -D "$DURATION" \
    -H 'content-type: application/grpc' -H 'te: trailers' "${H2_TIMEOUT[@]}" -d "$WORK/message" \
    "$URL/goto.test.Echo/Unary" >"$WORK/out" 2>&1
  python3 - "$WORK/out" "$WORK/time" "$(( $(lib_ticks "$ECHO_PID") - t0 ))" "$CLK_TCK" <<'PY'
import re, sys
out = open(sys.argv[1]).read()
u, s = open(sys.argv[2]).read().split()[-2:]
rps = float(re.search(r"finished in [\d.]+\w*, ([\d.]+) req/s", out).group(1))
ok = int(re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded", out).group(1))
print("h2load", rps, ok, float(u) + float(s), int(sys.argv[3]) / int(sys.argv[4]))
PY
}

# run_goto [NAME BINARY]
run_goto() {
  local name=${1:-goto} bin=${2:-$GOTO} t0
  t0=$(lib_ticks "$ECHO_PID")
  # shellcheck disable=SC2086
  taskset -c "$CLIENT_CPU" /usr/bin/time -f "%U %S" -o "$WORK/time" \
    "$bin" load --grpc --call goto.test.Echo/Unary --proto "$PROTO" -b '{"text":"hi"}' \
    --cores 1 -c "$CONNS" --streams "$STREAMS" -d "${DURATION}s" --json --no-progress \
    ${GOTO_ARGS:-} "$URL" >"$WORK/out" 2>"$WORK/err"
  python3 - "$WORK/out" "$WORK/time" "$(( $(lib_ticks "$ECHO_PID") - t0 ))" "$CLK_TCK" "$name" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
u, s = open(sys.argv[2]).read().split()[-2:]
ok = int(v.get("countsByGrpcStatus", {}).get("OK", 0))
print(sys.argv[5], v["callsPerSecond"], ok, float(u) + float(s), int(sys.argv[3]) / int(sys.argv[4]),
      v.get("ioDriver", "?"))
PY
}

run_base() { run_goto base "$BASE"; }

CLIENTS="h2load goto"
[ -z "$BASE" ] || CLIENTS="h2load base goto"
echo "bench-grpc: $CONNS connections x $STREAMS streams, $REPS reps x ${DURATION}s, h2load grpc-timeout" \
  "${GRPC_TIMEOUT:-none}; $(uptime)" >&2
: >"$WORK/results"
for rep in $(seq "$REPS"); do
  for client in $CLIENTS; do
    line=$("run_$client")
    echo "rep $rep: $line" >&2
    echo "$line" >>"$WORK/results"
  done
done

python3 - "$WORK/results" "$CONNS" "$STREAMS" "$DURATION" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
conns, streams, duration = sys.argv[2:5]
fig = {}
driver = "?"
for r in rows:
    name, rps, ok, cpu, srv = r[0], float(r[1]), int(r[2]), float(r[3]), float(r[4])
    if name != "h2load" and len(r) > 5:
        driver = r[5]
    f = fig.setdefault(name, {"rps": [], "us": [], "srv": []})
    f["rps"].append(rps)
    f["us"].append(cpu * 1e6 / max(ok, 1))
    f["srv"].append(srv * 1e6 / max(ok, 1))
med = {k: {m: statistics.median(v) for m, v in f.items()} for k, f in fig.items()}
print(f"gRPC unary h2c (tonic), {conns} connections x {streams} streams, {duration}s, "
      f"{len(fig['goto']['rps'])} runs each (medians)")
print(f"{'client':<8} {'calls/s':>10} {'CPU us/call':>12} {'server us/call':>15}")
for k in ("h2load", "base", "goto"):
    if k in med:
        print(f"{k:<8} {med[k]['rps']:>10.0f} {med[k]['us']:>12.2f} {med[k]['srv']:>15.2f}")
for k in ("base", "goto"):
    if k in med:
        print(f"{k}/h2load: calls/s {med[k]['rps'] / med['h2load']['rps']:.2f}x, "
              f"CPU/call {med[k]['us'] / med['h2load']['us']:.2f}x, "
              f"server CPU/call {med[k]['srv'] / med['h2load']['srv']:.2f}x (goto ioDriver {driver})")
PY
