#!/usr/bin/env bash
# flowmine's Random Forest against scikit-learn's, side by side, at the dataset's scale:
# `evaluate` (100 trees, 70/30 stratified hold-out, 5-repeat permutation importance on the
# test rows, 2 threads) and `predict`, on synthetic flow tables of 122 features and 20 apps
# made by scripts/bench_forest.py (log-normal statistics per app; see its docstring).
#
#   scripts/bench_forest.sh [ROWS...]        # default: 50000 200000
#   PREDICT_ROWS=889000 scripts/bench_forest.sh 50000
#
# Needs the Python of scripts/setup-python.sh (.venv) or FLOWMINE_PYTHON, and
# /usr/bin/time. Prints, per size, both whole-run times and the ratio; then the predict
# times of both on PREDICT_ROWS rows with the first size's models.
# Memory: at 200 k flows scikit-learn's permutation_importance (n_jobs=2) has joblib copy
# the forest into JOBLIB_TEMP_FOLDER (default /dev/shm, i.e. memory) for its workers, more
# than 20 GB; on a smaller machine the out-of-memory killer ends it (README, "forest").
set -euo pipefail
cd "$(dirname "$0")/.."
# Where cargo puts release builds (CARGO_TARGET_DIR moves them).
RELEASE=${CARGO_TARGET_DIR:-target}/release
python="${FLOWMINE_PYTHON:-.venv/bin/python}"
sizes=("${@:-50000}")
[ $# -eq 0 ] && sizes=(50000 200000)
predict_rows="${PREDICT_ROWS:-889000}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cargo build --release --quiet
flowmine=$RELEASE/flowmine

seconds() { awk '/Elapsed \(wall clock\)/ { n = split($NF, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s }' "$1"; }
peak_mb() { awk '/Maximum resident/ { printf "%.0f", $NF / 1024 }' "$1"; }

for rows in "${sizes[@]}"; do
    table="$work/flows-$rows.parquet"
    "$python" scripts/bench_forest.py make "$rows" 1 "$table"
    /usr/bin/time -v "$flowmine" evaluate "$table" --target label --out "$work/ev-$rows" --threads 2 --seed 1 \
        --quiet 2> "$work/time-$rows"
    ours=$(seconds "$work/time-$rows")
    theirs_line=$("$python" scripts/bench_forest.py evaluate "$work/ev-$rows" "$table")
    theirs=$(sed 's/.*whole run \([0-9.]*\) s.*/\1/' <<< "$theirs_line")
    accuracy=$(python3 -c "import json; print(json.load(open('$work/ev-$rows/metrics.json'))['test_sets'][0]['accuracy'])")
    echo "== $rows flows x 122 features"
    echo "flowmine evaluate: ${ours} s whole run ($(peak_mb "$work/time-$rows") MB peak), accuracy $accuracy"
    echo "$theirs_line"
    awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "flowmine / scikit-learn: %.2f\n", a / b }'
done

first="${sizes[0]}"
big="$work/predict-$predict_rows.parquet"
"$python" scripts/bench_forest.py make "$predict_rows" 2 "$big"
/usr/bin/time -v "$flowmine" predict "$work/ev-$first/model.json.zst" "$big" --quiet 2> "$work/time-predict"
echo "== predict $predict_rows flows with the $first-flow model"
echo "flowmine predict: $(seconds "$work/time-predict") s (reading included, $(peak_mb "$work/time-predict") MB peak)"
"$python" scripts/bench_forest.py predict "$work/ev-$first" "$work/flows-$first.parquet" "$big"
