#!/usr/bin/env python3
"""The scikit-learn side of scripts/bench_forest.sh, and its synthetic flow tables.

    bench_forest.py make ROWS SEED OUT.parquet
        A features table of ROWS flows, 122 numeric features and 20 apps (`label`), shaped
        like `flowmine features` output: per app, packet and byte counts, sizes and
        inter-arrival statistics drawn from log-normal laws whose centres differ by app
        (heavy tails, as real flows); integer counts; percentiles that are sorted and tied;
        mostly-zero flag counters; 4 constant columns; 10 % of the flows of each app
        drawn from another app's law, so trees grow deep as on real data.
    bench_forest.py evaluate EXPERIMENT_DIR TABLE.parquet
        What `flowmine evaluate` did, with scikit-learn: the same training and test rows
        (assignments.csv), RandomForestClassifier with the same parameters (n_jobs=JOBS),
        accuracy, and permutation_importance with the same repeats (n_jobs=JOBS). Prints
        the seconds of each step and of the whole run (reading included).
        JOBS is 2, or SKLEARN_JOBS from the environment: at 200 k flows, n_jobs=2 has
        joblib copy the model to /dev/shm for each task (over 20 GB), so on a 24 GB
        machine the comparison is run with SKLEARN_JOBS=1 beside `flowmine evaluate
        --threads 1`, one core each.
    bench_forest.py raw ROWS SEED DIR
        The same table as raw arrays for crates/forest/examples/forest_bench.rs (the forest
        alone), the first 70 % of the rows training; then scikit-learn's fit, permutation
        importance (5 repeats) on the other 30 % and predict of every row, timed.
    bench_forest.py predict EXPERIMENT_DIR TRAIN.parquet TABLE.parquet
        Trains scikit-learn's forest on the experiment's training rows, then times its
        predict on every row of TABLE (and the read of TABLE apart).
"""

import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

APPS = 20
BASE = 38       # log-normal base statistics per flow
DERIVED = 64    # percentiles, ratios and sums of them
FLAGS = 16      # mostly-zero counters
CONSTANT = 4    # 38 + 64 + 16 + 4 = 122


def table(rows, seed):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 1.0, (APPS, BASE))
    spread = rng.uniform(0.4, 1.2, BASE)
    scale = rng.uniform(1.0, 8.0, BASE)
    label = rng.integers(0, APPS, rows)
    law = np.where(rng.random(rows) < 0.1, rng.integers(0, APPS, rows), label)
    base = np.exp(scale * 0.3 + centres[law] + rng.normal(0.0, 1.0, (rows, BASE)) * spread)
    base[:, :12] = np.round(base[:, :12] * 10)  # counts: packets, bytes, ...
    cols = {f"stat_{j:02}": base[:, j] for j in range(BASE)}
    for j in range(DERIVED):
        a, b = rng.integers(0, BASE, 2)
        kind = j % 4
        if kind == 0:
            v = np.round(np.minimum(base[:, a], base[:, b]), 1)  # a percentile: ties
        elif kind == 1:
            v = base[:, a] / (1.0 + base[:, b])
        elif kind == 2:
            v = base[:, a] + base[:, b]
        else:
            v = np.round(np.log1p(base[:, a]) * 3)
        cols[f"derived_{j:02}"] = v
    for j in range(FLAGS):
        cols[f"flag_{j:02}"] = np.where(rng.random(rows) < 0.03 + 0.02 * (label % 3 == j % 3),
                                        rng.integers(1, 5, rows), 0).astype(np.float64)
    for j in range(CONSTANT):
        cols[f"constant_{j}"] = np.full(rows, float(j * 1500))
    return cols, label


def make(rows, seed, out):
    cols, label = table(rows, seed)
    cols["label"] = [f"app{c:02}" for c in label]
    pl.DataFrame(cols).write_parquet(out)


def raw(rows, seed, out):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.inspection import permutation_importance
    cols, y = table(rows, seed)
    X = np.column_stack(list(cols.values())).astype(np.float64)
    train = int(rows * 0.7)
    Path(out).mkdir(parents=True, exist_ok=True)
    np.ascontiguousarray(X).astype("<f8").tofile(Path(out) / "x.f64")
    y.astype("<u4").tofile(Path(out) / "y.u32")
    (Path(out) / "shape.txt").write_text(f"{rows} {X.shape[1]} {APPS} {train}\n")
    model = RandomForestClassifier(n_estimators=100, random_state=1, n_jobs=2)
    started = time.perf_counter()
    model.fit(X[:train], y[:train])
    fitted = time.perf_counter()
    perm = permutation_importance(model, X[train:], y[train:], n_repeats=5, random_state=1, n_jobs=2)
    importance = time.perf_counter()
    model.predict(X)
    done = time.perf_counter()
    nodes = sum(t.tree_.node_count for t in model.estimators_)
    print(f"scikit-learn:    train {fitted - started:.1f} s ({nodes} nodes), permutation importance "
          f"{importance - fitted:.1f} s (accuracy {(model.predict(X[train:]) == y[train:]).mean():.4f}), "
          f"predict {done - importance:.1f} s of {rows} rows; n_jobs=2")


def training_rows(out):
    a = pl.read_csv(Path(out) / "assignments.csv", schema_overrides={"set": pl.String, "class": pl.String})
    train = a.filter(pl.col("set") == "train")
    test = a.filter(pl.col("set") != "train")
    return (np.repeat(train["row"].to_numpy(), train["train_copies"].to_numpy()),
            test["row"].to_numpy())


JOBS = int(os.environ.get("SKLEARN_JOBS", "2"))


def forest(out):
    from sklearn.ensemble import RandomForestClassifier
    m = json.loads((Path(out) / "metrics.json").read_text())
    f = m["forest"]
    return m, RandomForestClassifier(n_estimators=f["trees"], max_depth=f["max_depth"],
                                     min_samples_leaf=f["min_samples_leaf"], max_features=f["max_features_used"],
                                     random_state=m["seed"], n_jobs=JOBS)


def evaluate(out, table):
    from sklearn.inspection import permutation_importance
    started = time.perf_counter()
    m, model = forest(out)
    t = pl.read_parquet(table)
    X = t.select(pl.col(c).cast(pl.Float64) for c in m["features"]).to_numpy()
    X[~np.isfinite(X)] = 0.0
    y = t["label"].to_numpy()
    train, test = training_rows(out)
    read = time.perf_counter()
    # Each step on standard error as it ends, so a run stopped before the end still says
    # how far it went (standard output keeps the one summary line bench_forest.sh reads).
    print(f"scikit-learn: read {read - started:.1f} s", file=sys.stderr, flush=True)
    model.fit(X[train], y[train])
    fitted = time.perf_counter()
    print(f"scikit-learn: fit {fitted - read:.1f} s", file=sys.stderr, flush=True)
    accuracy = (model.predict(X[test]) == y[test]).mean()
    predicted = time.perf_counter()
    print(f"scikit-learn: predict {predicted - fitted:.1f} s, accuracy {accuracy:.4f}", file=sys.stderr, flush=True)
    permutation_importance(model, X[test], y[test], n_repeats=m["permutation_repeats"], random_state=m["seed"],
                           n_jobs=JOBS)
    done = time.perf_counter()
    print(f"scikit-learn: read {read - started:.1f} s, fit {fitted - read:.1f} s, predict {predicted - fitted:.1f} s, "
          f"permutation importance {done - predicted:.1f} s; whole run {done - started:.1f} s; "
          f"accuracy {accuracy:.4f} on {len(test)} rows")


def predict(out, train_table, table):
    m, model = forest(out)
    t = pl.read_parquet(train_table)
    X = t.select(pl.col(c).cast(pl.Float64) for c in m["features"]).to_numpy()
    y = t["label"].to_numpy()
    train, _ = training_rows(out)
    model.fit(X[train], y[train])
    started = time.perf_counter()
    X = pl.read_parquet(table).select(pl.col(c).cast(pl.Float64) for c in m["features"]).to_numpy()
    read = time.perf_counter()
    model.predict(X)
    done = time.perf_counter()
    print(f"scikit-learn predict: read {read - started:.1f} s, predict {done - read:.1f} s of {len(X)} rows; "
          f"both {done - started:.1f} s")


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in ("make", "raw", "evaluate", "predict"):
        sys.exit(__doc__)
    if sys.argv[1] == "make":
        make(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    elif sys.argv[1] == "raw":
        raw(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    elif sys.argv[1] == "evaluate":
        evaluate(sys.argv[2], sys.argv[3])
    else:
        predict(sys.argv[2], sys.argv[3], sys.argv[4])
