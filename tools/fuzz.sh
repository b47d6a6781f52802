#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for SECONDS each (default 180) on the
# nightly toolchain at the lowest priority, seeding each corpus from
# fuzz/seeds/. Findings land in fuzz/artifacts/<target>/; reproduce one with
#   cd fuzz && cargo +nightly fuzz run <target> artifacts/<target>/<file>
# Usage: tools/fuzz.sh [SECONDS] [target...]
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs=${1:-180}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(response chunked url duration client_target proxy_target job_spec h2_frames)
fi
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
# Debug assertions on: integer overflow is a finding too. No sanitizer: the
# code under test is safe Rust, and panics are what the harness reports.
nice -n 19 cargo +nightly fuzz build -a -s none
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  cp -n seeds/"$t"/* "corpus/$t/" 2>/dev/null || true
  echo "== $t (${secs}s)"
  mkdir -p "artifacts/$t"
  # The binaries built above, run directly: sources edited meanwhile do not
  # trigger a rebuild per target.
  nice -n 19 "target/x86_64-unknown-linux-gnu/release/$t" "corpus/$t" \
    -artifact_prefix="artifacts/$t/" -max_total_time="$secs" -max_len=4096 2>&1 |
    grep -E '^(#[0-9]+ +DONE|Done|==|thread|SUMMARY|Test unit written)' || true
  ls "artifacts/$t" | sed "s|^|finding: artifacts/$t/|" || true
done
