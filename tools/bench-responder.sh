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
#   BASE=/path/to/older/goto ...                 # also that binary, same runs
#   THREADS=2 tools/bench-responder.sh  # goto --control-threads 2 vs nginx with
#                                       # 2 workers, servers and wrk on CPUs 0,1
#                                       # (wrk -t2): a ratio, not a one-core figure
set -euo pipefail

REPS=${REPS:-3}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
NGINX_PORT=${NGINX_PORT:-18180}
GOTO_PORT=${GOTO_PORT:-18181}
THREADS=${THREADS:-1}
if [ "$THREADS" = 1 ]; then SERVER_CPUS=${SERVER_CPUS:-1}; WRK_CPUS=${WRK_CPUS:-0}; else
  SERVER_CPUS=${SERVER_CPUS:-0-$((THREADS - 1))}; WRK_CPUS=${WRK_CPUS:-$SERVER_CPUS}; fi
WRK_THREADS=${WRK_THREADS:-$THREADS}
. "$(dirname "$0")/lib.sh"

lib_need bench-responder "apt-get install -y wrk nginx-light util-linux" wrk nginx taskset curl bc
lib_goto bench-responder
lib_workdir bench-responder
NGINX_WORKERS=$THREADS lib_nginx "$NGINX_PORT" "$SERVER_CPUS"

# url pid... -> "req/s server-CPU-us-per-request"; CPU time (user+sys) of the
# server processes is the steadier figure when other work shares the machine.
run() {
  local t0 t1 out reqs url=$1
  shift
  t0=$(lib_ticks_sum "$@")
  out=$(taskset -c "$WRK_CPUS" wrk -t"$WRK_THREADS" -c"$CONNS" -d"$DURATION" "$url")
  t1=$(lib_ticks_sum "$@")
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  echo "$(echo "$out" | awk '/Requests\/sec/ {print $2}') $(echo "($t1 - $t0) * 1000000 / $CLK_TCK / $reqs" | bc -l)"
}

start_goto() { # logs flag [binary]
  taskset -c "$SERVER_CPUS" "${2:-$GOTO}" --port "$GOTO_PORT" --request-logs="$1" --log-level warn \
    --control-threads "$THREADS" 2>/dev/null &
  echo $! > "$WORK/goto.pid"
  LIB_PIDS+=("$(cat "$WORK/goto.pid")")
  lib_wait_url bench-responder "http://127.0.0.1:$GOTO_PORT/"
}
stop_goto() { kill "$(cat "$WORK/goto.pid")"; wait "$(cat "$WORK/goto.pid")" 2>/dev/null || true; }

: > "$WORK/nginx.txt"; : > "$WORK/off.txt"; : > "$WORK/on.txt"; : > "$WORK/base-off.txt"; : > "$WORK/base-on.txt"
for i in $(seq 1 "$REPS"); do
  # shellcheck disable=SC2086
  run "http://127.0.0.1:$NGINX_PORT/" $NGINX_WORKERS_PIDS >> "$WORK/nginx.txt"
  start_goto false; run "http://127.0.0.1:$GOTO_PORT/some/api" "$(cat "$WORK/goto.pid")" >> "$WORK/off.txt"; stop_goto
  start_goto true;  run "http://127.0.0.1:$GOTO_PORT/some/api" "$(cat "$WORK/goto.pid")" >> "$WORK/on.txt";  stop_goto
  if [ -n "${BASE:-}" ]; then
    start_goto false "$BASE"; run "http://127.0.0.1:$GOTO_PORT/some/api" "$(cat "$WORK/goto.pid")" >> "$WORK/base-off.txt"; stop_goto
    start_goto true "$BASE";  run "http://127.0.0.1:$GOTO_PORT/some/api" "$(cat "$WORK/goto.pid")" >> "$WORK/base-on.txt";  stop_goto
  fi
  echo "rep $i (req/s, cpu us/req): nginx $(tail -1 "$WORK/nginx.txt")  goto(logs off) $(tail -1 "$WORK/off.txt")  goto(logs on) $(tail -1 "$WORK/on.txt")${BASE:+  base(logs off) $(tail -1 "$WORK/base-off.txt")  base(logs on) $(tail -1 "$WORK/base-on.txt")}"
done

n=$(lib_median "$WORK/nginx.txt" 1); off=$(lib_median "$WORK/off.txt" 1); on=$(lib_median "$WORK/on.txt" 1)
nc=$(lib_median "$WORK/nginx.txt" 2); offc=$(lib_median "$WORK/off.txt" 2); onc=$(lib_median "$WORK/on.txt" 2)
echo
echo "date: $(date -u +%F)  conns: $CONNS  duration: $DURATION  reps: $REPS (medians)  threads: $THREADS (server CPUs $SERVER_CPUS, wrk CPUs $WRK_CPUS)"
printf '%-24s %10s %8s %14s %16s\n' server req/s ratio "cpu us/req" "nginx cpu/goto"
printf '%-24s %10.0f %8s %14.2f %16s\n' "nginx return 200" "$n" 1.00 "$nc" 1.00
printf '%-24s %10.0f %8.2f %14.2f %16.2f\n' "goto (request logs off)" "$off" "$(echo "$off / $n" | bc -l)" "$offc" "$(echo "$nc / $offc" | bc -l)"
printf '%-24s %10.0f %8.2f %14.2f %16.2f\n' "goto (request logs on)" "$on" "$(echo "$on / $n" | bc -l)" "$onc" "$(echo "$nc / $onc" | bc -l)"
if [ -n "${BASE:-}" ]; then
  for l in off on; do
    b=$(lib_median "$WORK/base-$l.txt" 1); bc_=$(lib_median "$WORK/base-$l.txt" 2)
    printf '%-24s %10.0f %8.2f %14.2f %16.2f\n' "base (request logs $l)" "$b" "$(echo "$b / $n" | bc -l)" "$bc_" "$(echo "$nc / $bc_" | bc -l)"
  done
fi
