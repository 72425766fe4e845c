"""The Dask driver on a local cluster of 3 worker processes (loopback only): shards run as
tasks, a failed shard is retried and replaced, and the merged store equals the single run."""

import json
import struct
import subprocess
from pathlib import Path

import polars as pl
import pytest

import distributed  # noqa: E402  (scripts/requirements-test.txt)

from flowmine import dask as fdask  # noqa: E402
from conftest import BINARY  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CAPTURE = ROOT / "testdata" / "pcaps" / "genres" / "netflix.pcap"
KEY = ["first_ts_ns", "src_ip", "dst_ip", "src_port", "dst_port", "protocol", "vlan", "last_ts_ns"]
OPTIONS = ["--idle-timeout", "30", "--threads", "1"]


def dump_set(capture, directory, files):
    """Cuts a little-endian µs pcap into `files` consecutive files, as a capture appliance
    rotates its dump files (a plain record walk, independent of flowmine)."""
    data = capture.read_bytes()
    assert struct.unpack_from("<I", data)[0] == 0xA1B2C3D4
    header, records, offset = data[:24], [], 24
    while offset + 16 <= len(data):
        caplen = struct.unpack_from("<I", data, offset + 8)[0]
        records.append(data[offset : offset + 16 + caplen])
        offset += 16 + caplen
    directory.mkdir()
    per_file = -(-len(records) // files)
    for i in range(files):
        (directory / f"dump-{i:03}.pcap").write_bytes(header + b"".join(records[i * per_file : (i + 1) * per_file]))
    return len(records)


@pytest.fixture(scope="module")
def client():
    cluster = fdask.local_cluster(3)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def manifest(store):
    m = json.loads((store / "manifest.json").read_text())
    m.pop("parts")
    return m


def test_the_cluster_listens_on_loopback_only(client):
    assert client.scheduler.address.startswith("tcp://127.0.0.1:")
    workers = client.scheduler_info()["workers"]
    assert len(workers) == 3 and all(w.startswith("tcp://127.0.0.1:") for w in workers)
    assert client.dashboard_link.startswith("http://127.0.0.1:")


def test_sharded_run_on_the_cluster_equals_the_single_run(client, tmp_path):
    assert BINARY.exists(), "build the binary first"
    dump = tmp_path / "dump"
    packets = dump_set(CAPTURE, dump, 12)
    single = tmp_path / "single"
    subprocess.run([str(BINARY), "flows", str(dump), "--out", str(single), "--quiet", *OPTIONS], check=True)
    out = tmp_path / "merged"
    result = fdask.run(
        client,
        [str(dump)],
        str(out),
        5,
        options=OPTIONS,
        binary=str(BINARY),
        fail_first_attempt_of=[2, 4],
        show_progress=False,
    )
    # Shards 2 and 4 failed once and were retried: one directory per shard, no leftovers.
    parts = sorted(p.name for p in (tmp_path / "merged.parts").iterdir() if not p.name.startswith(".failed"))
    assert parts == [f"shard-{k}" for k in range(1, 6)]
    assert (tmp_path / "merged.parts" / ".failed-2").exists()
    expected = pl.read_parquet(single / "*.parquet").sort(KEY)
    got = pl.read_parquet(out / "*.parquet").sort(KEY)
    assert got.height == expected.height > 50
    assert manifest(out)["packets_total"] == packets
    assert got.equals(expected)
    assert manifest(out) == manifest(single)
    assert result["merge_s"] > 0 and result["shards_s"] > 0
