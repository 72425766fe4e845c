#!/usr/bin/env python3
"""Reference values for flowmine's flow statistics, computed with numpy and scipy.

The test `tests/features_reference.rs` compares every statistic flowmine computes with the
values this script writes (relative error <= 1e-9), for every flow of the sample captures.
The test suite runs without Python: the output of this script is committed as
`testdata/features/reference.parquet`.

Regenerate (from the repository root; needs numpy, scipy, polars):

    pip install numpy scipy polars pyarrow
    cargo run -- flows testdata/pcaps/messaging testdata/pcaps/genres --out target/reference-store --overwrite
    python3 scripts/feature_reference.py target/reference-store testdata/features/reference.parquet

The store must be built with the default parameters (the test builds its own store from
the same captures that way and matches flows by key). The definitions follow
formats/features.md; they are written here with the numpy/scipy calls a researcher would
use, not with flowmine's code:

    packet_length  the IP packet length (pkt_ip_len) of every packet of the set
    iat            np.diff(pkt_ts_ns of the set) / 1e9  (seconds, n-1 values for n packets)
    sets           biflow = all packets, upstream = pkt_dir == 0, downstream = pkt_dir == 1
    min, max       np.min, np.max
    mean           np.mean
    std, var       np.std, np.var (ddof 0)
    mad            scipy.stats.median_abs_deviation (scale 1)
    skew, kurtosis scipy.stats.skew, scipy.stats.kurtosis (bias=True, Fisher); NaN -> null
    pNN            np.percentile(values, NN) (linear interpolation)
    no values      every statistic null
"""

import sys
import warnings
from pathlib import Path

import numpy as np
import polars as pl
import scipy.stats

STATS = ["min", "max", "mean", "std", "var", "mad", "skew", "kurtosis"] + [f"p{q}" for q in range(10, 100, 10)]
KEY = ["capture_name", "first_ts_ns", "protocol", "src_ip", "src_port", "dst_ip", "dst_port"]


def summary(values: np.ndarray) -> list:
    if values.size == 0:
        return [None] * len(STATS)
    with warnings.catch_warnings():
        # scipy warns about precision loss on (nearly) constant data and returns NaN.
        warnings.simplefilter("ignore", RuntimeWarning)
        skew = scipy.stats.skew(values)
        kurtosis = scipy.stats.kurtosis(values)
    out = [
        np.min(values),
        np.max(values),
        np.mean(values),
        np.std(values),
        np.var(values),
        scipy.stats.median_abs_deviation(values),
        skew,
        kurtosis,
    ] + list(np.percentile(values, list(range(10, 100, 10))))
    return [None if np.isnan(v) else float(v) for v in out]


def main(store: Path, out: Path) -> None:
    parts = sorted(store.glob("**/*.parquet"))
    flows = pl.concat([pl.read_parquet(p) for p in parts])
    columns: dict[str, list] = {k: [] for k in KEY}
    for quantity in ["packet_length", "iat"]:
        for direction in ["biflow", "upstream", "downstream"]:
            for stat in STATS:
                columns[f"{quantity}_{direction}_{stat}"] = []
    for row in flows.iter_rows(named=True):
        columns["capture_name"].append(Path(row["capture_file"]).name)
        for k in KEY[1:]:
            columns[k].append(row[k])
        ts = np.array(row["pkt_ts_ns"], dtype=np.int64)
        direction = np.array(row["pkt_dir"], dtype=np.uint8)
        length = np.array(row["pkt_ip_len"], dtype=np.float64)
        sets = {"biflow": np.ones(ts.size, dtype=bool), "upstream": direction == 0, "downstream": direction == 1}
        for name, mask in sets.items():
            values = {
                "packet_length": length[mask],
                "iat": np.diff(ts[mask]) / 1e9,
            }
            for quantity, series in values.items():
                for stat, v in zip(STATS, summary(series)):
                    columns[f"{quantity}_{name}_{stat}"].append(v)
    schema = {k: pl.Float64 for k in columns}
    schema.update(
        capture_name=pl.String,
        first_ts_ns=pl.Int64,
        protocol=pl.UInt8,
        src_ip=pl.String,
        src_port=pl.UInt16,
        dst_ip=pl.String,
        dst_port=pl.UInt16,
    )
    reference = pl.DataFrame(columns, schema=schema)
    assert reference.select(KEY).is_unique().all(), "flow keys must be unique to match rows"
    out.parent.mkdir(parents=True, exist_ok=True)
    reference.write_parquet(out, compression="zstd", compression_level=22)
    print(f"{out}: {reference.height} flows, {len(columns) - len(KEY)} statistics each")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(f"usage: {sys.argv[0]} STORE_DIR OUT.parquet")
    main(Path(sys.argv[1]), Path(sys.argv[2]))
