#!/usr/bin/env bash
# Measures goto's catch-all responder against nginx `return 200`, per BENCH.md:
# the server under test pinned to CPU 1, wrk pinned to CPU 0, runs alternating
# (nginx, goto logs off, goto logs on, ...), medians over REPS.
#
#   tools/bench-responder.sh            # 3 reps x 10 s at 64 connections
#   REPS=1 DURATION=3s tools/bench-responder.sh   # quick look
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
(cd "$root" && cargo build --release --quiet)
GOTO="$root/target/release/goto"

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

rps() { # url -> requests/sec from wrk
  taskset -c 0 wrk -t1 -c"$CONNS" -d"$DURATION" "$1" | awk '/Requests\/sec/ {print $2}'
}

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
: > "$work/nginx.txt"; : > "$work/off.txt"; : > "$work/on.txt"
for i in $(seq 1 "$REPS"); do
  rps "http://127.0.0.1:$NGINX_PORT/" >> "$work/nginx.txt"
  start_goto false; rps "http://127.0.0.1:$GOTO_PORT/some/api" >> "$work/off.txt"; stop_goto
  start_goto true;  rps "http://127.0.0.1:$GOTO_PORT/some/api" >> "$work/on.txt";  stop_goto
  echo "rep $i: nginx $(tail -1 "$work/nginx.txt")  goto(logs off) $(tail -1 "$work/off.txt")  goto(logs on) $(tail -1 "$work/on.txt")"
done

median() { sort -g "$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
n=$(median "$work/nginx.txt"); off=$(median "$work/off.txt"); on=$(median "$work/on.txt")
echo
echo "date: $(date -u +%F)  conns: $CONNS  duration: $DURATION  reps: $REPS (medians)"
printf '%-22s %12s %8s\n' server req/s ratio
printf '%-22s %12.0f %8s\n' "nginx return 200" "$n" 1.00
printf '%-22s %12.0f %8.2f\n' "goto (request logs off)" "$off" "$(echo "$off / $n" | bc -l)"
printf '%-22s %12.0f %8.2f\n' "goto (request logs on)" "$on" "$(echo "$on / $n" | bc -l)"
