#!/usr/bin/env bash
# Peak memory as the input grows: the engine (and flowmine, when built) on gen-campus
# captures of the same rate and flow mix but different lengths, with the default
# timeouts; prints peak RSS per capture and each as a ratio to the first.
#
#   scripts/bench_memory.sh [PACKETS...]      # default: 20M 40M 80M 160M
#   RATE=20000 STREAMS=200 scripts/bench_memory.sh 5M 20M
#                                             # long runs: 20k packets/s, so 5M packets are
#                                             # the first 265 s of the 20M (1,008 s), with 200
#                                             # streams open from the first packet to the last
#
# Captures are made once in $BENCH_DIR (default /tmp/flowmine-bench; 160M is 12 GB).
# At ~1.5 Gbit/s a 20M-packet capture spans 76 s, less than the 120 s idle timeout, so
# its flow table never reaches the steady state; from 40M (148 s) on it has, and the
# figure that says whether memory stays flat is the ratio between those longer ones.
set -euo pipefail
cd "$(dirname "$0")/.."
# Where cargo puts release builds (CARGO_TARGET_DIR moves them).
RELEASE=${CARGO_TARGET_DIR:-target}/release

BENCH_DIR=${BENCH_DIR:-/tmp/flowmine-bench}
FLOWMINE=${FLOWMINE:-$RELEASE/flowmine}
SIZES=("$@")
# gen-campus --rate/--streams (empty: the campus rate, no streams); in the capture names.
RATE=${RATE:-}
STREAMS=${STREAMS:-0}
GEN_ARGS=(--streams "$STREAMS")
[ -n "$RATE" ] && GEN_ARGS+=(--rate "$RATE")
TAG=${RATE:+r$RATE-}s$STREAMS
[ ${#SIZES[@]} -eq 0 ] && SIZES=(20M 40M 80M 160M)
mkdir -p "$BENCH_DIR"

cargo build --release -q -p flowmine-benches --bin gen-campus
cargo build --release -q -p flowmine-core --example scan

peak_mib() { # CMD...: peak RSS in MiB
  /usr/bin/time -f '%M' -o "$BENCH_DIR/time.out" "$@" > /dev/null 2>&1
  echo $(($(tail -1 "$BENCH_DIR/time.out") / 1024))
}

printf '%-8s %12s %10s %14s %10s\n' packets engine_MiB ratio flowmine_MiB ratio
first_engine="" first_flowmine=""
for size in "${SIZES[@]}"; do
  capture="$BENCH_DIR/campus-$TAG-$size.pcap"
  [ -f "$capture" ] || "$RELEASE"/gen-campus --packets "$size" --seed 1 --snaplen 128 "${GEN_ARGS[@]}" --out "$capture"
  engine=$(MIMALLOC_PURGE_DELAY=-1 peak_mib "$RELEASE"/examples/scan --threads 2 "$capture")
  first_engine=${first_engine:-$engine}
  flowmine=-
  if [ -x "$FLOWMINE" ]; then
    flowmine=$(peak_mib "$FLOWMINE" flows "$capture" --out "$BENCH_DIR/store" --overwrite --quiet --threads 2)
    first_flowmine=${first_flowmine:-$flowmine}
  fi
  printf '%-8s %12s %10s %14s %10s\n' "$size" "$engine" \
    "$(awk -v a="$engine" -v b="$first_engine" 'BEGIN {printf "%.2fx", a / b}')" "$flowmine" \
    "$( [ "$flowmine" = - ] && echo - || awk -v a="$flowmine" -v b="$first_flowmine" 'BEGIN {printf "%.2fx", a / b}')"
done
