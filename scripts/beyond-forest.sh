#!/usr/bin/env bash
# Regenerates the README's "Beyond the forest" figures on the sample messaging captures
# (classes = capture files): the cluster report, the learning curve and the unknown-app
# rates. Outputs go to target/messaging-*/.
set -euo pipefail
cd "$(dirname "$0")/.."
flowmine() { cargo run --quiet -- "$@"; }
flowmine flows testdata/pcaps/messaging --out target/messaging-store --overwrite
rm -f target/messaging-features.parquet
flowmine features target/messaging-store --out target/messaging-features.parquet --quiet
flowmine cluster target/messaging-features.parquet --target capture --seed 1 \
    --out target/messaging-cluster --overwrite
flowmine evaluate target/messaging-features.parquet --target capture --min-class-flows 10 --seed 1 \
    --labelled-fraction 0.1 --hold-out-classes telegram,signal \
    --out target/messaging-exp --overwrite
