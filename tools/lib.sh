# shellcheck shell=bash
# What the bench scripts share (sourced, not run): tool checks, the goto
# binary, a work directory cleaned up on exit with every process started,
# nginx `return 200 "ok"` pinned to a CPU (shared/BENCH.md's peer), CPU
# time of a process, and medians. Every function is prefixed `lib_`.
#
#   . "$(dirname "$0")/lib.sh"
#   lib_need bench-x "apt-get install nginx-light wrk" nginx wrk
#   lib_goto bench-x            # sets GOTO; builds unless BUILD=0 or GOTO is set
#   lib_workdir bench-x         # sets WORK; kills LIB_PIDS and removes WORK on exit
#   lib_nginx "$PORT" "$CPU"    # sets NGINX_PID, NGINX_WORKER, NGINX_URL

LIB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LIB_PIDS=()
CLK_TCK=$(getconf CLK_TCK)

# lib_need NAME HINT TOOL... : exits unless every TOOL is on PATH.
lib_need() {
  local name=$1 hint=$2 t
  shift 2
  for t in "$@"; do
    command -v "$t" >/dev/null || { echo "$name: $t is required ($hint)" >&2; exit 1; }
  done
}

# lib_time NAME : exits unless /usr/bin/time (GNU time, for CPU seconds) exists.
lib_time() {
  [ -x /usr/bin/time ] || { echo "$1: /usr/bin/time is required (apt-get install time)" >&2; exit 1; }
}

# lib_goto NAME [PROFILE] : sets GOTO, by default the build of PROFILE
# (release; profiling for the callgrind scripts) under $CARGO_TARGET_DIR or
# target/, built first unless BUILD=0 or GOTO is given.
lib_goto() {
  local profile=${2:-release}
  if [ -z "${GOTO:-}" ]; then
    if [ "${BUILD:-1}" = 1 ]; then (cd "$LIB_ROOT" && cargo build --profile "$profile" --quiet); fi
    GOTO=${CARGO_TARGET_DIR:-$LIB_ROOT/target}/$profile/goto
  fi
  [ -x "$GOTO" ] || { echo "$1: no goto binary at $GOTO" >&2; exit 1; }
}

# lib_workdir NAME : sets WORK; on exit, kills LIB_PIDS and removes WORK
# (kept, and named, with KEEP=1).
lib_workdir() {
  WORK=$(mktemp -d "/tmp/$1.XXXXXX")
  trap lib_cleanup EXIT
}

lib_cleanup() {
  local p
  for p in "${LIB_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ "${KEEP:-0}" = 1 ]; then
    echo "files kept in $WORK" >&2
  elif [ -n "${WORK:-}" ]; then
    rm -rf "$WORK"
  fi
  return 0
}

# lib_wait_url NAME URL [curl flags...] : polls until URL answers (5 s, or
# LIB_WAIT_TRIES x 50 ms: a server under valgrind starts slowly).
lib_wait_url() {
  local name=$1 url=$2 i
  shift 2
  for i in $(seq "${LIB_WAIT_TRIES:-100}"); do
    curl -sf -o /dev/null "$@" "$url" && return 0
    sleep 0.05
  done
  echo "$name: $url never answered" >&2
  exit 1
}

# lib_nginx PORT CPU : nginx, 1 worker (NGINX_WORKERS), `return 200 "ok"` on 127.0.0.1:PORT,
# pinned to CPU, access log off, keep-alive for the whole run. Shapes:
# NGINX_LISTEN (listen options, e.g. "http2" or "backlog=4096"),
# NGINX_CONNS (worker_connections, 4096), NGINX_MAIN, NGINX_HTTP and
# NGINX_SERVER (more directives in those blocks), NGINX_CURL (curl flags
# for the readiness check, e.g. --http2-prior-knowledge).
# Sets NGINX_PID (master), NGINX_WORKER (the first worker),
# NGINX_WORKERS_PIDS (all of them) and NGINX_URL.
lib_nginx() {
  local port=$1 cpu=$2
  cat >"$WORK/nginx.conf" <<NGINX
worker_processes ${NGINX_WORKERS:-1};
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/error.log warn;
${NGINX_MAIN:-}
events { worker_connections ${NGINX_CONNS:-4096}; }
http {
  access_log off;
  keepalive_requests 1000000000;
  keepalive_timeout 300s;
  client_body_temp_path $WORK/body;
  proxy_temp_path $WORK/proxy;
  fastcgi_temp_path $WORK/fastcgi;
  uwsgi_temp_path $WORK/uwsgi;
  scgi_temp_path $WORK/scgi;
  ${NGINX_HTTP:-}
  server {
    listen 127.0.0.1:$port ${NGINX_LISTEN:-};
    ${NGINX_SERVER:-}
    location / { return 200 "ok"; }
  }
}
NGINX
  taskset -c "$cpu" nginx -c "$WORK/nginx.conf" &
  NGINX_PID=$!
  LIB_PIDS+=("$NGINX_PID")
  NGINX_URL="http://127.0.0.1:$port/"
  # shellcheck disable=SC2086
  lib_wait_url nginx "$NGINX_URL" ${NGINX_CURL:-}
  NGINX_WORKER=$(pgrep -P "$NGINX_PID" | head -1)
  NGINX_WORKERS_PIDS=$(pgrep -P "$NGINX_PID" | tr '\n' ' ')
}

# lib_ticks PID : CPU time (user+sys) of PID so far, in clock ticks (CLK_TCK a second).
lib_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# lib_ticks_sum PID... : the same, summed over several processes.
lib_ticks_sum() { local p t=0; for p in "$@"; do t=$((t + $(lib_ticks "$p"))); done; echo "$t"; }

# lib_median FILE FIELD : the median of a whitespace-separated column.
lib_median() { cut -d' ' -f"$2" "$1" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
