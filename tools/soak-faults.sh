#!/usr/bin/env bash
# Reproduces issue 14's attack table against one goto (default flags, so the
# default timeouts and caps are what is measured) on 127.0.0.1 and prints the
# figures: slowloris connections, an upstream that never answers (proxy and
# triggers), a million distinct tracked values and URIs, a proxy loop, and
# re-registration floods. Needs python3.
# Usage: tools/soak-faults.sh [path/to/goto]   (default: target/release/goto)
#   SLOW=2000 VALUES=1000000 TRIGGERS=3000 REGS=20000 to change the sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
GOTO=${1:-target/release/goto}
if [ ! -x "$GOTO" ]; then
  cargo build --release --bin goto
fi
SLOW=${SLOW:-2000}
VALUES=${VALUES:-1000000}
TRIGGERS=${TRIGGERS:-3000}
REGS=${REGS:-20000}
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
PORT=${PORT:-18480}
"$GOTO" --port "$PORT" --request-logs=false --peer-health-seconds 0 --log-level warn &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/echo" && break; sleep 0.1; done

PORT=$PORT PID=$PID SLOW=$SLOW VALUES=$VALUES TRIGGERS=$TRIGGERS REGS=$REGS python3 - <<'EOF'
import json, os, socket, threading, time, urllib.request

PORT = int(os.environ["PORT"]); PID = int(os.environ["PID"])
BASE = f"http://127.0.0.1:{PORT}"

def rss_mb():
    for line in open(f"/proc/{PID}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
def fds():
    return len(os.listdir(f"/proc/{PID}/fd"))
def call(method, path, body=None, timeout=120):
    req = urllib.request.Request(BASE + path, data=body, method=method)
    t = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            data = r.read(); status = r.status
    except urllib.error.HTTPError as e:
        data = e.read(); status = e.code
    return status, data, time.monotonic() - t
def latency_ms(n=20):
    xs = sorted(call("GET", "/echo")[2] * 1000 for _ in range(n))
    return xs[len(xs) // 2], xs[-1]
def row(what, figure):
    print(f"| {what} | {figure} |", flush=True)

print("| case | measured |\n|---|---|")

# 1. Slowloris: heads that never finish.
n = int(os.environ["SLOW"]); socks = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", PORT)); s.send(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    s.setblocking(False); socks.append(s)
p50, pmax = latency_ms()
row(f"{n} slowloris connections: /echo latency while held", f"p50 {p50:.2f} ms, max {pmax:.2f} ms; fds {fds()}")
t0 = time.monotonic(); open_ = n
while open_ and time.monotonic() - t0 < 60:
    time.sleep(0.5); still = 0
    for s in socks:
        try:
            if s.recv(1) == b"": continue
        except BlockingIOError:
            still += 1; continue
        except OSError:
            continue
    open_ = still
row("slowloris connections still open", f"{open_} of {n} after {time.monotonic() - t0:.1f} s (header timeout 10 s)")
for s in socks: s.close()

# 2. An upstream that never answers.
hole = socket.socket(); hole.bind(("127.0.0.1", 0)); hole.listen(4096)
hp = hole.getsockname()[1]
call("POST", "/request/proxy/targets/add", json.dumps({"name": "hang", "url": f"http://127.0.0.1:{hp}", "match": {"uris": ["/hang"]}}).encode())
st, body, took = call("GET", "/hang")
row("proxied request to a hanging upstream", f"{st} after {took:.1f} s")
call("POST", "/response/trigger/add", json.dumps({"name": "hook", "url": f"http://127.0.0.1:{hp}/hook", "triggerOnResponseStatuses": [418]}).encode())
m = int(os.environ["TRIGGERS"]); before = fds()
def fire(k):
    for _ in range(k): call("GET", "/status/418")
ths = [threading.Thread(target=fire, args=(m // 10,)) for _ in range(10)]
[t.start() for t in ths]; [t.join() for t in ths]
counts = json.loads(call("GET", "/response/trigger/counts")[1])["hook"]
row(f"{m} triggering requests to a hanging hook", f"fds {before} -> {fds()}; calls {counts.get('triggerCount')}, dropped {counts.get('droppedCount', 0)}")
hole.close()

# 3. Distinct tracked values and URIs.
call("PUT", "/request/headers/track/add/x-id"); call("POST", "/request/uri/counts/enable")
v = int(os.environ["VALUES"]); rss0 = rss_mb(); t0 = time.monotonic()
def flood(lo, hi):
    s = socket.create_connection(("127.0.0.1", PORT)); batch = 500
    for start in range(lo, hi, batch):
        reqs = b"".join(b"GET /u%d HTTP/1.1\r\nHost: x\r\nX-Id: v%d\r\n\r\n" % (i, i) for i in range(start, min(hi, start + batch)))
        s.sendall(reqs); want = reqs.count(b"GET "); got = 0; buf = b""
        while got < want:
            chunk = s.recv(1 << 20)
            if not chunk: raise SystemExit("connection closed during the flood")
            buf = buf[-8:] + chunk; got += chunk.count(b"HTTP/1.1 ")
    s.close()
k = 8; ths = [threading.Thread(target=flood, args=(i * v // k, (i + 1) * v // k)) for i in range(k)]
[t.start() for t in ths]; [t.join() for t in ths]
took = time.monotonic() - t0
st, body, _ = call("GET", "/request/headers/track/counts")
row(f"{v:,} distinct tracked values and URIs", f"RSS {rss0:.0f} -> {rss_mb():.0f} MB; counts answer {len(body)/1e6:.1f} MB; {v/took:,.0f} req/s")

# 4. A proxy loop.
call("POST", "/request/proxy/targets/add", json.dumps({"name": "self", "url": f"http://127.0.0.1:{PORT}", "match": {"uris": ["/loop"]}}).encode())
fd0, rss0 = fds(), rss_mb()
st, body, took = call("GET", "/loop")
row("one request to a target pointing at its own port", f"{st} in {took*1000:.0f} ms; fds {fd0} -> {fds()}, RSS {rss0:.0f} -> {rss_mb():.0f} MB")

# 5. Re-registrations.
r = int(os.environ["REGS"]); t0 = time.monotonic()
for i in range(r):
    call("POST", "/registry/peers/add", json.dumps({"name": "p", "address": "127.0.0.1:1", "instance": f"i{i}"}).encode())
st, body, _ = call("GET", "/registry/peers")
peers = json.loads(body)["p"]
row(f"{r:,} re-registrations of one address", f"{len(peers['podEpochs']['127.0.0.1:1'])} epochs kept, {peers.get('droppedEpochs', 0)} dropped; answer {len(body)/1e3:.0f} KB")
EOF
