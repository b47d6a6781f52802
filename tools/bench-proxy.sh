#!/usr/bin/env bash
# CPU cost of one goto proxy hop, compared with a direct request.
#
# Runs an upstream goto and a proxy goto (target: match "/" -> upstream),
# both pinned to SERVER_CORE, and wrk pinned to WRK_CORE. Phases:
#   direct: wrk -> upstream          CPU/request = upstream CPU time / requests
#   proxy:  wrk -> proxy -> upstream CPU/request = proxy CPU time / requests
#   proxy again with the upstream moved to WRK_CORE (proxy alone on its core)
# CPU time is utime+stime from /proc/<pid>/stat over the phase. The ratio
# proxy/direct is the hop's cost in units of a direct request (goal <= 1.3).
#
# Usage: tools/bench-proxy.sh [duration_s=5] [connections=32]
# Env:   GOTO=path/to/goto (default: release build via cargo; BUILD=0 skips
#        the build), SERVER_CORE=0,
#        WRK_CORE=1, PORT_UP=18801, PORT_PROXY=18802, URI_PATH=/bench
set -euo pipefail

DUR=${1:-5}
CONNS=${2:-32}
SERVER_CORE=${SERVER_CORE:-0}
WRK_CORE=${WRK_CORE:-1}
PORT_UP=${PORT_UP:-18801}
PORT_PROXY=${PORT_PROXY:-18802}
URI_PATH=${URI_PATH:-/bench}
. "$(dirname "$0")/lib.sh"

lib_need bench-proxy "apt-get install -y wrk" wrk taskset curl
lib_goto bench-proxy
lib_workdir bench-proxy

start() { # port label
    taskset -c "$SERVER_CORE" "$GOTO" --port "$1" --label "$2" --request-logs=false 2>/dev/null &
    LIB_PIDS+=("$!")
    lib_wait_url bench-proxy "http://127.0.0.1:$1/label"
}

# wrk's total request count.
run_wrk() { # url
    taskset -c "$WRK_CORE" wrk -t1 -c"$CONNS" -d"${DUR}s" "$1" | awk '/requests in/ {print $1}'
}

start "$PORT_UP" upstream
UP_PID=${LIB_PIDS[-1]}
start "$PORT_PROXY" proxy
PX_PID=${LIB_PIDS[-1]}
curl -sf "http://127.0.0.1:$PORT_PROXY/request/proxy/targets/add" \
    --data "{\"name\":\"up\",\"url\":\"http://127.0.0.1:$PORT_UP\",\"match\":{\"uris\":[\"/\"]}}" >/dev/null
HZ=$CLK_TCK

# Warm up both paths (pooled connections, allocator).
taskset -c "$WRK_CORE" wrk -t1 -c"$CONNS" -d1s "http://127.0.0.1:$PORT_PROXY$URI_PATH" >/dev/null

t0=$(lib_ticks "$UP_PID")
direct_n=$(run_wrk "http://127.0.0.1:$PORT_UP$URI_PATH")
direct_t=$(( $(lib_ticks "$UP_PID") - t0 ))

p0=$(lib_ticks "$PX_PID"); u0=$(lib_ticks "$UP_PID")
proxy_n=$(run_wrk "http://127.0.0.1:$PORT_PROXY$URI_PATH")
proxy_t=$(( $(lib_ticks "$PX_PID") - p0 ))
up_t=$(( $(lib_ticks "$UP_PID") - u0 ))

# Same again with the upstream moved to wrk's core, so the proxy has the
# server core to itself (as the upstream had in the direct phase) and no
# proxy<->upstream context switches are charged to it.
taskset -a -p -c "$WRK_CORE" "$UP_PID" >/dev/null
p0=$(lib_ticks "$PX_PID")
split_n=$(run_wrk "http://127.0.0.1:$PORT_PROXY$URI_PATH")
split_t=$(( $(lib_ticks "$PX_PID") - p0 ))

awk -v dn="$direct_n" -v dt="$direct_t" -v pn="$proxy_n" -v pt="$proxy_t" -v ut="$up_t" \
    -v sn="$split_n" -v st="$split_t" -v hz="$HZ" -v dur="$DUR" -v c="$CONNS" 'BEGIN {
    d = dt / hz / dn * 1e6; p = pt / hz / pn * 1e6; u = ut / hz / pn * 1e6; s = st / hz / sn * 1e6
    printf "connections=%d duration=%ss\n", c, dur
    printf "direct:            %9d req %8.0f req/s  upstream CPU %6.2f us/req\n", dn, dn / dur, d
    printf "proxy, same core:  %9d req %8.0f req/s  proxy CPU    %6.2f us/req (upstream %6.2f us/req)\n", pn, pn / dur, p, u
    printf "proxy, own core:   %9d req %8.0f req/s  proxy CPU    %6.2f us/req\n", sn, sn / dur, s
    printf "hop/direct CPU ratio: %.2f same core, %.2f own core (goal <= 1.30)\n", p / d, s / d
}'
