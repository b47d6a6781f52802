#!/usr/bin/env bash
# Counts the instructions goto's server spends per runtime request, under
# callgrind: unlike req/s or CPU time, the figure does not move when other
# work shares this 2-core machine, so a change on the responder's path shows
# as a number of instructions, not as noise.
#
# The server runs under callgrind; `goto load` (native) warms it up, then the
# counters are zeroed, N requests are sent, and the counters dumped:
# instructions / N is the steady-state cost of one request (user space only;
# the kernel's share is not counted).
#
# Usage: tools/callgrind-responder.sh              # catch-all, logs off and on
#        URI_PATH=/echo N=5000 tools/callgrind-responder.sh
#        PROXY=1 tools/callgrind-responder.sh      # the proxy hop instead
# Env:   N (requests, default 20000), CONNS (16), PORT (18291), UP_PORT
#        (18292, the proxy's upstream), URI_PATH (/some/api), LOGS ("false
#        true"), GOTO (binary; default profiling build), BUILD=0 skips the
#        build, KEEP=1 keeps the callgrind files (for callgrind_annotate).
set -euo pipefail

N=${N:-20000}
CONNS=${CONNS:-16}
PORT=${PORT:-18291}
UP_PORT=${UP_PORT:-18292}
URI_PATH=${URI_PATH:-/some/api}
LOGS=${LOGS:-"false true"}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
GOTO=${GOTO:-${CARGO_TARGET_DIR:-$ROOT/target}/profiling/goto}

for tool in valgrind callgrind_control curl python3; do
  command -v "$tool" >/dev/null || { echo "callgrind-responder: $tool is required" >&2; exit 1; }
done
if [ "${BUILD:-1}" = 1 ]; then (cd "$ROOT" && cargo build --profile profiling --quiet); fi
[ -x "$GOTO" ] || { echo "callgrind-responder: no goto binary at $GOTO" >&2; exit 1; }

WORK=$(mktemp -d /tmp/callgrind-responder.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ "${KEEP:-0}" = 1 ]; then echo "callgrind files kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

wait_url() {
  for _ in $(seq 400); do
    curl -sf -o /dev/null "$1" && return 0
    sleep 0.05
  done
  echo "callgrind-responder: $1 never answered" >&2; exit 1
}

load() { # requests
  "$GOTO" load --cores 1 -c "$CONNS" -n "$1" --no-progress --json "http://127.0.0.1:$PORT$URI_PATH" \
    >"$WORK/load.json" 2>"$WORK/load.log" ||
    { echo "callgrind-responder: goto load failed:" >&2; tail -5 "$WORK/load.log" >&2; exit 1; }
}

if [ "${PROXY:-0}" = 1 ]; then
  "$GOTO" --port "$UP_PORT" --request-logs=false --log-level warn 2>/dev/null &
  PIDS+=("$!")
  wait_url "http://127.0.0.1:$UP_PORT/label"
fi

# instructions LOGS -> instructions per request, server side
per_request() {
  local out="$WORK/callgrind.$1" pid
  valgrind --tool=callgrind --callgrind-out-file="$out.%p" \
    "$GOTO" --port "$PORT" --request-logs="$1" --log-level warn 2>"$WORK/server.$1.log" >/dev/null &
  pid=$!
  PIDS+=("$pid")
  wait_url "http://127.0.0.1:$PORT/label"
  if [ "${PROXY:-0}" = 1 ]; then
    curl -sf "http://127.0.0.1:$PORT/request/proxy/targets/add" \
      --data "{\"name\":\"up\",\"url\":\"http://127.0.0.1:$UP_PORT\",\"match\":{\"uris\":[\"/\"]}}" >/dev/null
  fi
  load $((N / 10 + 100))
  callgrind_control -z "$pid" >/dev/null 2>&1
  load "$N"
  callgrind_control -d "$pid" >/dev/null 2>&1
  kill "$pid"; wait "$pid" 2>/dev/null || true
  # The dump after the zeroing is the file with the highest part number.
  local dump
  dump=$(ls "$out.$pid".* 2>/dev/null | sort -t. -k3 -n | tail -1)
  [ -n "$dump" ] || { echo "callgrind-responder: no dump written" >&2; exit 1; }
  [ "${KEEP:-0}" = 1 ] && echo "dump for logs=$1: $dump" >&2
  awk -v n="$N" '/^summary:|^totals:/ {print int($2 / n); exit}' "$dump"
}

what="catch-all $URI_PATH"
[ "${PROXY:-0}" = 1 ] && what="proxy hop $URI_PATH"
echo "callgrind-responder: $what, N=$N, $CONNS connections"
printf '%-14s %14s\n' "request logs" "Ir/request"
for l in $LOGS; do
  printf '%-14s %14s\n' "$l" "$(per_request "$l")"
done
