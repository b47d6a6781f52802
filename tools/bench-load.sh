#!/usr/bin/env bash
# Compares `goto load --cores 1` with wrk (and oha, when `oha` is on PATH)
# against nginx on loopback, the way shared/BENCH.md asks: nginx (1 worker,
# `return 200 "ok"`) pinned to CPU 1, clients pinned to CPU 0, runs
# interleaved (wrk, goto, oha, wrk, goto, oha, ...),
# medians over REPS. For each run: client req/s, requests nginx answered
# (stub_status delta), client CPU us per answered request (user+sys from
# /usr/bin/time) and peak RSS; then goto/wrk (and oha/wrk) ratios.
#
# Usage: tools/bench-load.sh            # 3 reps x 10 s at 64 and 1024 connections
#        REPS=1 DURATION=3 CONNS="64" tools/bench-load.sh   # a quick look
# Env:   REPS, DURATION (seconds), CONNS (space-separated), PORT,
#        GOTO (binary; default: release build under $CARGO_TARGET_DIR or target/),
#        BUILD=0 to skip `cargo build --release`, SERVER_CPU, CLIENT_CPU,
#        OHA=0 to leave oha out even when it is installed, GOTO_ARGS (more
#        `goto load` flags, e.g. "--io-driver epoll").
set -euo pipefail

REPS=${REPS:-3}
DURATION=${DURATION:-10}
CONNS=${CONNS:-"64 1024"}
PORT=${PORT:-18099}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
. "$(dirname "$0")/lib.sh"

lib_need bench-load "apt-get install nginx-light wrk" nginx wrk taskset python3 curl
lib_time bench-load
CLIENTS="wrk goto"
if [ "${OHA:-1}" = 1 ] && command -v oha >/dev/null; then
  CLIENTS="wrk goto oha"
fi
lib_goto bench-load

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

lib_workdir bench-load
NGINX_MAIN="worker_rlimit_nofile 65536;" NGINX_CONNS=20000 NGINX_LISTEN="backlog=4096" \
  NGINX_SERVER="location = /nginx_status { stub_status; }" lib_nginx "$PORT" "$SERVER_CPU"
URL=$NGINX_URL

# Requests nginx has answered so far (the status request itself included).
answered() { curl -sf "http://127.0.0.1:$PORT/nginx_status" | awk 'NR==3 {print $3}'; }

# run CLIENT CONNS -> appends "client conns rps answered cpu_s rss_kb" to results
run_one() {
  local client=$1 conns=$2 before after rps
  before=$(answered)
  case $client in
    wrk)
      /usr/bin/time -f '%U %S %M' -o "$WORK/time" taskset -c "$CLIENT_CPU" \
        wrk -t1 -c"$conns" -d"${DURATION}s" "$URL" >"$WORK/out" 2>&1
      rps=$(awk '/^Requests\/sec:/ {print $2}' "$WORK/out")
      ;;
    goto)
      /usr/bin/time -f '%U %S %M' -o "$WORK/time" taskset -c "$CLIENT_CPU" \
        "$GOTO" load --cores 1 -c "$conns" -d "${DURATION}s" --no-progress --json ${GOTO_ARGS:-} "$URL" >"$WORK/out" 2>&1
      rps=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["requestsPerSecond"])' "$WORK/out")
      ;;
    oha)
      /usr/bin/time -f '%U %S %M' -o "$WORK/time" taskset -c "$CLIENT_CPU" \
        oha -z "${DURATION}s" -c "$conns" --no-tui --output-format json "$URL" >"$WORK/out" 2>"$WORK/err"
      rps=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["summary"]["requestsPerSec"])' "$WORK/out")
      ;;
  esac
  after=$(answered)
  read -r user sys rss <"$WORK/time"
  local cpu
  cpu=$(python3 -c "print($user + $sys)")
  echo "$client $conns $rps $((after - before - 1)) $cpu $rss" >>"$WORK/results"
  printf '  %-5s c=%-5s %10.0f req/s  %9s answered  %6.2f s CPU  %7s KB RSS\n' \
    "$client" "$conns" "$rps" "$((after - before - 1))" "$cpu" "$rss"
}

echo "bench-load: $REPS reps x ${DURATION}s, conns: $CONNS; nginx on CPU $SERVER_CPU, clients on CPU $CLIENT_CPU"
echo "goto: $GOTO; clients: $CLIENTS"
: >"$WORK/results"
for conns in $CONNS; do
  for rep in $(seq "$REPS"); do
    echo "rep $rep, $conns connections"
    for client in $CLIENTS; do
      run_one "$client" "$conns"
    done
  done
done

python3 - "$WORK/results" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
data = {}
for client, conns, rps, answered, cpu, rss in rows:
    d = data.setdefault((int(conns), client), {"rps": [], "us": [], "rss": []})
    d["rps"].append(float(rps))
    d["us"].append(float(cpu) / max(int(answered), 1) * 1e6)
    d["rss"].append(int(rss) / 1024)
med = statistics.median
print()
print(f"{'client':<6} {'conns':>6} {'req/s':>10} {'CPU us/req':>11} {'peak RSS MB':>12}   (medians)")
for conns in sorted({c for c, _ in data}):
    for client in ("wrk", "goto", "oha"):
        d = data.get((conns, client))
        if d:
            print(f"{client:<6} {conns:>6} {med(d['rps']):>10.0f} {med(d['us']):>11.2f} {med(d['rss']):>12.1f}"
                  f"   [req/s {min(d['rps']):.0f}-{max(d['rps']):.0f}, us/req {min(d['us']):.2f}-{max(d['us']):.2f}]")
    w = data.get((conns, "wrk"))
    for client in ("goto", "oha"):
        g = data.get((conns, client))
        if w and g:
            goal = "   (goal: req/s >= 1.0x, CPU/req <= 0.75x)" if client == "goto" else ""
            print(f"{client + '/wrk':<6} {conns:>6} {med(g['rps'])/med(w['rps']):>10.2f}x {med(g['us'])/med(w['us']):>10.2f}x"
                  f" {med(g['rss'])/med(w['rss']):>11.2f}x{goal}")
EOF
