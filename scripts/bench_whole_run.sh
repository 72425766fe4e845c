#!/usr/bin/env bash
# Whole-run benchmark: flowmine beside tcpdump and Argus on the same capture, measured in
# the same run, reported as medians and as ratios to tcpdump; peak RSS from /usr/bin/time.
#
#   scripts/bench_whole_run.sh [CAPTURE] [RUNS]
#
# CAPTURE defaults to a 20 M-packet header-only campus capture made by gen-campus (seed 1,
# snaplen 128) in $BENCH_DIR (default /tmp/flowmine-bench). Needs: tcpdump, argus
# (Debian packages tcpdump, argus-server) and GNU time (package time). The flowmine binary
# is $FLOWMINE (default target/release/flowmine; build it with `cargo build --release`,
# which compiles Polars in release and takes long on a small machine). The engine alone,
# without Parquet, is measured too (examples/scan.rs: builds in seconds).
# Put the capture in the page cache first (the script reads it once before timing).
set -euo pipefail
cd "$(dirname "$0")/.."

BENCH_DIR=${BENCH_DIR:-/tmp/flowmine-bench}
RUNS=${2:-3}
FLOWMINE=${FLOWMINE:-target/release/flowmine}
mkdir -p "$BENCH_DIR"

cargo build --release -q -p flowmine-benches --bin gen-campus
cargo build --release -q -p flowmine-core --example scan
SCAN=target/release/examples/scan

CAPTURE=${1:-$BENCH_DIR/campus-20m.pcap}
if [ ! -f "$CAPTURE" ]; then
  target/release/gen-campus --packets 20M --seed 1 --snaplen 128 --out "$CAPTURE" --truth "$BENCH_DIR/campus-20m.csv"
fi
cat "$CAPTURE" > /dev/null # into the page cache

# median_of LABEL CMD...: runs CMD $RUNS times; prints "LABEL wall_s peak_MiB" (medians).
median_of() {
  local label=$1; shift
  local walls=() rss=()
  for _ in $(seq "$RUNS"); do
    local out
    /usr/bin/time -f '%e %M' -o "$BENCH_DIR/time.out" "$@" > /dev/null 2>&1
    out=$(tail -1 "$BENCH_DIR/time.out")
    walls+=("${out% *}"); rss+=("${out#* }")
  done
  local w r
  w=$(printf '%s\n' "${walls[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  r=$(printf '%s\n' "${rss[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  printf '%s %s %s\n' "$label" "$w" "$((r / 1024))"
}

results=$(mktemp)
{
  median_of tcpdump tcpdump -r "$CAPTURE" -w /dev/null
  command -v argus > /dev/null && median_of argus argus -r "$CAPTURE" -w -
  # The engine with the allocator setting the flowmine binary makes for itself (freed
  # memory is kept for reuse, not handed back to the kernel and faulted in again).
  MIMALLOC_PURGE_DELAY=-1 median_of engine-1-thread "$SCAN" --threads 1 "$CAPTURE"
  MIMALLOC_PURGE_DELAY=-1 median_of engine-2-threads "$SCAN" --threads 2 "$CAPTURE"
  if [ -x "$FLOWMINE" ]; then
    median_of flowmine-1-thread "$FLOWMINE" flows "$CAPTURE" --out "$BENCH_DIR/store" --overwrite --quiet --threads 1
    median_of flowmine-2-threads "$FLOWMINE" flows "$CAPTURE" --out "$BENCH_DIR/store" --overwrite --quiet --threads 2
  fi
} | tee "$results" > /dev/null

base=$(awk '$1 == "tcpdump" {print $2}' "$results")
printf '%-20s %10s %10s %16s\n' run wall_s peak_MiB speed_vs_tcpdump
awk -v base="$base" '{ printf "%-20s %10.2f %10d %15.2fx\n", $1, $2, $3, base / $2 }' "$results"
rm -f "$results"
