#!/usr/bin/env bash
# Issue 24 row 7: N connections (default 5,000) each send SIZE bytes
# (default 400 KB) of a request head they never finish. Prints the server's
# RSS before, its peak (VmHWM) and RSS while they are held, how many were
# cut (431 or closed), and how long a normal request takes meanwhile.
# The header timeout is raised to 60 s so the heads are held while measured.
# Needs python3. Bounded: about 30 s per run.
# Usage: tools/soak-heads.sh [path/to/goto] [extra goto flags...]
#   (default target/release/goto; N=... SIZE=... PORT=... in the environment)
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-target/release/goto}
shift || true
[ -x "$B" ] || cargo build --release --bin goto
N=${N:-5000} SIZE=${SIZE:-409600} PORT=${PORT:-18941}
ulimit -n 20000
"$B" --port "$PORT" --request-logs=false --header-timeout 60s "$@" >/dev/null 2>&1 & pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$PORT/label" >/dev/null && break; sleep 0.1; done
python3 - "$PORT" "$pid" "$N" "$SIZE" <<'PY'
import selectors, socket, sys, time
port, pid, n, size = (int(a) for a in sys.argv[1:])
def mem(k):
    for l in open(f"/proc/{pid}/status"):
        if l.startswith(k):
            return int(l.split()[1]) // 1024
before = mem("VmRSS:")
head = memoryview(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * size)
sel = selectors.DefaultSelector()
for _ in range(n):
    s = socket.socket()
    s.setblocking(False)
    s.connect_ex(("127.0.0.1", port))
    sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, [0])
cut = got431 = 0
pending = n  # heads neither sent whole nor cut
deadline = time.time() + 25
settle = None  # 3 s more once every head is sent or cut, for late cuts
while time.time() < deadline and (settle is None or time.time() < settle):
    if settle is None and pending == 0:
        settle = time.time() + 3
    for key, ev in sel.select(timeout=0.5):
        s, st = key.fileobj, key.data
        try:
            if ev & selectors.EVENT_READ:
                # The server only speaks to cut a head (431) or closes.
                got431 += s.recv(65536).startswith(b"HTTP/1.1 431")
                raise ConnectionError
            if ev & selectors.EVENT_WRITE and st[0] < len(head):
                st[0] += s.send(head[st[0]:st[0] + 262144])
                if st[0] == len(head):
                    pending -= 1
                    sel.modify(s, selectors.EVENT_READ, st)
        except OSError:
            cut += 1
            pending -= st[0] < len(head)
            sel.unregister(s)
            s.close()
t = time.time()
try:
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    c.sendall(b"GET /status/200 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    ans = c.recv(64).split(b"\r\n")[0].decode()
except OSError as e:
    ans = f"failed: {e}"
ms = (time.time() - t) * 1000
print(f"heads={n} x {size} B: rss_before={before} MB peak={mem('VmHWM:')} MB "
      f"rss_held={mem('VmRSS:')} MB cut={cut} (431 seen on {got431}) "
      f"open={n - cut} new_request='{ans}' in {ms:.0f} ms")
PY
