//! Ended flows ([`FlowBatch`]) as a Polars [`DataFrame`]: the row schema of the flow store
//! (see `formats/store.md`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use flowmine_core::flow::FlowBatch;
use flowmine_core::wire::decode::tunnel;
use polars::prelude::*;
use polars_arrow::array::{ListArray, PrimitiveArray};
use polars_arrow::offset::OffsetsBuffer;

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
pub fn batch_to_frame(batch: FlowBatch, ctx: &RowContext) -> PolarsResult<DataFrame> {
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
        Column::new("ip_version".into(), &batch.ip_version),
        Column::new("protocol".into(), &batch.protocol),
        Column::new("src_ip".into(), src_ip),
        Column::new("dst_ip".into(), dst_ip),
        Column::new("src_port".into(), &batch.src_port),
        Column::new("dst_port".into(), &batch.dst_port),
        Column::new("vlan".into(), &batch.vlan),
        Column::new("first_ts_ns".into(), &batch.first_ts_ns),
        Column::new("last_ts_ns".into(), &batch.last_ts_ns),
        Column::new("fwd_packets".into(), &batch.fwd_packets),
        Column::new("bwd_packets".into(), &batch.bwd_packets),
        Column::new("fwd_bytes".into(), &batch.fwd_bytes),
        Column::new("bwd_bytes".into(), &batch.bwd_bytes),
        Column::new("fwd_wire_bytes".into(), &batch.fwd_wire_bytes),
        Column::new("bwd_wire_bytes".into(), &batch.bwd_wire_bytes),
        Column::new("end_reason".into(), end_reason),
        Column::new("tunnel".into(), tunnels),
        Column::new("label".into(), label),
        Column::new("capture_file".into(), capture_file),
        list_column::<Int64Type>("pkt_ts_ns", &offsets, batch.pkt_ts_ns),
        list_column::<UInt8Type>("pkt_dir", &offsets, batch.pkt_dir),
        list_column::<UInt32Type>("pkt_ip_len", &offsets, batch.pkt_ip_len),
        list_column::<UInt32Type>("pkt_l4_payload_len", &offsets, batch.pkt_l4_payload_len),
        list_column::<UInt8Type>("pkt_tcp_flags", &offsets, batch.pkt_tcp_flags),
        list_column::<UInt16Type>("pkt_tcp_window", &offsets, batch.pkt_tcp_window),
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
}
