# %% [markdown]
# # flowmine in a notebook
#
# Cells of a Jupyter/VS Code notebook (`# %%` markers): flows and features of the sample
# captures as Polars DataFrames, straight from the Rust engine. Install the package first:
# `pip install ./python` (from the repository root), and `pip install tqdm ipywidgets`
# for a progress widget.

# %%
import polars as pl

import flowmine

# %% [markdown]
# Bi-flows of two capture directories: one row per flow, per-packet arrays as list columns.

# %%
flows = flowmine.flows(["testdata/pcaps/messaging", "testdata/pcaps/genres"], idle_timeout=120)
flows.select("src_ip", "dst_ip", "dst_port", "protocol", "fwd_packets", "bwd_packets", "end_reason").head()

# %% [markdown]
# Rebuild a uni-flow from the per-packet arrays: the packets towards the initiator.

# %%
longest = flows.sort(pl.col("fwd_packets") + pl.col("bwd_packets"), descending=True).row(0, named=True)
downstream = [ts for ts, d in zip(longest["pkt_ts_ns"], longest["pkt_dir"]) if d == 1]
print(f"{len(downstream)} packets downstream over {(downstream[-1] - downstream[0]) / 1e9:.1f} s")

# %% [markdown]
# Per-flow features (MIRAGE-compatible statistics; addresses pseudonymised), per capture.

# %%
features = flowmine.features(["testdata/pcaps/messaging"])
features.group_by("capture_file").agg(pl.len(), pl.col("packet_length_biflow_mean").mean()).sort("len")

# %% [markdown]
# A store written by the command line (`flowmine flows … --out target/demo-store`).

# %%
import pathlib

if pathlib.Path("target/demo-store/manifest.json").exists():
    print(flowmine.read_store("target/demo-store").shape)
