#!/usr/bin/env bash
# Open-model precision: how much of the latency a rate run reports is the
# client's own lateness. nginx (1 worker, `return 200 "ok"`) pinned to
# SERVER_CPU, the client pinned to CLIENT_CPU (`goto load --cores 1`),
# 16 connections, rates far below nginx's capacity, so there is no queueing
# and corrected (from-schedule) latency should equal uncorrected latency:
# the difference of their p50s is the client's lateness. goto also reports
# that lateness directly (schedule lag). With WRK2=path, wrk2 runs the same
# rates, interleaved (goto, wrk2, goto, wrk2, ...), for the same comparison.
# Figures are medians over REPS; see shared/BENCH.md ("Open model precision").
#
# wrk2 resets its histograms after a ~10 s calibration, so each wrk2 run
# lasts DURATION + 11 s and only the last DURATION seconds are measured.
#
# Usage: tools/bench-precision.sh                    # goto only, 3 reps x 5 s
#        WRK2=/path/to/wrk2/wrk tools/bench-precision.sh
#        RATES="1000" REPS=1 tools/bench-precision.sh  # a quick look
# Env:   RATES ("1000 10000 40000"), CONNS (16), REPS (3), DURATION (seconds,
#        5), PORT, SERVER_CPU (1), CLIENT_CPU (0), GOTO (binary; default the
#        release build), BUILD=0 to skip `cargo build --release`, GOTO_ARGS
#        (more `goto load` flags, e.g. "--io-driver epoll"), WRK2 (a wrk2
#        binary), PRIO (a prefix for both clients on a busy machine, e.g.
#        "chrt -f 20"; same for both, so the comparison stays fair),
#        IDLE=0 to skip the idle-pacing CPU check (-r 100 for 10 s).
set -euo pipefail

RATES=${RATES:-"1000 10000 40000"}
CONNS=${CONNS:-16}
REPS=${REPS:-3}
DURATION=${DURATION:-5}
PORT=${PORT:-18211}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
PRIO=${PRIO:-}
WRK2=${WRK2:-}
. "$(dirname "$0")/lib.sh"

lib_need bench-precision "apt-get install nginx-light" nginx taskset python3 curl
lib_time bench-precision
if [ -n "$WRK2" ] && [ ! -x "$WRK2" ]; then
  echo "bench-precision: WRK2=$WRK2 is not an executable" >&2; exit 1
fi
lib_goto bench-precision
lib_workdir bench-precision
NGINX_LISTEN="backlog=4096" lib_nginx "$PORT" "$SERVER_CPU"
URL=$NGINX_URL

# run_goto RATE -> appends "goto rate rps c50 c99 u50 u99 lag50 lag99 cpu_s"
run_goto() {
  local rate=$1
  # shellcheck disable=SC2086
  /usr/bin/time -f '%U %S' -o "$WORK/time" $PRIO taskset -c "$CLIENT_CPU" \
    "$GOTO" load --cores 1 -c "$CONNS" -r "$rate" -d "${DURATION}s" --no-progress --json ${GOTO_ARGS:-} "$URL" \
    >"$WORK/out" 2>"$WORK/err" || { echo "bench-precision: goto load failed:" >&2; tail -3 "$WORK/err" >&2; exit 1; }
  python3 - "$WORK/out" "$WORK/time" "$rate" >>"$WORK/results" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
user, sys_ = map(float, open(sys.argv[2]).read().split()[:2])
c, u, l = d["latencyMs"], d["latencyUncorrectedMs"], d["scheduleLagMs"]
print("goto", sys.argv[3], d["requestsPerSecond"], c["p50"], c["p99"], u["p50"], u["p99"],
      l["p50"], l["p99"], user + sys_)
EOF
}

# run_wrk2 RATE -> the same line for wrk2 (no lag figure: "nan")
run_wrk2() {
  local rate=$1
  # shellcheck disable=SC2086
  /usr/bin/time -f '%U %S' -o "$WORK/time" $PRIO taskset -c "$CLIENT_CPU" \
    "$WRK2" -t1 -c"$CONNS" -d"$((DURATION + 11))s" -R"$rate" --u_latency "$URL" >"$WORK/out" 2>&1 ||
    { echo "bench-precision: wrk2 failed:" >&2; tail -3 "$WORK/out" >&2; exit 1; }
  python3 - "$WORK/out" "$WORK/time" "$rate" >>"$WORK/results" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
user, sys_ = map(float, open(sys.argv[2]).read().split()[:2])
def ms(v, unit):
    return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]
# Two "Latency Distribution" blocks: recorded (corrected), then uncorrected.
blocks = text.split("Latency Distribution")[1:]
def pct(block, p):
    m = re.search(r"^\s*%s%%\s+([\d.]+)(us|ms|s|m)\s*$" % re.escape(p), block, re.M)
    return ms(*m.groups()) if m else float("nan")
corr = blocks[0] if blocks else ""
unc = next((b for b in blocks if "Uncorrected" in b.split("\n")[0]), "")
rps = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M)
print("wrk2", sys.argv[3], rps.group(1) if rps else "nan",
      pct(corr, "50.000"), pct(corr, "99.000"), pct(unc, "50.000"), pct(unc, "99.000"),
      "nan", "nan", user + sys_)
EOF
}

CLIENTS="goto"
[ -n "$WRK2" ] && CLIENTS="goto wrk2"
echo "bench-precision: rates $RATES, $CONNS connections, $REPS reps x ${DURATION}s; nginx on CPU $SERVER_CPU, clients on CPU $CLIENT_CPU${PRIO:+, prefix \"$PRIO\"}"
echo "goto: $GOTO${WRK2:+; wrk2: $WRK2}"
: >"$WORK/results"
for rate in $RATES; do
  for rep in $(seq "$REPS"); do
    for client in $CLIENTS; do
      "run_$client" "$rate"
      tail -1 "$WORK/results" | awk -v rep="$rep" '{printf "  rep %s %-5s %6s req/s asked, %9s got  p50 corr %s unc %s  lag p50 %s\n", rep, $1, $2, $3, $4, $6, $8}'
    done
  done
done

IDLE_LINE=""
if [ "${IDLE:-1}" = 1 ]; then
  # shellcheck disable=SC2086
  /usr/bin/time -f '%U %S %e' -o "$WORK/time" taskset -c "$CLIENT_CPU" \
    "$GOTO" load --cores 1 -c "$CONNS" -r 100 -d 10s --no-progress --json ${GOTO_ARGS:-} "$URL" >/dev/null
  IDLE_LINE=$(python3 -c 'import sys; u,s,e=map(float,open(sys.argv[1]).read().split()[:3]); print(f"idle pacing: goto -r 100 for {e:.1f} s used {(u+s)/e*100:.2f}% of a core")' "$WORK/time")
fi

python3 - "$WORK/results" "$IDLE_LINE" <<'EOF'
import math, statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
data = {}
for r in rows:
    client, rate = r[0], int(float(r[1]))
    vals = [float(x) for x in r[2:]]
    data.setdefault((rate, client), []).append(vals)
def med(xs):
    xs = [x for x in xs if not math.isnan(x)]
    return statistics.median(xs) if xs else float("nan")
def f(v, w=7):
    return f"{'-':>{w}}" if math.isnan(v) else f"{v:>{w}.3f}"
print()
print("Medians (ms). corr = from the schedule, unc = from the actual send; corr-unc p50 = the client's lateness.")
print(f"{'rate':>6} {'client':<5} {'req/s':>8} {'corr p50':>8} {'corr p99':>8} {'unc p50':>8} {'unc p99':>8} {'corr-unc p50':>12} {'lag p50':>8} {'lag p99':>8}")
for (rate, client) in sorted(data, key=lambda k: (k[0], k[1] != "goto")):
    runs = data[(rate, client)]
    rps, c50, c99, u50, u99, l50, l99 = (med(c) for c in list(zip(*runs))[:7])
    diff = med([r[1] - r[3] for r in runs])
    print(f"{rate:>6} {client:<5} {rps:>8.0f} {f(c50,8)} {f(c99,8)} {f(u50,8)} {f(u99,8)} {f(diff,12)} {f(l50,8)} {f(l99,8)}")
if sys.argv[2]:
    print(sys.argv[2])
print("Goals (BENCH.md): corr-unc p50 <= 0.05 ms and lag p50 <= 0.05 ms at 1k and 10k req/s; lag p99 <= 0.5 ms.")
EOF
