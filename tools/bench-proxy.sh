#!/usr/bin/env bash
# One proxy hop, goto's against nginx's `proxy_pass` (upstream keepalive),
# per shared/BENCH.md: the upstream (nginx `return 200 "ok"`, 1 worker) and
# wrk share WRK_CORE; the proxy under test has SERVER_CORE to itself. Runs
# alternate (nginx proxy, goto proxy[, base proxy]) REPS times; for each the
# script records wrk's req/s and the proxy's CPU time (user+sys, from
# /proc/<pid>/stat) per request, and prints the medians with goto's ratios
# to nginx's proxy. A direct run (wrk -> upstream) opens each rep for scale.
#
# Usage: tools/bench-proxy.sh [duration_s=5] [connections=64]
# Env:   REPS (5), GOTO (default: release build via cargo; BUILD=0 skips the
#        build), BASE (another goto binary, measured in the same runs),
#        GOTO_ARGS (extra flags for goto, e.g. "--control-threads 2"),
#        SERVER_CORE (1), WRK_CORE (0), PORT_UP (18801), PORT_PROXY (18802),
#        PORT_NGINX_PROXY (18803), URI_PATH (/bench)
set -euo pipefail

DUR=${1:-5}
CONNS=${2:-64}
REPS=${REPS:-5}
SERVER_CORE=${SERVER_CORE:-1}
WRK_CORE=${WRK_CORE:-0}
PORT_UP=${PORT_UP:-18801}
PORT_PROXY=${PORT_PROXY:-18802}
PORT_NGINX_PROXY=${PORT_NGINX_PROXY:-18803}
URI_PATH=${URI_PATH:-/bench}
. "$(dirname "$0")/lib.sh"

lib_need bench-proxy "apt-get install -y wrk nginx-light util-linux bc" wrk nginx taskset curl bc
lib_goto bench-proxy
lib_workdir bench-proxy

# The upstream: nginx `return 200 "ok"` beside wrk.
lib_nginx "$PORT_UP" "$WRK_CORE"
UP_URL="http://127.0.0.1:$PORT_UP"

# nginx as the proxy under test: one worker, HTTP/1.1 upstream connections
# kept alive (as goto's pool keeps them), access log off.
mkdir -p "$WORK/px"
cat >"$WORK/px/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $WORK/px/nginx.pid;
error_log $WORK/px/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000000;
  keepalive_timeout 300s;
  client_body_temp_path $WORK/px/body;
  proxy_temp_path $WORK/px/proxy;
  fastcgi_temp_path $WORK/px/fastcgi;
  uwsgi_temp_path $WORK/px/uwsgi;
  scgi_temp_path $WORK/px/scgi;
  upstream up {
    server 127.0.0.1:$PORT_UP;
    keepalive 1024;
    keepalive_requests 1000000000;
    keepalive_timeout 300s;
  }
  server {
    listen 127.0.0.1:$PORT_NGINX_PROXY;
    location / {
      proxy_pass http://up;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
NGINX
taskset -c "$SERVER_CORE" nginx -c "$WORK/px/nginx.conf" &
NPX_PID=$!
LIB_PIDS+=("$NPX_PID")
lib_wait_url bench-proxy "http://127.0.0.1:$PORT_NGINX_PROXY/"
NPX_WORKER=$(pgrep -P "$NPX_PID" | head -1)

start_goto() { # binary -> pid in $WORK/goto.pid
    # shellcheck disable=SC2086
    taskset -c "$SERVER_CORE" "$1" --port "$PORT_PROXY" --request-logs=false --log-level warn ${GOTO_ARGS:-} 2>/dev/null &
    echo $! >"$WORK/goto.pid"
    LIB_PIDS+=("$(cat "$WORK/goto.pid")")
    lib_wait_url bench-proxy "http://127.0.0.1:$PORT_PROXY/label"
    curl -sf "http://127.0.0.1:$PORT_PROXY/request/proxy/targets/add" \
        --data "{\"name\":\"up\",\"url\":\"$UP_URL\",\"match\":{\"uris\":[\"/\"]}}" >/dev/null
    # Warm up (pooled upstream connections, allocator).
    taskset -c "$WRK_CORE" wrk -t1 -c"$CONNS" -d1s "http://127.0.0.1:$PORT_PROXY$URI_PATH" >/dev/null
}
stop_goto() { kill "$(cat "$WORK/goto.pid")"; wait "$(cat "$WORK/goto.pid")" 2>/dev/null || true; }

# url pid -> "req/s cpu-us-per-request" (CPU time of pid over the run).
run() {
    local t0 t1 out reqs errs
    t0=$(lib_ticks "$2")
    out=$(taskset -c "$WRK_CORE" wrk -t1 -c"$CONNS" -d"${DUR}s" "$1")
    t1=$(lib_ticks "$2")
    reqs=$(echo "$out" | awk '/requests in/ {print $1}')
    errs=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
    [ -z "$errs" ] || echo "bench-proxy: $1 answered $errs non-2xx" >&2
    echo "$(echo "$out" | awk '/Requests\/sec/ {print $2}') $(echo "($t1 - $t0) * 1000000 / $CLK_TCK / $reqs" | bc -l)"
}

taskset -c "$WRK_CORE" wrk -t1 -c"$CONNS" -d1s "http://127.0.0.1:$PORT_NGINX_PROXY$URI_PATH" >/dev/null
: >"$WORK/direct.txt"; : >"$WORK/nginx.txt"; : >"$WORK/goto.txt"; : >"$WORK/base.txt"
for i in $(seq 1 "$REPS"); do
    run "$UP_URL$URI_PATH" "$NGINX_WORKER" >>"$WORK/direct.txt"
    run "http://127.0.0.1:$PORT_NGINX_PROXY$URI_PATH" "$NPX_WORKER" >>"$WORK/nginx.txt"
    start_goto "$GOTO"
    run "http://127.0.0.1:$PORT_PROXY$URI_PATH" "$(cat "$WORK/goto.pid")" >>"$WORK/goto.txt"
    stop_goto
    if [ -n "${BASE:-}" ]; then
        start_goto "$BASE"
        run "http://127.0.0.1:$PORT_PROXY$URI_PATH" "$(cat "$WORK/goto.pid")" >>"$WORK/base.txt"
        stop_goto
    fi
    echo "rep $i (req/s, proxy cpu us/req): direct $(tail -1 "$WORK/direct.txt")  nginx proxy $(tail -1 "$WORK/nginx.txt")  goto proxy $(tail -1 "$WORK/goto.txt")${BASE:+  base proxy $(tail -1 "$WORK/base.txt")}"
done

d=$(lib_median "$WORK/direct.txt" 1); dc=$(lib_median "$WORK/direct.txt" 2)
n=$(lib_median "$WORK/nginx.txt" 1); nc=$(lib_median "$WORK/nginx.txt" 2)
echo
echo "date: $(date -u +%F)  conns: $CONNS  duration: ${DUR}s  reps: $REPS (medians)${GOTO_ARGS:+  goto args: $GOTO_ARGS}"
printf '%-22s %10s %8s %14s %12s\n' "" req/s "x nginx" "cpu us/req" "x nginx"
printf '%-22s %10.0f %8s %14.2f %12s\n' "direct (upstream)" "$d" "" "$dc" ""
printf '%-22s %10.0f %8.2f %14.2f %12.2f\n' "nginx proxy_pass" "$n" 1 "$nc" 1
rows="goto"
[ -n "${BASE:-}" ] && rows="goto base"
for r in $rows; do
    g=$(lib_median "$WORK/$r.txt" 1); gc=$(lib_median "$WORK/$r.txt" 2)
    printf '%-22s %10.0f %8.2f %14.2f %12.2f\n' "$r proxy" "$g" "$(echo "$g / $n" | bc -l)" "$gc" "$(echo "$gc / $nc" | bc -l)"
done
echo "goals: goto proxy >= 1.00x nginx's req/s, <= 1.00x its CPU per request"
