//! One MIRAGE biflow record: the JSON value stored under a `"src_ip,src_port,dst_ip,dst_port,proto"`
//! key. Field names are MIRAGE's (as documented by tcbench's schemas of MIRAGE-2019 and
//! MIRAGE-2022); `flowmine` is our own optional section that lets a flowmine export come
//! back exactly. Layout and meaning: `formats/mirage.md`.

use std::collections::BTreeMap;
use std::net::IpAddr;

use flowmine_core::wire::protocol::{PROTOCOL_TCP, PROTOCOL_UDP};
use flowmine_core::wire::tcp;
use serde::{Deserialize, Serialize};

/// The per-packet lists. 2019 files have the first six; 2022 files add the rest.
#[allow(non_snake_case)] // MIRAGE's field names
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PacketData {
    pub src_port: Vec<u16>,
    pub dst_port: Vec<u16>,
    /// 0 = upstream (from the key's source), 1 = downstream.
    pub packet_dir: Vec<u8>,
    pub L4_payload_bytes: Vec<u32>,
    /// Seconds since the previous packet of the biflow; 0 for the first.
    pub iat: Vec<f64>,
    pub TCP_win_size: Vec<u32>,
    /// MIRAGE-2022: packet time, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Vec<f64>>,
    /// MIRAGE-2022: IP total length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub IP_packet_bytes: Option<Vec<u32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub IP_header_bytes: Option<Vec<u32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub L4_header_bytes: Option<Vec<u32>>,
    /// MIRAGE-2022: TCP flags; written as the flags byte, read as a number or as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub TCP_flags: Option<Vec<serde_json::Value>>,
}

/// `flow_metadata`: whole-flow counters (they cover the whole flow even where the
/// packet lists stop early) and the label.
#[allow(non_snake_case)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowMetadata {
    pub BF_label: Option<String>,
    pub BF_labeling_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub BF_device: Option<String>,
    pub BF_num_packets: u64,
    pub BF_IP_packet_bytes: u64,
    pub BF_L4_payload_bytes: Option<u64>,
    pub BF_duration: f64,
    pub UF_num_packets: u64,
    pub UF_IP_packet_bytes: u64,
    pub UF_L4_payload_bytes: Option<u64>,
    pub UF_duration: Option<f64>,
    pub DF_num_packets: u64,
    pub DF_IP_packet_bytes: u64,
    pub DF_L4_payload_bytes: Option<u64>,
    pub DF_duration: Option<f64>,
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
}

/// `flow_features`: quantity (`packet_length`, `iat`) → set (`biflow`, `upstream_flow`,
/// `downstream_flow`) → statistic (`min` … `kurtosis`, `10_percentile` … `90_percentile`).
pub type FlowFeatures = BTreeMap<String, BTreeMap<String, BTreeMap<String, Option<f64>>>>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub packet_data: PacketData,
    #[serde(default)]
    pub flow_features: FlowFeatures,
    pub flow_metadata: FlowMetadata,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flowmine: Option<FlowmineExtra>,
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

/// A TCP flags entry as the flags byte: a number, or text naming flags by letter
/// (`F S R P A U E C`, any order, other characters such as `-` or `.` ignored).
pub fn tcp_flags_byte(value: &serde_json::Value) -> Result<u8, String> {
    match value {
        serde_json::Value::Number(n) => {
            n.as_u64().and_then(|v| u8::try_from(v).ok()).ok_or_else(|| format!("TCP flags {n} is not a byte"))
        }
        serde_json::Value::String(s) => {
            if let Ok(v) = s.parse::<u8>() {
                return Ok(v);
            }
            let mut byte = 0;
            for c in s.chars() {
                byte |= match c.to_ascii_uppercase() {
                    'F' => tcp::FIN,
                    'S' => tcp::SYN,
                    'R' => tcp::RST,
                    'P' => tcp::PSH,
                    'A' => tcp::ACK,
                    'U' => tcp::URG,
                    'E' => tcp::ECE,
                    'C' => tcp::CWR,
                    _ => 0,
                };
            }
            Ok(byte)
        }
        other => Err(format!("TCP flags {other} is neither a number nor text")),
    }
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
    }
}
