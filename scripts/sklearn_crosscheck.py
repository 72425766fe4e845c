#!/usr/bin/env python3
"""Cross-check a `flowmine evaluate` run with scikit-learn on the same rows and split.

    pip install polars scikit-learn numpy
    flowmine features STORE --out features.parquet
    flowmine evaluate features.parquet --target label --out experiment --seed 1
    python3 scripts/sklearn_crosscheck.py [--json] experiment features.parquet

The features files must be the ones given to `evaluate`, in the same order (rows are
numbered across them from 0). The script reads `metrics.json` (features, forest
parameters, seed) and `assignments.csv` (which rows trained, with how many copies after
balancing, and which tested, per fold), trains scikit-learn's RandomForestClassifier with
the same trees, depth, leaf size and features per split (n_jobs=2), and prints, per test
set, both accuracies and macro F1, the top-10 features of both by permutation importance
and their overlap, and both training times. Nulls, NaN and infinities are read as 0, as
flowmine does. With --json it prints one JSON object instead (per test set both
accuracies, both top-10 lists of the training rows' impurity importance), which
tests/forest_sklearn.rs reads. Formats: formats/evaluate.md.
"""

import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import polars as pl
from sklearn.ensemble import RandomForestClassifier
from sklearn.inspection import permutation_importance
from sklearn.metrics import accuracy_score, f1_score

JOBS = 2

args = [a for a in sys.argv[1:] if a != "--json"]
as_json = len(args) < len(sys.argv) - 1
if len(args) < 2:
    sys.exit(__doc__)
out = Path(args[0])
metrics = json.loads((out / "metrics.json").read_text())
features = metrics["features"]
forest = metrics["forest"]
seed = metrics["seed"]
repeats = metrics["permutation_repeats"]

table = pl.concat([pl.read_parquet(p) if p.endswith(".parquet") else
                   pl.read_ipc(p) if p.endswith((".arrow", ".ipc")) else
                   pl.read_csv(p, infer_schema_length=None) for p in args[1:]], how="diagonal_relaxed")
X = table.select(pl.col(f).cast(pl.Float64) for f in features).to_numpy()
X[~np.isfinite(X)] = 0.0  # nulls became NaN

assignments = pl.read_csv(out / "assignments.csv", schema_overrides={"set": pl.String, "class": pl.String})
flowmine_sets = {t["name"]: t for t in metrics["test_sets"]}
flowmine_perm = defaultdict(dict)
for row in pl.read_csv(out / "importance.csv", schema_overrides={"test_set": pl.String}).filter(
        pl.col("method") == "permutation").iter_rows(named=True):
    flowmine_perm[row["test_set"]][row["feature"]] = row["importance"]

def side_by_side(title, ours, theirs):
    print(f"  top 10 features by {title} (overlap {len(set(ours) & set(theirs))} of 10)")
    print(f"    {'flowmine':<34} scikit-learn")
    for a, b in zip(ours, theirs):
        print(f"    {a:<34} {b}")


truth, predicted, drops = defaultdict(list), defaultdict(list), defaultdict(list)
sk_seconds, sk_impurity = [], []
for fold, rows in assignments.group_by("fold", maintain_order=True):
    train = rows.filter(pl.col("set") == "train")
    index = np.repeat(train["row"].to_numpy(), train["train_copies"].to_numpy())
    model = RandomForestClassifier(
        n_estimators=forest["trees"], max_depth=forest["max_depth"], min_samples_leaf=forest["min_samples_leaf"],
        max_features=forest["max_features_used"], random_state=seed, n_jobs=JOBS)
    y_train = np.repeat(train["class"].to_numpy(), train["train_copies"].to_numpy())
    started = time.perf_counter()
    model.fit(X[index], y_train)
    sk_seconds.append(time.perf_counter() - started)
    sk_impurity.append(model.feature_importances_)
    for name, test in rows.filter(pl.col("set") != "train").group_by("set", maintain_order=True):
        name = name[0]
        x, y = X[test["row"].to_numpy()], test["class"].to_numpy()
        truth[name].extend(y)
        predicted[name].extend(model.predict(x))
        if not as_json:
            perm = permutation_importance(model, x, y, n_repeats=repeats, random_state=seed, n_jobs=JOBS)
            drops[name].append(perm.importances)

impurity = pl.read_csv(out / "importance.csv", schema_overrides={"test_set": pl.String}).filter(
    pl.col("method") == "impurity").sort("rank")
sk_impurity_mean = np.mean(sk_impurity, axis=0)
if as_json:
    print(json.dumps({
        "test_sets": {name: {"flowmine_accuracy": flowmine_sets[name]["accuracy"],
                             "sklearn_accuracy": accuracy_score(truth[name], predicted[name])} for name in truth},
        "impurity_top10": {"flowmine": impurity["feature"].to_list()[:10],
                           "sklearn": [features[j] for j in np.argsort(-sk_impurity_mean, kind="stable")[:10]]},
    }))
    sys.exit(0)
print(f"{len(assignments.filter(pl.col('fold') == 0))} rows, {len(features)} features, "
      f"{forest['trees']} trees, max_depth {forest['max_depth']}, max_features {forest['max_features_used']}, "
      f"seed {seed}, split: {metrics['split']['description']}")
for name in truth:
    acc = accuracy_score(truth[name], predicted[name])
    f1 = f1_score(truth[name], predicted[name], average="macro", zero_division=0)
    ours = flowmine_sets[name]
    print(f"\ntest set {name} ({len(truth[name])} flows)")
    print(f"  accuracy  flowmine {ours['accuracy']:.4f}  scikit-learn {acc:.4f}  "
          f"difference {100 * (ours['accuracy'] - acc):+.1f} points")
    print(f"  macro F1  flowmine {ours['macro_f1']:.4f}  scikit-learn {f1:.4f}")
    sk_mean = np.concatenate(drops[name], axis=1).mean(axis=1)
    sk_top = [features[j] for j in np.argsort(-sk_mean, kind="stable")[:10]]
    fm_top = sorted(flowmine_perm[name], key=lambda f: -flowmine_perm[name][f])[:10]
    side_by_side("permutation importance", fm_top, sk_top)
print("\ntraining rows")
side_by_side("impurity importance (mean decrease in Gini)", impurity["feature"].to_list()[:10],
             [features[j] for j in np.argsort(-sk_impurity_mean, kind="stable")[:10]])
fm_seconds = metrics["training"]["seconds"]
print(f"\ntraining time: flowmine {sum(fm_seconds):.3f} s ({metrics['threads']} threads), "
      f"scikit-learn {sum(sk_seconds):.3f} s (n_jobs={JOBS}), over {len(sk_seconds)} fold(s)")
