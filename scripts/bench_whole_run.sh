#!/usr/bin/env bash
# Whole-run benchmark: flowmine beside tcpdump and Argus on the same capture, measured in
# the same run, reported as medians and as ratios to tcpdump and to Argus, with the
# 2-thread against 1-thread ratio; peak RSS and user+system CPU from /usr/bin/time.
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
# Where cargo puts release builds (CARGO_TARGET_DIR moves them).
RELEASE=${CARGO_TARGET_DIR:-target}/release

BENCH_DIR=${BENCH_DIR:-/tmp/flowmine-bench}
RUNS=${2:-3}
FLOWMINE=${FLOWMINE:-$RELEASE/flowmine}
mkdir -p "$BENCH_DIR"

cargo build --release -q -p flowmine-benches --bin gen-campus
cargo build --release -q -p flowmine-core --example scan
SCAN=$RELEASE/examples/scan

CAPTURE=${1:-$BENCH_DIR/campus-20m.pcap}
if [ ! -f "$CAPTURE" ]; then
  "$RELEASE"/gen-campus --packets 20M --seed 1 --snaplen 128 --out "$CAPTURE" --truth "$BENCH_DIR/campus-20m.csv"
fi
cat "$CAPTURE" > /dev/null # into the page cache

# median_of LABEL CMD...: runs CMD $RUNS times; prints "LABEL wall_s peak_MiB cpu_s"
# (medians; cpu_s is user + system time, which predicts the wall time of a quiet machine
# when other work shares the cores).
median_of() {
  local label=$1; shift
  local walls=() rss=() cpus=()
  for _ in $(seq "$RUNS"); do
    local e m u s
    /usr/bin/time -f '%e %M %U %S' -o "$BENCH_DIR/time.out" "$@" > /dev/null 2>&1
    read -r e m u s < <(tail -1 "$BENCH_DIR/time.out")
    walls+=("$e"); rss+=("$m"); cpus+=("$(awk -v u="$u" -v s="$s" 'BEGIN {print u + s}')")
  done
  local w r c
  w=$(printf '%s\n' "${walls[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  r=$(printf '%s\n' "${rss[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  c=$(printf '%s\n' "${cpus[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  printf '%s %s %s %s\n' "$label" "$w" "$((r / 1024))" "$c"
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
argus=$(awk '$1 == "argus" {print $2}' "$results")
printf '%-20s %10s %10s %8s %16s %14s\n' run wall_s peak_MiB cpu_s speed_vs_tcpdump speed_vs_argus
awk -v base="$base" -v argus="${argus:-0}" '{
  vs = argus > 0 ? sprintf("%13.2fx", argus / $2) : sprintf("%14s", "-")
  printf "%-20s %10.2f %10d %8.2f %15.2fx %s\n", $1, $2, $3, $4, base / $2, vs
}' "$results"
# Issue #14's scaling target: the whole run on 2 threads against 1 (>= 1.7x wanted).
awk '$1 == "flowmine-1-thread" {one = $2} $1 == "flowmine-2-threads" {two = $2}
  END { if (one && two) printf "flowmine 2 threads / 1 thread: %.2fx\n", one / two }' "$results"
rm -f "$results"
