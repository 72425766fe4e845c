#!/usr/bin/env bash
# Scaling: the engine (examples/scan) and the whole `flows` run at 1, 2, 4, ... N threads
# beside `tcpdump -r FILE -w /dev/null` on the same capture, in the same run; prints wall
# time, packets per second, speed-up over one thread, and checks that the store's part
# files are byte-identical for every thread count.
#
#   scripts/bench_scaling.sh [CAPTURE] [MAX_THREADS] [RUNS]
#
# MAX_THREADS defaults to the number of cores. On a machine with fewer cores than threads,
# wall times say little: run scripts/thread_times.py on one oversubscribed run instead
# (total CPU / busiest thread predicts the speed-up on a core per thread).
# CAPTURE defaults to the 20 M-packet gen-campus capture of scripts/bench_whole_run.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
# Where cargo puts release builds (CARGO_TARGET_DIR moves them).
RELEASE=${CARGO_TARGET_DIR:-target}/release

BENCH_DIR=${BENCH_DIR:-/tmp/flowmine-bench}
FLOWMINE=${FLOWMINE:-$RELEASE/flowmine}
MAX=${2:-$(nproc)}
RUNS=${3:-1}
mkdir -p "$BENCH_DIR"

cargo build --release -q -p flowmine-benches --bin gen-campus
cargo build --release -q -p flowmine-core --example scan
SCAN=$RELEASE/examples/scan
CAPTURE=${1:-$BENCH_DIR/campus-20m.pcap}
if [ ! -f "$CAPTURE" ]; then
  "$RELEASE"/gen-campus --packets 20M --seed 1 --snaplen 128 --out "$CAPTURE" --truth "$BENCH_DIR/campus-20m.csv"
fi
cat "$CAPTURE" > /dev/null # into the page cache
packets=$("$SCAN" --threads "$MAX" "$CAPTURE" | awk '{print $1}')

# best_of CMD...: the shortest wall time of $RUNS runs, in seconds.
best_of() {
  local best=""
  for _ in $(seq "$RUNS"); do
    local t0 t1
    t0=$(date +%s.%N); "$@" > /dev/null 2>&1; t1=$(date +%s.%N)
    best=$(awk -v a="$t1" -v b="$t0" -v best="$best" 'BEGIN { t = a - b; print (best == "" || t < best) ? t : best }')
  done
  echo "$best"
}

counts=(1)
n=2
while [ "$n" -le "$MAX" ]; do counts+=("$n"); n=$((n * 2)); done
[ "${counts[-1]}" -ne "$MAX" ] && counts+=("$MAX")

tcpdump_s=$(best_of tcpdump -r "$CAPTURE" -w /dev/null)
printf '%-8s %-8s %9s %9s %9s %12s\n' run threads wall_s Mpps vs_1 vs_tcpdump
printf '%-8s %-8s %9.2f %9.2f %9s %11.2fx\n' tcpdump 1 "$tcpdump_s" "$(awk -v p="$packets" -v t="$tcpdump_s" 'BEGIN {print p / t / 1e6}')" - 1
for what in engine flows; do
  [ "$what" = flows ] && [ ! -x "$FLOWMINE" ] && { echo "($FLOWMINE not built: flows skipped)"; continue; }
  one=""
  reference=""
  for t in "${counts[@]}"; do
    if [ "$what" = engine ]; then
      s=$(MIMALLOC_PURGE_DELAY=-1 best_of "$SCAN" --threads "$t" "$CAPTURE")
    else
      s=$(best_of "$FLOWMINE" flows "$CAPTURE" --out "$BENCH_DIR/scaling-store" --overwrite --quiet --threads "$t")
      sums=$(cd "$BENCH_DIR/scaling-store" && cat part-*.parquet | md5sum)
      reference=${reference:-$sums}
      [ "$sums" = "$reference" ] || echo "part files differ with $t threads" >&2
    fi
    one=${one:-$s}
    awk -v w="$what" -v t="$t" -v s="$s" -v p="$packets" -v one="$one" -v td="$tcpdump_s" \
      'BEGIN { printf "%-8s %-8s %9.2f %9.2f %8.2fx %11.2fx\n", w, t, s, p / s / 1e6, one / s, td / s }'
  done
done
