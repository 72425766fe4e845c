#!/usr/bin/env python3
"""Reference values for flowmine's flow statistics, computed with numpy and scipy.

The test `tests/features_reference.rs` compares every statistic flowmine computes with the
values this script writes (relative error <= 1e-9), for every flow of the sample captures.
The test suite runs without Python: the output of this script is committed as
`testdata/features/reference.parquet`.

Regenerate (from the repository root; needs numpy, scipy, polars):

    scripts/setup-python.sh
    cargo run -- flows testdata/pcaps/messaging testdata/pcaps/genres --out target/reference-store --overwrite
    .venv/bin/python scripts/feature_reference.py target/reference-store testdata/features/reference.parquet

The store must be built with the default parameters (the test builds its own store from
the same captures that way and matches flows by key). The definitions are MIRAGE's
(formats/features.md), written here with the numpy/scipy calls a researcher would use, not
with flowmine's code:

    packet_length  the IP packet length (pkt_ip_len) of every packet of the set
    payload_length the transport payload length (pkt_l4_payload_len) of every packet of the set
    iat            per direction: np.diff(pkt_ts_ns of that direction) / 1e9;
                   biflow: the upstream IATs followed by the downstream IATs
    sets           biflow = all packets, upstream = pkt_dir == 0, downstream = pkt_dir == 1
    min, max       np.min, np.max
    mean           np.mean
    std, var       np.std, np.var (ddof 0)
    mad            scipy.stats.median_abs_deviation (scale 1)
    skew           scipy.stats.skew(bias=False)     } with the edge rules of the scipy
    kurtosis       scipy.stats.kurtosis(bias=False) } MIRAGE was made with (below)
    pNN            np.percentile(values, NN) (linear interpolation)
    no values      every statistic null

Edge rules (scipy <= 1.8; newer scipy returns NaN instead, so they are written out here):
zero variance gives skew 0.0 and kurtosis -3.0; the bias correction applies only where
n > 2 (skew) and n > 3 (kurtosis), the biased value below that (n = 2: kurtosis -2.0).
Elsewhere the value is scipy's own, and the script checks that it is.
"""

import math
import sys
import warnings
from pathlib import Path

import numpy as np
import polars as pl
import scipy.stats

STATS = ["min", "max", "mean", "std", "var", "mad", "skew", "kurtosis"] + [f"p{q}" for q in range(10, 100, 10)]
KEY = ["capture_name", "first_ts_ns", "protocol", "src_ip", "src_port", "dst_ip", "dst_port"]
QUANTITIES = ["packet_length", "iat", "payload_length"]
SETS = ["biflow", "upstream", "downstream"]


def moments(values: np.ndarray) -> tuple:
    """The central moments m2, m3, m4 (means of the 2nd, 3rd, 4th powers of x - mean)."""
    d = values - np.mean(values)
    squares = d * d
    return float(np.mean(squares)), float(np.mean(squares * d)), float(np.mean(squares * squares))


def old_skew(values: np.ndarray) -> float:
    n = values.size
    m2, m3, _ = moments(values)
    if m2 == 0:
        return 0.0
    if n <= 2:
        return m3 / m2**1.5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        value = float(scipy.stats.skew(values, bias=False))
    if math.isnan(value):
        # scipy >= 1.9 gives NaN for nearly constant values; scipy <= 1.8 computed on.
        value = math.sqrt((n - 1.0) * n) / (n - 2.0) * m3 / m2**1.5
    return value


def old_kurtosis(values: np.ndarray) -> float:
    n = values.size
    m2, _, m4 = moments(values)
    if m2 == 0:
        return -3.0
    if n <= 3:
        return m4 / m2**2.0 - 3.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        value = float(scipy.stats.kurtosis(values, fisher=True, bias=False))
    if math.isnan(value):
        value = 1.0 / (n - 2) / (n - 3) * ((n**2 - 1.0) * m4 / m2**2.0 - 3 * (n - 1) ** 2.0) + 3.0 - 3.0
    return value


def summary(values: np.ndarray) -> list:
    if values.size == 0:
        return [None] * len(STATS)
    out = [
        np.min(values),
        np.max(values),
        np.mean(values),
        np.std(values),
        np.var(values),
        scipy.stats.median_abs_deviation(values),
        old_skew(values),
        old_kurtosis(values),
    ] + list(np.percentile(values, list(range(10, 100, 10))))
    return [float(v) for v in out]


def flow_sets(ts: np.ndarray, direction: np.ndarray, length: np.ndarray, payload: np.ndarray) -> dict:
    """(quantity, set) -> values, for one flow's per-packet arrays."""
    up, down = direction == 0, direction == 1
    iat_up = np.diff(ts[up]) / 1e9
    iat_down = np.diff(ts[down]) / 1e9
    out = {}
    for name, mask in {"biflow": np.ones(ts.size, dtype=bool), "upstream": up, "downstream": down}.items():
        out["packet_length", name] = length[mask]
        out["payload_length", name] = payload[mask]
    out["iat", "biflow"] = np.concatenate([iat_up, iat_down])
    out["iat", "upstream"] = iat_up
    out["iat", "downstream"] = iat_down
    return out


def main(store: Path, out: Path) -> None:
    parts = sorted(store.glob("**/*.parquet"))
    flows = pl.concat([pl.read_parquet(p) for p in parts])
    columns: dict[str, list] = {k: [] for k in KEY}
    for quantity in QUANTITIES:
        for direction in SETS:
            for stat in STATS:
                columns[f"{quantity}_{direction}_{stat}"] = []
    for row in flows.iter_rows(named=True):
        columns["capture_name"].append(Path(row["capture_file"]).name)
        for k in KEY[1:]:
            columns[k].append(row[k])
        sets = flow_sets(
            np.array(row["pkt_ts_ns"], dtype=np.int64),
            np.array(row["pkt_dir"], dtype=np.uint8),
            np.array(row["pkt_ip_len"], dtype=np.float64),
            np.array(row["pkt_l4_payload_len"], dtype=np.float64),
        )
        for (quantity, name), series in sets.items():
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
