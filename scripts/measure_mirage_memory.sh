#!/usr/bin/env bash
# Peak memory of export-mirage and import-mirage on a large store, with /usr/bin/time -v.
#
#   scripts/measure_mirage_memory.sh [PACKETS] [WORKDIR]     (defaults: 2M, target/mirage-memory)
#
# Builds a store from a synthetic campus capture (gen-campus), exports it as MIRAGE JSON
# (every packet, as MIRAGE-2022), imports the JSON back, and prints each step's peak
# resident set size and wall time. FLOWMINE=path/to/flowmine measures another build.
set -euo pipefail
cd "$(dirname "$0")/.."
# Where cargo puts release builds (CARGO_TARGET_DIR moves them).
RELEASE=${CARGO_TARGET_DIR:-target}/release
packets=${1:-2M}
work=${2:-target/mirage-memory}
mkdir -p "$work"
cargo build --release -q -p flowmine -p flowmine-benches
flowmine=${FLOWMINE:-$RELEASE/flowmine}
if [ ! -f "$work/c.pcap" ]; then
    "$RELEASE"/gen-campus --packets "$packets" --out "$work/c.pcap" --truth "$work/c.csv"
fi
"$flowmine" flows "$work/c.pcap" --out "$work/store" --overwrite -q
measure() {
    local name=$1
    shift
    /usr/bin/time -v "$@" 2> "$work/$name.time" > /dev/null
    local rss wall
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/$name.time")
    wall=$(awk -F'): ' '/Elapsed \(wall clock\)/ {print $2}' "$work/$name.time")
    printf '%-7s peak RSS %6d MiB, wall %s\n' "$name" $((rss / 1024)) "$wall"
}
measure export "$flowmine" export-mirage "$work/store" --out "$work/json" --keep-addresses --overwrite -q
echo "        $(du -sh "$work/json" | cut -f1) of JSON in $(find "$work/json" -name '*.json' | wc -l) file(s)"
measure import "$flowmine" import-mirage "$work/json" --out "$work/back" --overwrite -q
