//! The flow store's row schema (`formats/store.md`): each column's name, written here once,
//! and its type. Per-packet columns are lists, one entry per kept packet.

use polars::prelude::DataType;

pub const IP_VERSION: &str = "ip_version";
pub const PROTOCOL: &str = "protocol";
pub const SRC_IP: &str = "src_ip";
pub const DST_IP: &str = "dst_ip";
pub const SRC_PORT: &str = "src_port";
pub const DST_PORT: &str = "dst_port";
pub const VLAN: &str = "vlan";
pub const FIRST_TS_NS: &str = "first_ts_ns";
pub const LAST_TS_NS: &str = "last_ts_ns";
pub const FWD_PACKETS: &str = "fwd_packets";
pub const BWD_PACKETS: &str = "bwd_packets";
pub const FWD_BYTES: &str = "fwd_bytes";
pub const BWD_BYTES: &str = "bwd_bytes";
pub const FWD_WIRE_BYTES: &str = "fwd_wire_bytes";
pub const BWD_WIRE_BYTES: &str = "bwd_wire_bytes";
pub const END_REASON: &str = "end_reason";
pub const TUNNEL: &str = "tunnel";
pub const LABEL: &str = "label";
pub const CAPTURE_FILE: &str = "capture_file";
pub const PKT_TS_NS: &str = "pkt_ts_ns";
pub const PKT_DIR: &str = "pkt_dir";
pub const PKT_IP_LEN: &str = "pkt_ip_len";
pub const PKT_L4_PAYLOAD_LEN: &str = "pkt_l4_payload_len";
pub const PKT_TCP_FLAGS: &str = "pkt_tcp_flags";
pub const PKT_TCP_WINDOW: &str = "pkt_tcp_window";

// Columns a labelled store (`label`, `import-mirage`) adds after the row schema
// (formats/store.md, "Row schema"; formats/session.md, formats/mirage.md).
/// How a row got its label: `exact`, `most-common`, … (see `label::LabelingType`).
pub const LABELING_TYPE: &str = "labeling_type";
/// The phone (or MIRAGE device folder) a labelled flow was captured from.
pub const DEVICE: &str = "device";
/// The capture session a labelled flow belongs to.
pub const SESSION: &str = "session";
/// The app a MIRAGE file is named after.
pub const APP: &str = "app";

/// Every column in store order, with its type.
pub fn columns() -> [(&'static str, DataType); 25] {
    use DataType::*;
    let list = |t: DataType| List(Box::new(t));
    [
        (IP_VERSION, UInt8),
        (PROTOCOL, UInt8),
        (SRC_IP, String),
        (DST_IP, String),
        (SRC_PORT, UInt16),
        (DST_PORT, UInt16),
        (VLAN, UInt16),
        (FIRST_TS_NS, Int64),
        (LAST_TS_NS, Int64),
        (FWD_PACKETS, UInt64),
        (BWD_PACKETS, UInt64),
        (FWD_BYTES, UInt64),
        (BWD_BYTES, UInt64),
        (FWD_WIRE_BYTES, UInt64),
        (BWD_WIRE_BYTES, UInt64),
        (END_REASON, String),
        (TUNNEL, String),
        (LABEL, String),
        (CAPTURE_FILE, String),
        (PKT_TS_NS, list(Int64)),
        (PKT_DIR, list(UInt8)),
        (PKT_IP_LEN, list(UInt32)),
        (PKT_L4_PAYLOAD_LEN, list(UInt32)),
        (PKT_TCP_FLAGS, list(UInt8)),
        (PKT_TCP_WINDOW, list(UInt16)),
    ]
}
