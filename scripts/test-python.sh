#!/usr/bin/env bash
# Builds the Python package (python/) into .venv/ in the debug profile, sharing the
# workspace's target/ (and so its Polars build), then runs its pytest tests. Run after
# scripts/setup-python.sh and a build of the binary (the tests compare with its stores).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
cargo build --quiet --bin flowmine
(cd python && VIRTUAL_ENV="$root/.venv" PATH="$root/.venv/bin:$PATH" CARGO_TARGET_DIR="$root/target" \
    "$root/.venv/bin/maturin" develop --quiet)
.venv/bin/python -m pytest -q python/tests
