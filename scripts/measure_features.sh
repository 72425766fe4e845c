#!/usr/bin/env bash
# Times `flowmine features` against the `flowmine flows` run that built its store, on the
# 20-million-packet generated campus capture (the scale benchmark of issue #3).
#
#   scripts/measure_features.sh [PROFILE]     # PROFILE: debug (default) or release
#
# Both commands run from the same build profile, so the comparison is like for like. Needs
# ~1.5 GB for the capture and ~2 GB for the store under ${TMPDIR:-/tmp}.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:-debug}
tmp=${TMPDIR:-/tmp}/flowmine-measure
mkdir -p "$tmp"
flag=(); [[ $profile == release ]] && flag=(--release)
cargo build "${flag[@]}" -p flowmine --bin flowmine
cargo run --release -p flowmine-benches --bin gen-campus -- --packets 20M --out "$tmp/campus.pcap"
bin=target/$profile/flowmine
/usr/bin/time -f "flows:             %e s wall, %U s user, %M KB max RSS" \
    "$bin" flows "$tmp/campus.pcap" --out "$tmp/store" --overwrite --quiet
for out in features.arrow features.parquet; do
    /usr/bin/time -f "features → $out: %e s wall, %U s user, %M KB max RSS" \
        "$bin" features "$tmp/store" --out "$tmp/$out" --overwrite --quiet
done
