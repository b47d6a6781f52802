#!/usr/bin/env bash
# Open-model precision of gRPC load (issue 20): at rates far below the
# server's capacity there is no queueing, so corrected latency (from each
# call's due instant) should equal uncorrected latency (from its actual
# send); the difference of their p50s is goto's own lateness (goal: <= 0.05
# ms at 1,000 and 10,000 calls/s, as for HTTP). `goto load --grpc` sends the
# unary goto.test.Echo/Unary ({"text":"hi"}) to the tonic test server
# (testkit's grpc-echo) pinned to SERVER_CPU; the client runs `--cores 1` on
# CLIENT_CPU, CONNS connections x STREAMS streams. With H2=1 (the default,
# when nginx is installed) the same shape runs `goto load --http2` against
# nginx h2c `return 200` on the same CPU, interleaved (grpc, h2, grpc, ...),
# as the reference the HTTP goal was measured on. Medians over REPS.
#
# Usage: tools/bench-grpc-open.sh                     # 3 reps x 10 s
#        RATES=10000 REPS=1 DURATION=3 tools/bench-grpc-open.sh
# Env:   RATES ("1000 10000"), CONNS (2), STREAMS (8), REPS (3), DURATION
#        (seconds, 10), PORT (tonic; PORT+1 nginx), SERVER_CPU (1),
#        CLIENT_CPU (0), GOTO / ECHO (binaries; default: release builds under
#        $CARGO_TARGET_DIR or target/), BUILD=0 to skip the release build,
#        H2=0 to skip the HTTP/2 reference, GOTO_ARGS (more `goto load`
#        flags, e.g. "--io-driver epoll"), PRIO (a prefix for the client on a
#        busy machine, e.g. "chrt -f 20"; the same for both protocols).
set -euo pipefail

RATES=${RATES:-"1000 10000"}
CONNS=${CONNS:-2}
STREAMS=${STREAMS:-8}
REPS=${REPS:-3}
DURATION=${DURATION:-10}
PORT=${PORT:-18311}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
PRIO=${PRIO:-}
. "$(dirname "$0")/lib.sh"

lib_need bench-grpc-open "apt-get install util-linux python3" taskset python3
lib_time bench-grpc-open
if [ -z "${GOTO:-}" ] && [ "${BUILD:-1}" = 1 ]; then
  (cd "$LIB_ROOT" && cargo build --release --quiet -p goto -p goto-testkit --bins)
fi
BUILD=0 lib_goto bench-grpc-open
ECHO=${ECHO:-${CARGO_TARGET_DIR:-$LIB_ROOT/target}/release/grpc-echo}
[ -x "$ECHO" ] || { echo "bench-grpc-open: no grpc-echo binary at $ECHO" >&2; exit 1; }
if [ "${H2:-1}" = 1 ] && ! command -v nginx >/dev/null; then
  echo "bench-grpc-open: nginx not found, skipping the HTTP/2 reference (apt-get install nginx-light)" >&2
  H2=0
fi
lib_workdir bench-grpc-open

taskset -c "$SERVER_CPU" "$ECHO" "127.0.0.1:$PORT" >"$WORK/echo.log" 2>&1 &
LIB_PIDS+=($!)
for _ in $(seq 100); do
  grep -q listening "$WORK/echo.log" 2>/dev/null && break
  sleep 0.05
done
grep -q listening "$WORK/echo.log" || { echo "bench-grpc-open: grpc-echo did not start" >&2; exit 1; }
GRPC_URL="http://127.0.0.1:$PORT"
CLIENTS="grpc"
if [ "${H2:-1}" = 1 ]; then
  NGINX_LISTEN=http2 NGINX_HTTP="http2_max_concurrent_streams 128;" NGINX_CURL=--http2-prior-knowledge \
    lib_nginx "$((PORT + 1))" "$SERVER_CPU"
  H2_URL=$NGINX_URL
  CLIENTS="grpc h2"
fi
PROTO="$LIB_ROOT/testkit/proto/echo.proto"

# run CLIENT RATE -> appends "client rate per_s c50 c99 u50 u99 lag50 lag99"
run() {
  local client=$1 rate=$2
  local what=(--http2 "$H2_URL")
  if [ "$client" = grpc ]; then
    what=(--grpc --call goto.test.Echo/Unary --proto "$PROTO" -b '{"text":"hi"}' "$GRPC_URL")
  fi
  # shellcheck disable=SC2086
  $PRIO taskset -c "$CLIENT_CPU" "$GOTO" load --cores 1 -c "$CONNS" --streams "$STREAMS" \
    -r "$rate" -d "${DURATION}s" --json --no-progress ${GOTO_ARGS:-} "${what[@]}" \
    >"$WORK/out" 2>"$WORK/err" ||
    { echo "bench-grpc-open: goto load ($client) failed:" >&2; tail -3 "$WORK/err" >&2; exit 1; }
  python3 - "$WORK/out" "$client" "$rate" >>"$WORK/results" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
c, u, l = d["latencyMs"], d["latencyUncorrectedMs"], d["scheduleLagMs"]
per_s = d.get("callsPerSecond", d.get("requestsPerSecond"))
print(sys.argv[2], sys.argv[3], per_s, c["p50"], c["p99"], u["p50"], u["p99"], l["p50"], l["p99"])
EOF
}

echo "bench-grpc-open: rates $RATES, $CONNS connections x $STREAMS streams, $REPS reps x ${DURATION}s;" \
  "servers on CPU $SERVER_CPU, client on CPU $CLIENT_CPU${PRIO:+, prefix \"$PRIO\"}; $(uptime)"
: >"$WORK/results"
for rate in $RATES; do
  for rep in $(seq "$REPS"); do
    for client in $CLIENTS; do
      run "$client" "$rate"
      tail -1 "$WORK/results" | awk -v rep="$rep" \
        '{printf "  rep %s %-4s %6s/s asked, %9s got  p50 corr %s unc %s  lag p50 %s\n", rep, $1, $2, $3, $4, $6, $8}'
    done
  done
done

python3 - "$WORK/results" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
data = {}
for r in rows:
    data.setdefault((int(r[1]), r[0]), []).append([float(x) for x in r[2:]])
print()
print("Medians (ms). corr = from the schedule, unc = from the actual send; corr-unc p50 = goto's lateness.")
print(f"{'rate':>6} {'proto':<5} {'per s':>8} {'corr p50':>8} {'corr p99':>8} {'unc p50':>8} {'unc p99':>8} "
      f"{'corr-unc p50':>12} {'lag p50':>8} {'lag p99':>8}")
for (rate, client) in sorted(data, key=lambda k: (k[0], k[1] != "grpc")):
    runs = data[(rate, client)]
    cols = [statistics.median(c) for c in zip(*runs)]
    diff = statistics.median(r[1] - r[3] for r in runs)
    per_s, c50, c99, u50, u99, l50, l99 = cols
    print(f"{rate:>6} {client:<5} {per_s:>8.0f} {c50:>8.3f} {c99:>8.3f} {u50:>8.3f} {u99:>8.3f} "
          f"{diff:>12.3f} {l50:>8.3f} {l99:>8.3f}")
print("Goal (issue 20): corr-unc p50 <= 0.05 ms at 1,000 and 10,000 calls/s.")
EOF
