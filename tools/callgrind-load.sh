#!/usr/bin/env bash
# Counts the client instructions `goto load` spends per request, under
# callgrind: a figure that, unlike req/s or CPU time, does not move when
# other work shares this 2-core machine. The server (nginx, 1 worker,
# `return 200 "ok"`, or a goto server) runs natively on loopback.
#
# Two runs, -n N and -n N/10, each `goto load --cores 1 -c CONNS`; the
# difference of their instruction counts divided by the difference in
# requests removes start-up and shutdown, leaving the steady-state cost.
# Instructions are user space only (the kernel's share is not counted).
#
# The epoll figure moves by a few percent between runs (how many events one
# epoll_wait returns depends on timing); REPS=3 prints the median.
#
# Usage: tools/callgrind-load.sh                 # io_uring and epoll, nginx
#        DRIVERS=epoll N=50000 tools/callgrind-load.sh
#        SERVER=goto tools/callgrind-load.sh     # against goto's responder
# Env:   N (requests, default 100000), CONNS (64), DRIVERS ("uring epoll"), REPS (1),
#        SERVER (nginx|goto; SERVER_GOTO another goto binary as the server), PORT (18197), GOTO (binary; default profiling
#        build), BUILD=0 to skip `cargo build --profile profiling`, EXTRA (more
#        `goto load` flags, e.g. "--track-header server"), KEEP=1 keeps the
#        callgrind output files (for callgrind_annotate).
set -euo pipefail

N=${N:-100000}
REPS=${REPS:-1}
CONNS=${CONNS:-64}
DRIVERS=${DRIVERS:-"uring epoll"}
SERVER=${SERVER:-nginx}
PORT=${PORT:-18197}
EXTRA=${EXTRA:-}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
GOTO=${GOTO:-$TARGET_DIR/profiling/goto}

for tool in valgrind curl python3; do
  command -v "$tool" >/dev/null || { echo "callgrind-load: $tool is required" >&2; exit 1; }
done
[ "$SERVER" = goto ] || command -v nginx >/dev/null || { echo "callgrind-load: nginx is required (apt-get install nginx-light)" >&2; exit 1; }

if [ "${BUILD:-1}" = 1 ]; then
  (cd "$ROOT" && cargo build --profile profiling --quiet)
fi
[ -x "$GOTO" ] || { echo "callgrind-load: no goto binary at $GOTO" >&2; exit 1; }

WORK=$(mktemp -d /tmp/callgrind-load.XXXXXX)
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  if [ "${KEEP:-0}" = 1 ]; then echo "callgrind files kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

case $SERVER in
  nginx)
    cat >"$WORK/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000000;
  client_body_temp_path $WORK/body;
  proxy_temp_path $WORK/proxy;
  fastcgi_temp_path $WORK/fastcgi;
  uwsgi_temp_path $WORK/uwsgi;
  scgi_temp_path $WORK/scgi;
  server {
    listen 127.0.0.1:$PORT backlog=4096;
    location / { return 200 "ok"; }
  }
}
EOF
    nginx -c "$WORK/nginx.conf" &
    SERVER_PID=$!
    URL="http://127.0.0.1:$PORT/"
    ;;
  goto)
    "${SERVER_GOTO:-$GOTO}" --port "$PORT" --request-logs=false --log-level warn 2>/dev/null &
    SERVER_PID=$!
    URL="http://127.0.0.1:$PORT/some/api"
    ;;
  *) echo "callgrind-load: SERVER is nginx or goto" >&2; exit 2 ;;
esac
for _ in $(seq 200); do
  curl -sf "$URL" >/dev/null && break
  sleep 0.05
done
curl -sf "$URL" >/dev/null || { echo "callgrind-load: server on port $PORT never answered" >&2; exit 1; }

# instructions DRIVER REQUESTS -> prints the total instruction count
instructions() {
  local out="$WORK/callgrind.$1.$2"
  # shellcheck disable=SC2086
  valgrind --tool=callgrind --callgrind-out-file="$out" \
    "$GOTO" load --cores 1 -c "$CONNS" -n "$2" --io-driver "$1" --no-progress --json $EXTRA "$URL" \
    >"$WORK/json.$1.$2" 2>"$WORK/log.$1.$2" ||
    { echo "callgrind-load: goto load failed:" >&2; tail -5 "$WORK/log.$1.$2" >&2; exit 1; }
  python3 - "$WORK/json.$1.$2" "$2" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
ok = d["countsByStatusCodes"].get("200", 0)
if ok != int(sys.argv[2]):
    sys.exit(f"callgrind-load: expected {sys.argv[2]} responses of 200, got {d['countsByStatusCodes']}")
EOF
  awk '/^summary:/ {print $2}' "$out"
}

echo "callgrind-load: goto load --cores 1 -c $CONNS, N=$N, server=$SERVER ($URL), $REPS rep(s)"
printf '%-7s %16s %16s %14s\n' driver "Ir (n=N)" "Ir (n=N/10)" "Ir/request"
SMALL=$((N / 10))
for driver in $DRIVERS; do
  pers=""
  for _ in $(seq "$REPS"); do
    big=$(instructions "$driver" "$N")
    small=$(instructions "$driver" "$SMALL")
    per=$(python3 -c "print(round(($big - $small) / ($N - $SMALL)))")
    pers="$pers $per"
    printf '%-7s %16s %16s %14s\n' "$driver" "$big" "$small" "$per"
  done
  if [ "$REPS" -gt 1 ]; then
    python3 -c "import statistics, sys; print(f'{sys.argv[1]:<7} median {statistics.median(map(int, sys.argv[2:])):>37}')" "$driver" $pers
  fi
done
