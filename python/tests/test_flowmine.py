"""The flowmine Python package against independent readers: Polars reading the Parquet
store the command line wrote, and a pcap record walk in plain Python."""

import struct
import subprocess
from pathlib import Path

import polars as pl
import pytest

import flowmine
from conftest import BINARY

ROOT = Path(__file__).resolve().parents[2]
MESSAGING = ROOT / "testdata" / "pcaps" / "messaging"
KEY = ["first_ts_ns", "src_ip", "dst_ip", "src_port", "dst_port", "protocol", "vlan", "last_ts_ns"]


def cli_store(tmp_path, *inputs, extra=()):
    assert BINARY.exists(), f"{BINARY}: build the binary first (cargo build)"
    store = tmp_path / "store"
    args = [str(BINARY), "flows", *map(str, inputs), "--out", str(store), "--quiet", *extra]
    subprocess.run(args, check=True)
    return store


def test_flows_equal_the_store_the_command_line_writes(tmp_path):
    store = cli_store(tmp_path, MESSAGING, extra=["--idle-timeout", "30", "--label", "chat"])
    expected = pl.read_parquet(store / "*.parquet").sort(KEY)
    got = flowmine.flows([MESSAGING], idle_timeout=30, label="chat", progress=False).sort(KEY)
    assert got.height > 100
    assert got.schema == expected.schema
    assert got.equals(expected)
    # read_store gives the same rows.
    assert flowmine.read_store(store).sort(KEY).equals(expected)


def test_flow_options_reach_the_engine():
    unbounded = flowmine.flows(MESSAGING, idle_timeout="off", active_timeout="off", tcp_close=False, progress=False)
    default = flowmine.flows(MESSAGING, progress=False)
    # Without timeouts or TCP close there is one flow per key, and never more flows.
    keys = ["src_ip", "dst_ip", "src_port", "dst_port", "protocol", "vlan"]
    pairs = default.select(
        pl.min_horizontal("src_ip", "dst_ip").alias("a"),
        pl.max_horizontal("src_ip", "dst_ip").alias("b"),
        pl.min_horizontal("src_port", "dst_port").alias("p"),
        pl.max_horizontal("src_port", "dst_port").alias("q"),
        "protocol",
        "vlan",
    ).unique()
    assert unbounded.height == pairs.height <= default.height
    assert set(unbounded["end_reason"].unique()) == {"end_of_input"}
    assert unbounded.select(keys).is_duplicated().sum() == 0
    two = flowmine.flows(MESSAGING, packets=2, progress=False)
    assert two["pkt_ts_ns"].list.len().max() == 2
    assert (two["fwd_packets"] + two["bwd_packets"]).sum() == (default["fwd_packets"] + default["bwd_packets"]).sum()


def test_features_of_captures_equal_features_of_the_store(tmp_path):
    store = cli_store(tmp_path, MESSAGING)
    from_store = flowmine.features(store, keep_addresses=True)
    from_captures = flowmine.features([MESSAGING], keep_addresses=True, progress=False)
    assert from_store.height == from_captures.height > 100
    sort = ["first_ts_ns", "src_ip", "dst_ip", "src_port", "dst_port", "protocol", "vlan", "last_ts_ns"]
    assert from_captures.sort(sort).equals(from_store.sort(sort))
    # Pseudonyms by default: no address of the capture appears.
    hidden = flowmine.features([MESSAGING], progress=False)
    assert not set(hidden["src_ip"]) & set(from_store["src_ip"])


def last_record_offset(path):
    """Offset of the last record of a little-endian microsecond pcap, by a plain walk."""
    data = Path(path).read_bytes()
    assert struct.unpack_from("<I", data)[0] == 0xA1B2C3D4
    offset, last = 24, None
    while offset + 16 <= len(data):
        caplen = struct.unpack_from("<I", data, offset + 8)[0]
        last = offset
        offset += 16 + caplen
    return last


def test_damaged_input_warns_with_file_and_offset(tmp_path):
    source = MESSAGING / "signal.pcap"
    damaged = tmp_path / "cut.pcap"
    data = source.read_bytes()
    last = last_record_offset(source)
    damaged.write_bytes(data[: last + 20])  # the last record cut inside its data
    with pytest.warns(flowmine.InputWarning) as caught:
        df = flowmine.flows(damaged, progress=False)
    messages = [str(w.message) for w in caught]
    assert any(m.startswith(f"{damaged}: offset {last}:") for m in messages), messages
    assert df.height > 0


def test_errors_are_python_exceptions_naming_the_file(tmp_path):
    missing = tmp_path / "missing.pcap"
    with pytest.raises(flowmine.FlowmineError, match=str(missing)):
        flowmine.flows(missing, progress=False)
    # A directory without a manifest is no store: the error names it and says so.
    with pytest.raises(flowmine.FlowmineError, match=f"{tmp_path}: not a flow store"):
        flowmine.read_store(tmp_path)
    with pytest.raises(ValueError):
        flowmine.flows(MESSAGING, idle_timeout=-1, progress=False)


def test_progress_reports_every_byte():
    seen = []
    flowmine.flows(MESSAGING, progress=lambda done, total, packets, flows: seen.append((done, total, packets)))
    total = sum(p.stat().st_size for p in MESSAGING.iterdir() if p.suffix in (".pcap", ".pcapng"))
    assert seen, "the callback was called"
    assert [d for d, _, _ in seen] == sorted(d for d, _, _ in seen)
    assert seen[-1][0] == seen[-1][1] == total
