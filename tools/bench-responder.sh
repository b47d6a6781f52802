#!/usr/bin/env bash
# Measures goto's catch-all responder against nginx `return 200`, per BENCH.md:
# the server under test pinned to CPU 1, wrk pinned to CPU 0, runs alternating
# (nginx, goto logs off, goto logs on, ...), medians over REPS. Besides wrk's
# req/s it reports the server's CPU time (user+sys) per request, which holds
# steadier than req/s when other work shares the machine.
#
#   tools/bench-responder.sh            # 3 reps x 10 s at 64 connections
#   REPS=1 DURATION=3s tools/bench-responder.sh   # quick look
#   GOTO=/path/to/goto BUILD=0 ...               # another binary, no build
set -euo pipefail

REPS=${REPS:-3}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
NGINX_PORT=${NGINX_PORT:-18180}
GOTO_PORT=${GOTO_PORT:-18181}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null; rm -rf "$work"' EXIT

for t in wrk nginx taskset; do
  command -v "$t" >/dev/null || { echo "needs $t (apt-get install -y wrk nginx-light util-linux)" >&2; exit 1; }
done
if [ "${BUILD:-1}" = 1 ]; then (cd "$root" && cargo build --release --quiet); fi
GOTO=${GOTO:-${CARGO_TARGET_DIR:-$root/target}/release/goto}

cat > "$work/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000000;
  client_body_temp_path $work;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / { return 200 "ok"; }
  }
}
NGINX
taskset -c 1 nginx -c "$work/nginx.conf" -p "$work"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# url pid -> "req/s server-CPU-us-per-request"; CPU time (user+sys) of the
# server process is the steadier figure when other work shares the machine.
run() {
  local t0 t1 out reqs secs
  t0=$(cpu_ticks "$2")
  out=$(taskset -c 0 wrk -t1 -c"$CONNS" -d"$DURATION" "$1")
  t1=$(cpu_ticks "$2")
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  echo "$(echo "$out" | awk '/Requests\/sec/ {print $2}') $(echo "($t1 - $t0) * 1000000 / $TCK / $reqs" | bc -l)"
}
TCK=$(getconf CLK_TCK)

wait_port() {
  for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0
    sleep 0.05
  done
  echo "port $1 never answered" >&2; exit 1
}

start_goto() { # logs flag
  taskset -c 1 "$GOTO" --port "$GOTO_PORT" --request-logs="$1" --log-level warn 2>/dev/null &
  echo $! > "$work/goto.pid"
  wait_port "$GOTO_PORT"
}
stop_goto() { kill "$(cat "$work/goto.pid")"; wait "$(cat "$work/goto.pid")" 2>/dev/null || true; }

wait_port "$NGINX_PORT"
NGINX_WORKER=$(pgrep -P "$(cat "$work/nginx.pid")" | head -1)
: > "$work/nginx.txt"; : > "$work/off.txt"; : > "$work/on.txt"
for i in $(seq 1 "$REPS"); do
  run "http://127.0.0.1:$NGINX_PORT/" "$NGINX_WORKER" >> "$work/nginx.txt"
  start_goto false; run "http://127.0.0.1:$GOTO_PORT/some/api" "$(cat "$work/goto.pid")" >> "$work/off.txt"; stop_goto
  start_goto true;  run "http://127.0.0.1:$GOTO_PORT/some/api" "$(cat "$work/goto.pid")" >> "$work/on.txt";  stop_goto
  echo "rep $i (req/s, cpu us/req): nginx $(tail -1 "$work/nginx.txt")  goto(logs off) $(tail -1 "$work/off.txt")  goto(logs on) $(tail -1 "$work/on.txt")"
done

median() { cut -d' ' -f"$2" "$1" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
n=$(median "$work/nginx.txt" 1); off=$(median "$work/off.txt" 1); on=$(median "$work/on.txt" 1)
nc=$(median "$work/nginx.txt" 2); offc=$(median "$work/off.txt" 2); onc=$(median "$work/on.txt" 2)
echo
echo "date: $(date -u +%F)  conns: $CONNS  duration: $DURATION  reps: $REPS (medians)"
printf '%-24s %10s %8s %14s %16s\n' server req/s ratio "cpu us/req" "nginx cpu/goto"
printf '%-24s %10.0f %8s %14.2f %16s\n' "nginx return 200" "$n" 1.00 "$nc" 1.00
printf '%-24s %10.0f %8.2f %14.2f %16.2f\n' "goto (request logs off)" "$off" "$(echo "$off / $n" | bc -l)" "$offc" "$(echo "$nc / $offc" | bc -l)"
printf '%-24s %10.0f %8.2f %14.2f %16.2f\n' "goto (request logs on)" "$on" "$(echo "$on / $n" | bc -l)" "$onc" "$(echo "$nc / $onc" | bc -l)"
