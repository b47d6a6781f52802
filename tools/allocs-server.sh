#!/usr/bin/env bash
# Counts the heap allocations goto's server makes per runtime request, in
# steady state: the server runs under callgrind, `goto load` warms it up,
# the counters are zeroed, N requests are sent and the counters dumped; the
# calls to malloc, calloc and realloc (and free) in that window, divided by
# N, are the allocations of one request. Like callgrind-responder.sh, the
# figure does not move with the machine's load. VERBOSE=1 also lists the
# functions that called the allocator, with their calls per request.
#
# Usage: tools/allocs-server.sh                 # catch-all, logs off and on
#        PROXY=1 tools/allocs-server.sh         # the proxy hop (upstream: goto)
#        PROXY=1 UPSTREAM=nginx tools/allocs-server.sh   # upstream: nginx
#                                               # `return 200` (bench-proxy's)
#        URI_PATH=/echo VERBOSE=1 tools/allocs-server.sh
# Env:   N (requests, default 5000), CONNS (16), PORT (18293), UP_PORT (18294),
#        URI_PATH (/some/api), LOGS ("false true"), GOTO (binary; default
#        the profiling build), BUILD=0 skips the build, KEEP=1 keeps the
#        callgrind files, TOP (callers listed with VERBOSE, 15).
set -euo pipefail

N=${N:-5000}
CONNS=${CONNS:-16}
PORT=${PORT:-18293}
UP_PORT=${UP_PORT:-18294}
URI_PATH=${URI_PATH:-/some/api}
LOGS=${LOGS:-"false true"}
LIB_WAIT_TRIES=400 # a server under valgrind takes seconds to answer
. "$(dirname "$0")/lib.sh"
lib_need allocs-server "apt-get install valgrind curl python3" valgrind callgrind_control curl python3
lib_goto allocs-server profiling
lib_workdir allocs-server
wait_url() { lib_wait_url allocs-server "$1"; }

load() { # requests
  "$GOTO" load --cores 1 -c "$CONNS" -n "$1" --no-progress --json "http://127.0.0.1:$PORT$URI_PATH" \
    >"$WORK/load.json" 2>"$WORK/load.log" ||
    { echo "allocs-server: goto load failed:" >&2; tail -5 "$WORK/load.log" >&2; exit 1; }
}

UPSTREAM=${UPSTREAM:-goto}
if [ "${PROXY:-0}" = 1 ] && [ "$UPSTREAM" = nginx ]; then
  # Its answer carries no custom header names (hyper allocates each one it
  # parses), as bench-proxy.sh's upstream.
  command -v nginx >/dev/null || { echo "allocs-server: nginx is required for UPSTREAM=nginx" >&2; exit 1; }
  mkdir -p "$WORK/nginx"
  cat >"$WORK/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 1000000000;
  client_body_temp_path $WORK/nginx; proxy_temp_path $WORK/nginx; fastcgi_temp_path $WORK/nginx;
  uwsgi_temp_path $WORK/nginx; scgi_temp_path $WORK/nginx;
  server { listen 127.0.0.1:$UP_PORT; location / { return 200 "ok"; } }
}
NGINX
  nginx -c "$WORK/nginx.conf" &
  LIB_PIDS+=("$!")
  wait_url "http://127.0.0.1:$UP_PORT/"
elif [ "${PROXY:-0}" = 1 ]; then
  "$GOTO" --port "$UP_PORT" --request-logs=false --log-level warn 2>/dev/null &
  LIB_PIDS+=("$!")
  wait_url "http://127.0.0.1:$UP_PORT/label"
fi

# Sums the calls to the allocator's entry points in one callgrind dump.
# Callgrind compresses names: `cfn=(7) malloc` names id 7 once, later
# `cfn=(7)` alone; a `calls=COUNT ...` line follows the callee it counts.
count() { # dump n verbose
  python3 - "$1" "$2" "$3" "${TOP:-15}" <<'PY'
import re, sys
path, n, verbose, top = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", int(sys.argv[4])
ALLOC = {"malloc", "calloc", "realloc", "aligned_alloc", "posix_memalign", "memalign"}
FREE = {"free"}
names, cur, callee = {}, None, None
allocs = frees = 0
by_caller = {}
ref = re.compile(r"^\((\d+)\)(?: (.*))?$")
def name(v):
    m = ref.match(v)
    if not m:
        return v
    if m.group(2) is not None:
        names[m.group(1)] = m.group(2)
    return names.get(m.group(1), "?")
for line in open(path, errors="replace"):
    if line.startswith("fn="):
        cur = name(line[3:].rstrip("\n"))
    elif line.startswith("cfn="):
        callee = name(line[4:].rstrip("\n"))
    elif line.startswith("calls=") and callee is not None:
        c = int(line[6:].split()[0])
        base = callee.split("'")[0]
        if base in ALLOC and cur not in ALLOC:
            allocs += c
            by_caller[cur] = by_caller.get(cur, 0) + c
        elif base in FREE and cur not in FREE | ALLOC:
            frees += c
        callee = None
print(f"{allocs / n:.2f} {frees / n:.2f}")
if verbose:
    for f, c in sorted(by_caller.items(), key=lambda kv: -kv[1])[:top]:
        print(f"    {c / n:8.3f}  {f[:150]}", file=sys.stderr)
PY
}

per_request() { # logs
  local out="$WORK/callgrind.$1" pid
  valgrind --tool=callgrind --callgrind-out-file="$out.%p" \
    "$GOTO" --port "$PORT" --request-logs="$1" --log-level warn 2>"$WORK/server.$1.log" >/dev/null &
  pid=$!
  LIB_PIDS+=("$pid")
  wait_url "http://127.0.0.1:$PORT/label"
  if [ "${PROXY:-0}" = 1 ]; then
    curl -sf "http://127.0.0.1:$PORT/request/proxy/targets/add" \
      --data "{\"name\":\"up\",\"url\":\"http://127.0.0.1:$UP_PORT\",\"match\":{\"uris\":[\"/\"]}}" >/dev/null
  fi
  load $((N / 5 + 200))
  callgrind_control -z "$pid" >/dev/null 2>&1
  load "$N"
  callgrind_control -d "$pid" >/dev/null 2>&1
  kill "$pid"; wait "$pid" 2>/dev/null || true
  local dump
  dump=$(ls "$out.$pid".* 2>/dev/null | sort -t. -k3 -n | tail -1)
  [ -n "$dump" ] || { echo "allocs-server: no dump written" >&2; exit 1; }
  [ "${KEEP:-0}" = 1 ] && echo "dump for logs=$1: $dump" >&2
  [ "${VERBOSE:-0}" = 1 ] && echo "  callers of the allocator, logs=$1 (calls per request):" >&2
  count "$dump" "$N" "${VERBOSE:-0}"
}

what="catch-all $URI_PATH"
[ "${PROXY:-0}" = 1 ] && what="proxy hop $URI_PATH (upstream: $UPSTREAM)"
echo "allocs-server: $what, N=$N, $CONNS connections"
printf '%-14s %14s %10s\n' "request logs" "allocs/request" "frees/req"
for l in $LOGS; do
  read -r a f < <(per_request "$l")
  printf '%-14s %14s %10s\n' "$l" "$a" "$f"
done
