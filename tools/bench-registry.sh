#!/usr/bin/env bash
# The registry at fleet scale (issue 23): tools/fleet-sim (N simulated peers
# in one process, HTTP to a real `goto --label registry` on 127.0.0.1) at
# 100, 1,000 and 5,000 peers; prints each run's lines and the table.
# Usage: tools/bench-registry.sh            (release builds of goto and fleet-sim)
#   PEERS="100 1000" MINUTES=60 RPS=100 REMIND=30 LIVE=10 to change the runs;
#   MINUTES_5000 (default 10) bounds the 5,000-peer run's backfill.
#   DATA_DIR=1 adds --data-dir (a temporary directory) and a kill -9 restart.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${BUILD:-1}" = 1 ]; then
  cargo build --release --bin goto -p goto -p goto-fleet-sim
fi
PEERS=${PEERS:-"100 1000 5000"}
MINUTES=${MINUTES:-60}
RPS=${RPS:-100}
REMIND=${REMIND:-30}
LIVE=${LIVE:-10}
ROWS=()
for n in $PEERS; do
  m=$MINUTES
  if [ "$n" -ge 5000 ]; then m=${MINUTES_5000:-10}; fi
  extra=()
  dir=""
  if [ "${DATA_DIR:-0}" = 1 ]; then
    dir=$(mktemp -d)
    extra=(--data-dir "$dir" --restart)
  fi
  echo "== $n peers, $m minutes"
  out=$(target/release/fleet-sim --goto target/release/goto --peers "$n" --minutes "$m" \
    --rps "$RPS" --remind-secs "$REMIND" --live-secs "$LIVE" "${extra[@]}") || {
    echo "$out"; echo "fleet-sim failed at $n peers" >&2; exit 1; }
  echo "$out" | grep -v '^|'
  ROWS+=("$(echo "$out" | grep '^|' | sed "s/^| $n |/| $n x $m min |/")")
  if [ -n "$dir" ]; then rm -rf "$dir"; fi
done
echo
echo "| peers | backfill CPU ms/minute key | burst CPU s (all peers, one minute) | reminders CPU | timeline read ms | results read ms | per-peer read ms | RSS MB (peak) | sums |"
echo "|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
