#!/usr/bin/env bash
# Reproduces issue 24 rows 4 and 5 against one goto binary and prints the
# figures: startup on damaged --data-dir stores (zero-length, garbage,
# truncated, bit-flipped: exit code and stderr's last line), then a registry
# whose data dir (a 4 MiB tmpfs with ~300 KB left) fills up: writes acked
# and refused, refused writes visible, /health and readiness while full and
# after space returns, and what a restart brings back. Needs root (mount),
# curl.
# Usage: tools/soak-store.sh [path/to/goto]   (default: target/release/goto)
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-target/release/goto}
[ -x "$B" ] || cargo build --release --bin goto
W=$(mktemp -d /tmp/goto-soak-store.XXXXXX)
PORT=${PORT:-18931}
u=http://127.0.0.1:$PORT
trap 'umount "$W/mnt" 2>/dev/null || true; rm -rf "$W"' EXIT

echo "== damaged stores (row 4)"
"$B" --port "$PORT" --data-dir "$W/d" --request-logs=false --peer-health-seconds 0 >/dev/null 2>&1 & pid=$!
sleep 1.5
for i in $(seq 1 50); do
  curl -s -XPOST "$u/registry/peers/add" -d "{\"name\":\"p$i\",\"address\":\"127.0.0.1:$((2000+i))\"}" >/dev/null
  curl -s -XPOST "$u/registry/peers/p$i/127.0.0.1:$((2000+i))/locker/store/k$i" -d "$(head -c 3000 /dev/zero | tr '\0' x)" >/dev/null
done
kill "$pid"; wait "$pid" || true
P=$W/pristine.redb; cp "$W/d/goto.redb" "$P"; S=$(stat -c %s "$P"); D=$W/case
run() {
  timeout 20 "$B" --port "$PORT" --data-dir "$D" --request-logs=false >/dev/null 2>"$W/err" & p=$!
  sleep 2
  if kill -0 "$p" 2>/dev/null; then kill "$p"; wait "$p" || true; echo "$1: started"
  else rc=0; wait "$p" || rc=$?; echo "$1: exit $rc: $(grep -v '^\s*$' "$W/err" | grep -iv 'note:' | grep -v '^\s*[0-9]*:\|^\s*at ' | tail -1 | cut -c1-160)"; fi
}
mk() { rm -rf "$D"; mkdir -p "$D"; }
mk; : > "$D/goto.redb"; run zero-length
mk; head -c 100000 /dev/urandom > "$D/goto.redb"; run garbage
for cut in 100 4096 $((S/2)) $((S-4096)); do mk; head -c "$cut" "$P" > "$D/goto.redb"; run "truncated-$cut"; done
for off in 0 300 4200 $((S/3)) $((S/2)) $((S-5000)); do
  mk; cp "$P" "$D/goto.redb"
  byte=$(( $(od -An -tu1 -j"$off" -N1 "$P") ^ 0x10 ))
  printf "$(printf '\\x%02x' "$byte")" | dd of="$D/goto.redb" bs=1 seek="$off" conv=notrunc 2>/dev/null
  run "flip@$off"
done

echo "== a full disk (row 5)"
M=$W/mnt; mkdir -p "$M"; mount -t tmpfs -o size=4m tmpfs "$M"
"$B" --port "$PORT" --data-dir "$M/d" --request-logs=false --peer-health-seconds 0 >/dev/null 2>&1 & pid=$!
sleep 1.5
curl -s -XPOST "$u/registry/peers/add" -d '{"name":"p","address":"127.0.0.1:2"}' >/dev/null
avail=$(df --output=avail -B1 "$M" | tail -1); head -c $((avail - 300000)) /dev/zero > "$M/filler" 2>/dev/null || true
v=$(head -c 2000 /dev/zero | tr '\0' x); ok=0; fail=0; first=
for i in $(seq 1 400); do
  c=$(curl -s -o "$W/body" -w '%{http_code}' -XPOST "$u/registry/peers/p/127.0.0.1:2/locker/store/k$i" -d "$v")
  if [ "$c" = 200 ]; then ok=$((ok+1)); else fail=$((fail+1)); [ -z "$first" ] && first=$i && echo "first refusal k$i: $c $(cat "$W/body")"; fi
done
first=${first:-401}
seen() { for i in $(seq "$1" "$2"); do echo "$3" | grep -o "\"k$i\"" | head -1; done | wc -l; }
echo "while full: $ok acked, $fail refused; /health $(curl -s -o /dev/null -w '%{http_code}' $u/health), readiness $(curl -s -o /dev/null -w '%{http_code}' $u/probes/readiness)"
echo "refused writes visible: $(seen "$first" 400 "$(curl -s $u/registry/peer/p/locker)")"
rm -f "$M/filler"; sleep 2
after=0; for i in $(seq 1 20); do [ "$(curl -s -o /dev/null -w '%{http_code}' -XPOST "$u/registry/peers/p/127.0.0.1:2/locker/store/after$i" -d x)" = 200 ] && after=$((after+1)); done
echo "space freed: /health $(curl -s -o /dev/null -w '%{http_code}' $u/health), readiness $(curl -s -o /dev/null -w '%{http_code}' $u/probes/readiness), $after of 20 writes acked"
kill "$pid"; wait "$pid" || true
"$B" --port "$PORT" --data-dir "$M/d" --request-logs=false --peer-health-seconds 0 >/dev/null 2>&1 & pid=$!
sleep 1.5
lock=$(curl -s "$u/registry/peer/p/locker")
echo "after restart: refused present $(seen "$first" 400 "$lock"), acked present $(seen 1 $((first-1)) "$lock") of $((first-1))"
kill "$pid"; wait "$pid" || true
