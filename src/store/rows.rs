//! Ended flows ([`FlowBatch`]) as a Polars [`DataFrame`] of store rows (columns in
//! [`schema`](super::schema), layout in `formats/store.md`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use flowmine_core::flow::FlowBatch;
use flowmine_core::wire::decode::tunnel;
use polars::prelude::*;
use polars_arrow::array::{ListArray, PrimitiveArray};
use polars_arrow::offset::OffsetsBuffer;

use super::schema;

/// Per-run values that every row carries.
#[derive(Debug, Clone, Default)]
pub struct RowContext {
    /// The `label` column; null when `None`.
    pub label: Option<String>,
    /// Input paths by index, for the `capture_file` column.
    pub input_paths: Vec<PathBuf>,
}

/// An address as text: dotted quad for IPv4, RFC 5952 for IPv6.
pub fn ip_text(version: u8, addr: &[u8; 16]) -> String {
    let ip: IpAddr = if version == 4 {
        Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]).into()
    } else {
        Ipv6Addr::from(*addr).into()
    };
    ip.to_string()
}

/// Tunnel bits as text ("gre", "vxlan+gre", …), `None` when there was no tunnel.
pub fn tunnel_text(bits: u8) -> Option<String> {
    let names: Vec<&str> = tunnel::NAMES.iter().filter(|(b, _)| bits & b != 0).map(|&(_, n)| n).collect();
    (!names.is_empty()).then(|| names.join("+"))
}

/// A per-packet column as a list column over the batch's offsets: the values move into
/// the column as they are, without a copy.
fn list_column<T>(name: &str, offsets: &OffsetsBuffer<i64>, values: Vec<T::Native>) -> Column
where
    T: PolarsNumericType,
{
    let values = PrimitiveArray::<T::Native>::from_vec(values);
    let dtype = ListArray::<i64>::default_datatype(values.dtype().clone());
    let list = ListArray::<i64>::new(dtype, offsets.clone(), values.boxed(), None);
    ListChunked::with_chunk(name.into(), list).into_series().into_column()
}

/// Converts a batch of ended flows into the store's row schema.
pub fn batch_to_rows(batch: FlowBatch, ctx: &RowContext) -> PolarsResult<DataFrame> {
    let n = batch.len();
    let src_ip: Vec<String> = batch.ip_version.iter().zip(&batch.src_addr).map(|(&v, a)| ip_text(v, a)).collect();
    let dst_ip: Vec<String> = batch.ip_version.iter().zip(&batch.dst_addr).map(|(&v, a)| ip_text(v, a)).collect();
    let end_reason: Vec<&str> = batch.end_reason.iter().map(|r| r.name()).collect();
    let tunnels: Vec<Option<String>> = batch.tunnel.iter().map(|&t| tunnel_text(t)).collect();
    let paths: Vec<String> = ctx.input_paths.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let capture_file: Vec<Option<&str>> =
        batch.input_index.iter().map(|&i| paths.get(i as usize).map(String::as_str)).collect();
    let label: Vec<Option<&str>> = vec![ctx.label.as_deref(); n];
    let offsets: Vec<i64> = batch.pkt_offsets.iter().map(|&o| o as i64).collect();
    let offsets = OffsetsBuffer::try_from(offsets)?;
    let columns = vec![
        Column::new(schema::IP_VERSION.into(), &batch.ip_version),
        Column::new(schema::PROTOCOL.into(), &batch.protocol),
        Column::new(schema::SRC_IP.into(), src_ip),
        Column::new(schema::DST_IP.into(), dst_ip),
        Column::new(schema::SRC_PORT.into(), &batch.src_port),
        Column::new(schema::DST_PORT.into(), &batch.dst_port),
        Column::new(schema::VLAN.into(), &batch.vlan),
        Column::new(schema::FIRST_TS_NS.into(), &batch.first_ts_ns),
        Column::new(schema::LAST_TS_NS.into(), &batch.last_ts_ns),
        Column::new(schema::FWD_PACKETS.into(), &batch.fwd_packets),
        Column::new(schema::BWD_PACKETS.into(), &batch.bwd_packets),
        Column::new(schema::FWD_BYTES.into(), &batch.fwd_bytes),
        Column::new(schema::BWD_BYTES.into(), &batch.bwd_bytes),
        Column::new(schema::FWD_WIRE_BYTES.into(), &batch.fwd_wire_bytes),
        Column::new(schema::BWD_WIRE_BYTES.into(), &batch.bwd_wire_bytes),
        Column::new(schema::END_REASON.into(), end_reason),
        Column::new(schema::TUNNEL.into(), tunnels),
        Column::new(schema::LABEL.into(), label),
        Column::new(schema::CAPTURE_FILE.into(), capture_file),
        list_column::<Int64Type>(schema::PKT_TS_NS, &offsets, batch.pkt_ts_ns),
        list_column::<UInt8Type>(schema::PKT_DIR, &offsets, batch.pkt_dir),
        list_column::<UInt32Type>(schema::PKT_IP_LEN, &offsets, batch.pkt_ip_len),
        list_column::<UInt32Type>(schema::PKT_L4_PAYLOAD_LEN, &offsets, batch.pkt_l4_payload_len),
        list_column::<UInt8Type>(schema::PKT_TCP_FLAGS, &offsets, batch.pkt_tcp_flags),
        list_column::<UInt16Type>(schema::PKT_TCP_WINDOW, &offsets, batch.pkt_tcp_window),
    ];
    DataFrame::new_infer_height(columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_tunnels_as_text() {
        let mut a = [0u8; 16];
        a[..4].copy_from_slice(&[192, 168, 2, 100]);
        assert_eq!(ip_text(4, &a), "192.168.2.100");
        let v6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        assert_eq!(ip_text(6, &v6), "2001:db8::1");
        assert_eq!(tunnel_text(0), None);
        assert_eq!(tunnel_text(tunnel::GRE | tunnel::VXLAN).as_deref(), Some("gre+vxlan"));
    }

    #[test]
    fn rows_have_the_schema() {
        let df = batch_to_rows(FlowBatch::new(), &RowContext::default()).unwrap();
        let got: Vec<(&str, DataType)> = df.schema().iter().map(|(n, t)| (n.as_str(), t.clone())).collect();
        assert_eq!(got, super::schema::columns());
    }
}
