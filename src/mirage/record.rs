//! One MIRAGE biflow record: the JSON value stored under a `"src_ip,src_port,dst_ip,dst_port,proto"`
//! key. Field names are MIRAGE's (as documented by tcbench's schemas of MIRAGE-2019 and
//! MIRAGE-2022); `flowmine` is our own optional section that lets a flowmine export come
//! back exactly. Layout and meaning: `formats/mirage.md`.

use std::collections::BTreeMap;
use std::net::IpAddr;

use flowmine_core::wire::protocol::{PROTOCOL_TCP, PROTOCOL_UDP};
use flowmine_core::wire::tcp;
use serde::{Deserialize, Serialize};

use super::json::Float;

/// The per-packet lists. 2019 files have the first six; 2022 files add the rest.
#[allow(non_snake_case)] // MIRAGE's field names
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PacketData {
    pub src_port: Vec<u16>,
    pub dst_port: Vec<u16>,
    /// 0 = upstream (from the key's source), 1 = downstream.
    pub packet_dir: Vec<u8>,
    pub L4_payload_bytes: Vec<u32>,
    /// Seconds since the previous packet of the biflow; 0 for the first.
    pub iat: Vec<Float>,
    pub TCP_win_size: Vec<u32>,
    /// MIRAGE-2022: packet time, seconds since the epoch.
    #[serde(default)]
    pub timestamp: Option<Vec<Float>>,
    /// MIRAGE-2022: IP total length.
    #[serde(default)]
    pub IP_packet_bytes: Option<Vec<u32>>,
    #[serde(default)]
    pub IP_header_bytes: Option<Vec<u32>>,
    #[serde(default)]
    pub L4_header_bytes: Option<Vec<u32>>,
    /// MIRAGE-2022: TCP flags, as text (`"---A--S-"`) or as the flags byte.
    #[serde(default)]
    pub TCP_flags: Option<Vec<serde_json::Value>>,
}

/// What MIRAGE has no field for, so that a flowmine export imports back to the same flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowmineExtra {
    pub ip_version: u8,
    pub vlan: u16,
    pub first_ts_ns: i64,
    pub last_ts_ns: i64,
    pub end_reason: String,
    pub tunnel: Option<String>,
    pub fwd_wire_bytes: u64,
    pub bwd_wire_bytes: u64,
    pub capture_file: Option<String>,
    /// Packets in the whole flow whose entries the store kept (its `--packets` limit).
    pub stored_packets: u64,
    /// The store's `session`, `device` and `labeling_type` (a label store's, or an
    /// imported dataset's), which a file's name, folder and `flow_metadata` cannot all say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labeling_type: Option<String>,
}

/// `flow_features`: quantity (`packet_length`, `iat`) → set (`biflow`, `upstream_flow`,
/// `downstream_flow`) → statistic (`min` … `kurtosis`, `10_percentile` … `90_percentile`).
pub type FlowFeatures = BTreeMap<String, BTreeMap<String, BTreeMap<String, Float>>>;

/// One record as read. `flow_metadata` stays a map: every field of it becomes a store
/// column, whatever the dataset's version holds.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Record {
    pub packet_data: PacketData,
    #[serde(default)]
    pub flow_features: FlowFeatures,
    pub flow_metadata: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub flowmine: Option<FlowmineExtra>,
}

/// MIRAGE's names of the three packet sets, in the order of the features table's
/// `DIRECTIONS`.
pub const SET_KEYS: [&str; 3] = ["biflow", "upstream_flow", "downstream_flow"];

/// MIRAGE's names of the 17 statistics, in the order of the features table's `STAT_NAMES`.
pub const STAT_KEYS: [&str; 17] = [
    "min",
    "max",
    "mean",
    "std",
    "var",
    "mad",
    "skew",
    "kurtosis",
    "10_percentile",
    "20_percentile",
    "30_percentile",
    "40_percentile",
    "50_percentile",
    "60_percentile",
    "70_percentile",
    "80_percentile",
    "90_percentile",
];

/// How a `flow_metadata` field is kept in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// A Float64 column (NaN and missing → null).
    Number,
    /// A String column (numbers written as text).
    Text,
}

/// Every `flow_metadata` field of MIRAGE-2019 and MIRAGE-2022, in the order the datasets
/// write them (2019's fields first, as its files order them). Each becomes the store
/// column `mirage_<field>`; other fields go to `mirage_flow_metadata_other` as JSON text.
pub const METADATA_FIELDS: [(&str, FieldKind); 24] = [
    ("BF_label", FieldKind::Text),
    ("BF_labeling_type", FieldKind::Text),
    ("BF_num_packets", FieldKind::Number),
    ("BF_IP_packet_bytes", FieldKind::Number),
    ("BF_L4_payload_bytes", FieldKind::Number),
    ("BF_duration", FieldKind::Number),
    ("UF_num_packets", FieldKind::Number),
    ("UF_IP_packet_bytes", FieldKind::Number),
    ("UF_L4_payload_bytes", FieldKind::Number),
    ("UF_duration", FieldKind::Number),
    ("DF_num_packets", FieldKind::Number),
    ("DF_IP_packet_bytes", FieldKind::Number),
    ("DF_L4_payload_bytes", FieldKind::Number),
    ("DF_duration", FieldKind::Number),
    ("BF_device", FieldKind::Text),
    ("BF_label_source", FieldKind::Text),
    ("BF_sublabel", FieldKind::Text),
    ("BF_activity", FieldKind::Text),
    ("BF_label_version_code", FieldKind::Text),
    ("BF_label_version_name", FieldKind::Text),
    ("UF_MSS", FieldKind::Number),
    ("UF_WS", FieldKind::Number),
    ("DF_MSS", FieldKind::Number),
    ("DF_WS", FieldKind::Number),
];

/// A number of `flow_metadata` (NaN for `null` and the non-finite literals' strings).
pub fn metadata_number(value: &serde_json::Value) -> Option<f64> {
    match value {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::Null => Some(f64::NAN),
        serde_json::Value::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            _ => None,
        },
        _ => None,
    }
}

/// A text of `flow_metadata`: strings as they are, numbers and booleans written out.
pub fn metadata_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// The record key's five fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordKey {
    pub src_ip: IpAddr,
    pub src_port: u16,
    pub dst_ip: IpAddr,
    pub dst_port: u16,
    pub protocol: u8,
}

impl RecordKey {
    /// Parses `"src_ip,src_port,dst_ip,dst_port,proto"`; proto is a number or `tcp`/`udp`.
    pub fn parse(text: &str) -> Result<RecordKey, String> {
        let fields: Vec<&str> = text.split(',').map(str::trim).collect();
        let [src_ip, src_port, dst_ip, dst_port, proto] = fields[..] else {
            return Err(format!("key `{text}`: expected src_ip,src_port,dst_ip,dst_port,proto"));
        };
        let ip = |s: &str| s.parse::<IpAddr>().map_err(|_| format!("key `{text}`: `{s}` is not an IP address"));
        let port = |s: &str| s.parse::<u16>().map_err(|_| format!("key `{text}`: `{s}` is not a port"));
        let protocol = match proto.to_ascii_lowercase().as_str() {
            "tcp" => PROTOCOL_TCP,
            "udp" => PROTOCOL_UDP,
            n => n.parse::<u8>().map_err(|_| format!("key `{text}`: `{proto}` is not a protocol"))?,
        };
        Ok(RecordKey {
            src_ip: ip(src_ip)?,
            src_port: port(src_port)?,
            dst_ip: ip(dst_ip)?,
            dst_port: port(dst_port)?,
            protocol,
        })
    }

    pub fn text(&self) -> String {
        format!("{},{},{},{},{}", self.src_ip, self.src_port, self.dst_ip, self.dst_port, self.protocol)
    }
}

/// The file layout of a published MIRAGE dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `<device folder>/<unix_ts>_<package>_MIRAGE-2019_traffic_dataset_labeled_biflows.json`.
    Mirage2019,
    /// `Raw_JSON/<App>/<unix_ts>_<package>_mirage2020dataset_labeled_biflows_all_packets_encryption_metadata.json`.
    Mirage2022,
}

impl Layout {
    /// What follows `<unix_ts>_<package>_` in the dataset's file names.
    pub fn file_suffix(self) -> &'static str {
        match self {
            Layout::Mirage2019 => "MIRAGE-2019_traffic_dataset_labeled_biflows",
            Layout::Mirage2022 => "mirage2020dataset_labeled_biflows_all_packets_encryption_metadata",
        }
    }

    /// The layout whose file names end in `rest` (the name after `<unix_ts>_<package>_`).
    pub fn of_suffix(rest: &str) -> Option<Layout> {
        [Layout::Mirage2019, Layout::Mirage2022].into_iter().find(|l| rest.starts_with(l.file_suffix()))
    }
}

/// MIRAGE-2022's top folder, holding one folder per app.
pub const RAW_JSON: &str = "Raw_JSON";

/// `packet_data` fields in the order MIRAGE-2022 writes them (tcbench's schema).
pub const PACKET_FIELDS_2022: [&str; 12] = [
    "timestamp",
    "src_port",
    "dst_port",
    "packet_dir",
    "IP_packet_bytes",
    "IP_header_bytes",
    "L4_payload_bytes",
    "L4_header_bytes",
    "iat",
    "TCP_win_size",
    "TCP_flags",
    "L4_raw_payload",
];

/// `packet_data` fields in MIRAGE-2019's order, then the 2022 fields flowmine also writes.
pub const PACKET_FIELDS_2019: [&str; 10] = [
    "src_port",
    "dst_port",
    "packet_dir",
    "L4_payload_bytes",
    "iat",
    "TCP_win_size",
    "L4_raw_payload",
    "timestamp",
    "IP_packet_bytes",
    "TCP_flags",
];

/// `flow_metadata` fields in the order MIRAGE-2022 writes them (tcbench's schema).
pub const METADATA_ORDER_2022: [&str; 24] = [
    "BF_device",
    "BF_label_source",
    "BF_label",
    "BF_sublabel",
    "BF_label_version_code",
    "BF_label_version_name",
    "BF_labeling_type",
    "BF_num_packets",
    "BF_IP_packet_bytes",
    "BF_L4_payload_bytes",
    "BF_duration",
    "UF_num_packets",
    "UF_IP_packet_bytes",
    "UF_L4_payload_bytes",
    "UF_duration",
    "UF_MSS",
    "UF_WS",
    "DF_num_packets",
    "DF_IP_packet_bytes",
    "DF_L4_payload_bytes",
    "DF_duration",
    "DF_MSS",
    "DF_WS",
    "BF_activity",
];

/// TCP flag letters, most significant bit first: the text form of a flags byte.
const FLAG_LETTERS: [(char, u8); 8] = [
    ('C', tcp::CWR),
    ('E', tcp::ECE),
    ('U', tcp::URG),
    ('A', tcp::ACK),
    ('P', tcp::PSH),
    ('R', tcp::RST),
    ('S', tcp::SYN),
    ('F', tcp::FIN),
];

/// A flags byte as text: eight characters `CEUAPRSF`, `-` for a flag not set
/// (`0x12` → `"---A--S-"`).
pub fn tcp_flags_text(byte: u8) -> String {
    FLAG_LETTERS.iter().map(|&(c, bit)| if byte & bit != 0 { c } else { '-' }).collect()
}

/// A TCP flags entry as the flags byte. No public source shows how MIRAGE-2022 writes
/// these values (formats/mirage.md), so every unambiguous form is read and anything else
/// is an error rather than a guess: a number; decimal or `0x` hexadecimal text (bits
/// above the byte, such as NS `0x100`, have no place in the store and are dropped); text
/// naming flags by letter, `C E U A P R S F` (and `N` for NS, dropped), in any order and
/// case, with `-` for a flag not set (`"---A--S-"`, `"SA"`, `"PA"`); empty text (no flags,
/// as a UDP packet's). Words (`"ACK"`) or tcpdump's `.` (ACK) are refused: read letter by
/// letter they would name other flags.
pub fn tcp_flags_byte(value: &serde_json::Value) -> Result<u8, String> {
    match value {
        serde_json::Value::Number(n) => {
            n.as_u64().and_then(|v| u8::try_from(v).ok()).ok_or_else(|| format!("TCP flags {n} is not a byte"))
        }
        serde_json::Value::String(s) => flags_from_text(s.trim()).map_err(|e| format!("TCP flags {s:?}: {e}")),
        other => Err(format!("TCP flags {other} is neither a number nor text")),
    }
}

/// The NS flag's bit in the 9-bit flags field, beyond the byte the store keeps.
const NS_BIT: u16 = 0x100;

fn flags_from_text(s: &str) -> Result<u8, String> {
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return match u16::from_str_radix(hex, 16) {
            Ok(v) if v < 2 * NS_BIT => Ok(v as u8),
            _ => Err("not a 9-bit hexadecimal flags field".to_string()),
        };
    }
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<u8>().map_err(|_| "not a byte".to_string());
    }
    let mut byte = 0;
    for c in s.chars() {
        match FLAG_LETTERS.iter().find(|&&(l, _)| l == c.to_ascii_uppercase()) {
            Some(&(_, bit)) => byte |= bit,
            None if c == '-' || c.eq_ignore_ascii_case(&'N') => {}
            None => return Err(format!("{c:?} is not a flag letter")),
        }
    }
    Ok(byte)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_and_print() {
        let k = RecordKey::parse("192.168.20.101,40252,216.58.205.42,443,6").unwrap();
        assert_eq!((k.src_port, k.dst_port, k.protocol), (40252, 443, 6));
        assert_eq!(k.text(), "192.168.20.101,40252,216.58.205.42,443,6");
        assert_eq!(RecordKey::parse("2001:db8::1, 5, 2001:db8::2, 53, udp").unwrap().protocol, 17);
        assert!(RecordKey::parse("1.2.3.4,1,5.6.7.8,2").is_err());
        assert!(RecordKey::parse("1.2.3.4,70000,5.6.7.8,2,6").is_err());
    }

    #[test]
    fn flags_from_numbers_and_letters() {
        assert_eq!(tcp_flags_byte(&serde_json::json!(18)), Ok(0x12));
        assert_eq!(tcp_flags_byte(&serde_json::json!("---A--S-")), Ok(0x12));
        assert_eq!(tcp_flags_byte(&serde_json::json!("FA")), Ok(0x11));
        assert!(tcp_flags_byte(&serde_json::json!(300)).is_err());
        // Every unambiguous text form of SYN+ACK (0x012) reads the same byte.
        for text in ["---A--S-", "SA", "as", "AS", "18", "0x12", "0x012", "0X0012", " SA "] {
            assert_eq!(tcp_flags_byte(&serde_json::json!(text)), Ok(0x12), "{text}");
        }
        assert_eq!(tcp_flags_byte(&serde_json::json!("")), Ok(0));
        assert_eq!(tcp_flags_byte(&serde_json::json!("0x110")), Ok(0x10), "NS dropped");
        assert_eq!(tcp_flags_byte(&serde_json::json!("NA")), Ok(0x10), "NS dropped");
        // Read letter by letter these would name other flags (ACK = A|C, `.` = ACK in tcpdump).
        for text in ["ACK", "SYN", "S.", "0x", "0x200", "256", "A,S"] {
            assert!(tcp_flags_byte(&serde_json::json!(text)).is_err(), "{text}");
        }
        for byte in [0u8, 0x02, 0x12, 0x18, 0x11, 0xff] {
            assert_eq!(tcp_flags_byte(&serde_json::json!(tcp_flags_text(byte))), Ok(byte));
        }
        assert_eq!(tcp_flags_text(0x12), "---A--S-");
    }
}
