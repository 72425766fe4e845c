"""A store as other Parquet readers see it: Polars, pyarrow and DuckDB read the same rows,
and the per-packet lists are written BYTE_STREAM_SPLIT (formats/store.md, Readers)."""

import duckdb
import polars as pl
import pyarrow.parquet as pq

from test_flowmine import KEY, MESSAGING, cli_store

PACKET_LISTS = ["pkt_ts_ns", "pkt_dir", "pkt_ip_len", "pkt_l4_payload_len", "pkt_tcp_flags", "pkt_tcp_window"]


def test_polars_pyarrow_and_duckdb_read_the_same_rows(tmp_path):
    store = cli_store(tmp_path, MESSAGING)
    parts = sorted(store.glob("*.parquet"))
    by_polars = pl.read_parquet(parts).sort(KEY)
    by_pyarrow = pl.from_arrow(pq.read_table(parts)).sort(KEY)
    by_duckdb = duckdb.sql(f"SELECT * FROM read_parquet('{store}/*.parquet')").pl().sort(KEY)
    assert by_polars.height > 100
    for other in (by_pyarrow, by_duckdb):
        assert other.schema == by_polars.schema
        assert other.equals(by_polars)
    # The lists hold every packet of every flow: their lengths add up to the counters.
    packets = by_polars["fwd_packets"].sum() + by_polars["bwd_packets"].sum()
    ip_bytes = by_polars["fwd_bytes"].sum() + by_polars["bwd_bytes"].sum()
    query = "SELECT sum(len(pkt_ip_len)), sum(list_sum(pkt_ip_len)) FROM read_parquet('{}/*.parquet')"
    assert duckdb.sql(query.format(store)).fetchall()[0] == (packets, ip_bytes)
    assert packets > 1000


def row_groups(store):
    """(part, row group metadata) of every row group of every part of `store`."""
    for part in sorted(store.glob("*.parquet")):
        metadata = pq.ParquetFile(part).metadata
        for g in range(metadata.num_row_groups):
            yield part, metadata.row_group(g)


def test_packet_lists_and_only_they_are_byte_stream_split(tmp_path):
    store = cli_store(tmp_path, MESSAGING)
    groups = list(row_groups(store))
    assert groups
    for part, row_group in groups:
        for i in range(row_group.num_columns):
            column = row_group.column(i)
            name = column.path_in_schema.split(".")[0]
            split = "BYTE_STREAM_SPLIT" in column.encodings
            assert split == (name in PACKET_LISTS), f"{part.name}: {column.path_in_schema} {column.encodings}"
            if split:  # the values split, the levels run-length encoded, nothing else
                assert set(column.encodings) == {"BYTE_STREAM_SPLIT", "RLE"}, column.encodings
