#!/usr/bin/env bash
# Compares `goto load --http2 --cores 1` with h2load against nginx serving
# h2c on loopback, the way shared/BENCH.md asks ("HTTP/2 against h2load"):
# nginx (1 worker, `listen ... http2`, keepalive_requests raised so it never
# closes a connection mid-run, http2_max_concurrent_streams 128, `return
# 200 "ok"`) pinned to CPU 1; the clients pinned to CPU 0 with the same shape
# (2 connections x 100 streams), runs interleaved (h2load, goto, h2load, ...),
# medians over REPS. For each run: client req/s and client CPU us per
# answered request (user+sys from /usr/bin/time); then goto/h2load ratios.
#
# Usage: tools/bench-h2.sh                       # 3 reps x 5 s
#        REPS=1 DURATION=2 tools/bench-h2.sh     # a quick look
# Env:   REPS, DURATION (seconds), CONNS (2), STREAMS (100), PORT,
#        GOTO (binary; default: release build under $CARGO_TARGET_DIR or target/),
#        BUILD=0 to skip `cargo build --release`, SERVER_CPU, CLIENT_CPU,
#        GOTO_SHAPE (the flags giving goto the shape; default
#        "-c $CONNS --streams $STREAMS"; "-c 200" for builds before --streams),
#        GOTO_ARGS (more `goto load` flags, e.g. "--io-driver epoll").
set -euo pipefail

REPS=${REPS:-3}
DURATION=${DURATION:-5}
CONNS=${CONNS:-2}
STREAMS=${STREAMS:-100}
PORT=${PORT:-18098}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
GOTO_SHAPE=${GOTO_SHAPE:-"-c $CONNS --streams $STREAMS"}
. "$(dirname "$0")/lib.sh"

lib_need bench-h2 "apt-get install nginx-light nghttp2-client curl" nginx h2load taskset python3 curl
lib_time bench-h2
lib_goto bench-h2
lib_workdir bench-h2
NGINX_LISTEN=http2 NGINX_HTTP="http2_max_concurrent_streams 128;" NGINX_CURL=--http2-prior-knowledge \
  lib_nginx "$PORT" "$SERVER_CPU"
URL=$NGINX_URL

# One run: prints "client req/s requests cpu_seconds".
run_h2load() {
  taskset -c "$CLIENT_CPU" /usr/bin/time -f "%U %S" -o "$WORK/time" \
    h2load -c "$CONNS" -m "$STREAMS" -D "$DURATION" "$URL" >"$WORK/out" 2>&1
  python3 - "$WORK/out" "$WORK/time" <<'PY'
import re, sys
out = open(sys.argv[1]).read()
u, s = open(sys.argv[2]).read().split()[-2:]
rps = float(re.search(r"finished in [\d.]+\w*, ([\d.]+) req/s", out).group(1))
ok = int(re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded", out).group(1))
print("h2load", rps, ok, float(u) + float(s))
PY
}

run_goto() {
  # shellcheck disable=SC2086
  taskset -c "$CLIENT_CPU" /usr/bin/time -f "%U %S" -o "$WORK/time" \
    "$GOTO" load --http2 --cores 1 $GOTO_SHAPE -d "${DURATION}s" --json --no-progress \
    ${GOTO_ARGS:-} "$URL" >"$WORK/out" 2>"$WORK/err"
  python3 - "$WORK/out" "$WORK/time" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
u, s = open(sys.argv[2]).read().split()[-2:]
ok = int(v["countsByStatusCodes"].get("200", 0))
print("goto", v["requestsPerSecond"], ok, float(u) + float(s), v.get("ioDriver", "?"))
PY
}

: >"$WORK/results"
for rep in $(seq "$REPS"); do
  for client in h2load goto; do
    line=$("run_$client")
    echo "rep $rep: $line" >&2
    echo "$line" >>"$WORK/results"
  done
done

python3 - "$WORK/results" "$CONNS" "$STREAMS" "$DURATION" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
conns, streams, duration = sys.argv[2:5]
fig = {}
driver = "?"
for r in rows:
    name, rps, ok, cpu = r[0], float(r[1]), int(r[2]), float(r[3])
    if name == "goto" and len(r) > 4:
        driver = r[4]
    f = fig.setdefault(name, {"rps": [], "us": []})
    f["rps"].append(rps)
    f["us"].append(cpu * 1e6 / max(ok, 1))
med = {k: {m: statistics.median(v) for m, v in f.items()} for k, f in fig.items()}
print(f"HTTP/2 h2c, {conns} connections x {streams} streams, {duration}s, {len(fig['goto']['rps'])} runs each (medians)")
print(f"{'client':<8} {'req/s':>10} {'CPU us/req':>11}")
for k in ("h2load", "goto"):
    print(f"{k:<8} {med[k]['rps']:>10.0f} {med[k]['us']:>11.2f}")
print(f"goto/h2load: req/s {med['goto']['rps'] / med['h2load']['rps']:.2f}x, "
      f"CPU/request {med['goto']['us'] / med['h2load']['us']:.2f}x (goto ioDriver {driver})")
PY
