#!/usr/bin/env bash
# HTTP/2 control-frame flood against `goto load --http2` (issue 24 item 1):
# a local server that answers the preface with SETTINGS and PING frames as
# fast as it can and never reads, so every ack the client queues stays
# unsent. Logs the client's peak RSS; the goal is <= 64 MB (before the fix
# it grew by hundreds of MB per second).
# Usage: tools/soak-h2-flood.sh [path/to/goto]   (default: target/release/goto)
#   DUR=10s PORT=18498 to change; loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
GOTO=${1:-target/release/goto}
DUR=${DUR:-10s}
PORT=${PORT:-18498}
python3 - "$PORT" <<'PY' &
import socket, sys, threading
port = int(sys.argv[1])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen(64)
# SETTINGS (empty) and PING, 64 of each per write.
chunk = (b"\x00\x00\x00\x04\x00\x00\x00\x00\x00" + b"\x00\x00\x08\x06\x00\x00\x00\x00\x00" + b"\x01" * 8) * 64
def flood(c):
    try:
        while True:
            c.sendall(chunk)
    except OSError:
        pass
    finally:
        c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=flood, args=(c,), daemon=True).start()
PY
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
sleep 0.5
"$GOTO" load --http2 -c1 -d "$DUR" "http://127.0.0.1:$PORT/" > /tmp/goto-h2-flood.out 2>&1 &
LOAD=$!
peak=0
while kill -0 "$LOAD" 2>/dev/null; do
  kb=$(awk '/VmHWM/{print $2}' "/proc/$LOAD/status" 2>/dev/null || echo 0)
  [ -n "$kb" ] && [ "$kb" -gt "$peak" ] && peak=$kb
  sleep 0.2
done
wait "$LOAD" || true
echo "client peak RSS: $((peak / 1024)) MB over $DUR"
grep -iE "error|requests|closed|parse" /tmp/goto-h2-flood.out | head -5 || true
