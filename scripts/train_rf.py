#!/usr/bin/env python3
"""Notebook-style example: train a Random Forest on a flowmine features file.

    pip install polars scikit-learn
    cargo run -- flows testdata/pcaps/messaging/signal.pcap --label signal --out target/s-signal --overwrite
    cargo run -- flows testdata/pcaps/messaging/whatsapp.pcap --label whatsapp --out target/s-whatsapp --overwrite
    cargo run -- features target/s-signal --out target/signal.parquet
    cargo run -- features target/s-whatsapp --out target/whatsapp.parquet
    python3 scripts/train_rf.py target/signal.parquet target/whatsapp.parquet

Each features file holds one row per flow; the `label` column is the class (`flows --label`).
The model uses the numeric per-flow features only: no addresses, ports or timestamps,
which would let it learn the capture rather than the traffic. Columns: formats/features.md.
"""

import sys

import polars as pl
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import classification_report
from sklearn.model_selection import train_test_split

# Identify the flow or the capture, not the traffic's shape.
NOT_FEATURES = {
    "ip_version", "src_ip", "dst_ip", "src_port", "dst_port", "vlan", "first_ts_ns", "last_ts_ns",
    "end_reason", "tunnel", "label", "capture_file", "pkt_arrays_complete",
}

paths = sys.argv[1:] or ["target/features.parquet"]
flows = pl.concat([pl.read_parquet(p) for p in paths], how="vertical_relaxed")
labelled = flows.filter(pl.col("label").is_not_null())
classes = labelled["label"].n_unique()
if classes < 2:
    sys.exit(
        f"train_rf.py: {', '.join(paths)}: {labelled.height} of {flows.height} flows have a label, "
        f"in {classes} class(es); a classifier needs two or more. Give each store its class "
        "with `flowmine flows … --label NAME` (or use `flowmine label`) before `features`, "
        "or run `flowmine evaluate FILE --target capture` to use capture files as classes."
    )
flows = labelled
print(f"{flows.height} flows, classes: {flows['label'].value_counts().sort('label').rows()}")

# Scalar features; the seq_* lists are for sequence models (here: the first 8 sizes,
# signed by direction, as extra columns).
scalar = [c for c, t in flows.schema.items() if c not in NOT_FEATURES and not isinstance(t, pl.List)]
first = 8
signed = flows.select(
    [
        (pl.col("seq_size").list.get(i, null_on_oob=True).cast(pl.Float64)
         * (1 - 2 * pl.col("seq_dir").list.get(i, null_on_oob=True).cast(pl.Float64))).alias(f"size_{i}")
        for i in range(first)
    ]
)
X = pl.concat([flows.select(scalar).cast(pl.Float64), signed], how="horizontal").fill_null(0.0).fill_nan(0.0)
y = flows["label"].to_numpy()

X_train, X_test, y_train, y_test = train_test_split(X.to_numpy(), y, test_size=0.3, random_state=0, stratify=y)
model = RandomForestClassifier(n_estimators=200, random_state=0, n_jobs=-1).fit(X_train, y_train)
print(classification_report(y_test, model.predict(X_test), zero_division=0))

importance = sorted(zip(model.feature_importances_, X.columns), reverse=True)[:10]
print("most important features:")
for weight, name in importance:
    print(f"  {weight:.3f}  {name}")
