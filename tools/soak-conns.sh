#!/usr/bin/env bash
# Issue 24 row 11: fills a listener's --max-conns cap (default 10,000, the
# open-files limit raised to fit) with idle connections, then times a new
# client until it gets an answer (bounded: 15 s). Two rounds: connections
# that never send a byte, then keep-alive ones with one answered request.
# Needs python3. Bounded: under a minute.
# Usage: tools/soak-conns.sh [path/to/goto]   (default target/release/goto;
#   M=... connections, PORT=... in the environment)
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-target/release/goto}
[ -x "$B" ] || cargo build --release --bin goto
M=${M:-10000} PORT=${PORT:-18951}
ulimit -n 20000
for mode in silent keepalive; do
  "$B" --port "$PORT" --request-logs=false --max-conns "$M" >/dev/null 2>&1 & pid=$!
  trap 'kill $pid 2>/dev/null || true' EXIT
  for _ in $(seq 50); do curl -fs "http://127.0.0.1:$PORT/label" >/dev/null && break; sleep 0.1; done
  python3 - "$PORT" "$M" "$mode" <<'PY'
import socket, sys, time
port, m, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
held = []
t0 = time.time()
for _ in range(m):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    if mode == "keepalive":
        s.sendall(b"GET /status/200 HTTP/1.1\r\nHost: x\r\n\r\n")
        got = b""
        while b"Requested status: 200" not in got:
            d = s.recv(4096)
            if not d:
                raise SystemExit("a keep-alive connection was closed while filling the cap")
            got += d
    held.append(s)
fill = time.time() - t0
time.sleep(0.5)
t = time.time()
ans, tries = None, 0
while ans is None and time.time() - t < 15:
    tries += 1
    try:
        c = socket.create_connection(("127.0.0.1", port), timeout=2)
        c.sendall(b"GET /status/200 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        line = c.recv(64).split(b"\r\n")[0]
        ans = line.decode() if line.startswith(b"HTTP/1.1 200") else None
    except OSError:
        pass
    if ans is None:
        time.sleep(0.05)
waited = time.time() - t
alive = 0
for s in held:
    s.setblocking(False)
    try:
        alive += s.recv(1) != b""
    except BlockingIOError:
        alive += 1
    except OSError:
        pass
res = f"answered in {waited * 1000:.0f} ms after {tries} tries" if ans else f"no answer within {waited:.0f} s ({tries} tries)"
print(f"{mode}: {m} idle connections (filled in {fill:.1f} s); a new client: {res}; {alive} of them still open")
PY
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
