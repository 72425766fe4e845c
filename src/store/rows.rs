//! Ended flows ([`FlowBatch`]) as a Polars [`DataFrame`] of store rows (columns in
//! [`schema`](super::schema), layout in `formats/store.md`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use flowmine_core::flow::FlowBatch;
use flowmine_core::wire::decode::tunnel;
use polars::prelude::*;
use polars_arrow::array::{ListArray, MutableBinaryViewArray, PrimitiveArray, Utf8ViewArray};
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

/// An address column: IPv4 addresses written digit by digit into one buffer (formatting
/// each through `Display` into its own `String` was a tenth of a part's encoding), IPv6
/// ones by [`ip_text`]; the text is [`ip_text`]'s.
fn ip_column(name: &str, versions: &[u8], addrs: &[[u8; 16]]) -> Column {
    let mut out = MutableBinaryViewArray::<str>::with_capacity(addrs.len());
    let mut v4 = [0u8; 15];
    for (&version, addr) in versions.iter().zip(addrs) {
        if version == 4 {
            let len = ipv4_text(addr[..4].try_into().expect("four bytes"), &mut v4);
            out.push_value(std::str::from_utf8(&v4[..len]).expect("digits and dots"));
        } else {
            out.push_value(ip_text(version, addr));
        }
    }
    let array: Utf8ViewArray = out.into();
    StringChunked::with_chunk(name.into(), array).into_series().into_column()
}

/// Writes `a` as a dotted quad into `out`; returns its length.
fn ipv4_text(a: [u8; 4], out: &mut [u8; 15]) -> usize {
    let mut n = 0;
    for (i, &b) in a.iter().enumerate() {
        if i > 0 {
            out[n] = b'.';
            n += 1;
        }
        if b >= 100 {
            out[n] = b'0' + b / 100;
            n += 1;
        }
        if b >= 10 {
            out[n] = b'0' + b / 10 % 10;
            n += 1;
        }
        out[n] = b'0' + b % 10;
        n += 1;
    }
    n
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
        ip_column(schema::SRC_IP, &batch.ip_version, &batch.src_addr),
        ip_column(schema::DST_IP, &batch.ip_version, &batch.dst_addr),
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
    fn ipv4_digits_are_displays_text() {
        let mut buf = [0u8; 15];
        let mut k = 0x9e37_79b9_7f4a_7c15u64;
        let edges = [[0, 0, 0, 0], [255, 255, 255, 255], [10, 9, 99, 100], [1, 20, 199, 200]];
        for a in edges.into_iter().chain((0..100_000).map(|_| {
            k = k.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((k >> 32) as u32).to_be_bytes()
        })) {
            let len = ipv4_text(a, &mut buf);
            assert_eq!(std::str::from_utf8(&buf[..len]).unwrap(), Ipv4Addr::from(a).to_string());
        }
    }

    #[test]
    fn address_columns_hold_ip_text() {
        let mut v4 = [0u8; 16];
        v4[..4].copy_from_slice(&[192, 168, 2, 100]);
        let v6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let col = ip_column("a", &[4, 6, 4], &[v4, v6, [0; 16]]);
        let got: Vec<Option<&str>> = col.str().unwrap().iter().collect();
        assert_eq!(got, [Some("192.168.2.100"), Some("2001:db8::1"), Some("0.0.0.0")]);
    }

    #[test]
    fn rows_have_the_schema() {
        let df = batch_to_rows(FlowBatch::new(), &RowContext::default()).unwrap();
        let got: Vec<(&str, DataType)> = df.schema().iter().map(|(n, t)| (n.as_str(), t.clone())).collect();
        assert_eq!(got, super::schema::columns());
    }
}
