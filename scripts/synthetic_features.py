"""Writes a synthetic features table for speed runs of `flowmine cluster`: N rows of F
numeric feature columns drawn around K random centres (Gaussian noise), plus a `label`
column naming each row's centre.

    python3 scripts/synthetic_features.py OUT.parquet [ROWS] [FEATURES] [CENTRES] [SEED]
"""

import sys

import numpy as np
import polars as pl


def main() -> None:
    out = sys.argv[1]
    rows = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000_000
    features = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    centres = int(sys.argv[4]) if len(sys.argv) > 4 else 8
    rng = np.random.default_rng(int(sys.argv[5]) if len(sys.argv) > 5 else 0)
    means = rng.normal(scale=4.0, size=(centres, features))
    label = rng.integers(0, centres, size=rows)
    columns = {}
    for j in range(features):
        columns[f"f{j:02}"] = means[label, j] + rng.normal(size=rows)
    columns["label"] = np.array([f"app{c}" for c in range(centres)])[label]
    pl.DataFrame(columns).write_parquet(out)


if __name__ == "__main__":
    main()
