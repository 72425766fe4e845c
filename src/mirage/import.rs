//! MIRAGE-2019/2022 JSON files → a flow store, so every analysis of flowmine runs on the
//! public dataset too. What each store column is made from: `formats/mirage.md`.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use flowmine_core::FlowBatch;
use flowmine_core::flow::EndReason;
use flowmine_core::skip::SkipCounts;
use flowmine_core::walk::{files_below, has_extension};
use flowmine_core::wire::decode::tunnel;
use flowmine_core::wire::protocol::{PROTOCOL_TCP, PROTOCOL_UDP};
use polars::prelude::*;

use super::record::{Record, RecordKey, tcp_flags_byte};
use crate::store::manifest::{Fragments, InputEntry, Parameters, skipped_map};
use crate::store::rows::{RowContext, batch_to_rows};
use crate::store::schema;
use crate::store::{Manifest, PART_ROWS, StoreWriter};

/// Flow rows per part file, as `flowmine flows` does (formats/store.md).

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{}: {message}", path.display())]
    File { path: PathBuf, message: String },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Polars(#[from] PolarsError),
}

/// What an import read and wrote.
#[derive(Debug, Clone)]
pub struct ImportSummary {
    pub files: usize,
    pub flows: u64,
    pub manifest: Manifest,
}

/// The `.json` files among `inputs` (directories searched recursively), sorted by path.
pub fn json_files(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, ImportError> {
    let mut files = Vec::new();
    for input in inputs {
        let err = |e: std::io::Error| ImportError::File { path: input.clone(), message: e.to_string() };
        if input.is_dir() {
            files.extend(files_below(input, |p| has_extension(p, "json")).map_err(err)?);
        } else {
            std::fs::metadata(input).map_err(err)?;
            files.push(input.clone());
        }
    }
    Ok(files)
}

fn end_reason(name: &str) -> Option<EndReason> {
    EndReason::ALL.into_iter().find(|r| r.name() == name)
}

fn tunnel_bits(text: Option<&str>) -> u8 {
    let Some(text) = text else { return 0 };
    text.split('+')
        .filter_map(|part| tunnel::NAMES.iter().find(|(_, n)| *n == part).map(|(b, _)| *b))
        .fold(0, |a, b| a | b)
}

fn addr_bytes(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(a) => {
            let mut out = [0u8; 16];
            out[..4].copy_from_slice(&a.octets());
            out
        }
        IpAddr::V6(a) => a.octets(),
    }
}

/// Seconds (a MIRAGE float) as whole nanoseconds.
fn secs_to_ns(secs: f64) -> i64 {
    (secs * 1e9).round() as i64
}

/// Estimated IP length when a file (MIRAGE-2019) has only payload lengths: payload plus
/// option-less IP and transport headers.
fn estimated_ip_len(payload: u32, ip_version: u8, protocol: u8) -> u32 {
    let ip_header = if ip_version == 4 { 20 } else { 40 };
    let l4_header = match protocol {
        PROTOCOL_TCP => 20,
        PROTOCOL_UDP => 8,
        _ => 0,
    };
    payload + ip_header + l4_header
}

/// Appends one record to `batch` as a flow row (label and capture file are kept apart:
/// the batch has no per-row columns for them).
fn push_record(batch: &mut FlowBatch, key: &RecordKey, record: &Record, input_index: u32) -> Result<(), String> {
    let p = &record.packet_data;
    let n = p.packet_dir.len();
    let same = |len: usize, name: &str| {
        if len == n { Ok(()) } else { Err(format!("packet_data.{name} has {len} entries, packet_dir {n}")) }
    };
    same(p.src_port.len(), "src_port")?;
    same(p.L4_payload_bytes.len(), "L4_payload_bytes")?;
    same(p.iat.len(), "iat")?;
    same(p.TCP_win_size.len(), "TCP_win_size")?;
    if let Some(list) = &p.timestamp {
        same(list.len(), "timestamp")?;
    }
    if let Some(list) = &p.IP_packet_bytes {
        same(list.len(), "IP_packet_bytes")?;
    }
    if let Some(list) = &p.TCP_flags {
        same(list.len(), "TCP_flags")?;
    }
    let m = &record.flow_metadata;
    let extra = record.flowmine.as_ref();
    let ip_version = extra.map_or(if key.src_ip.is_ipv4() { 4 } else { 6 }, |e| e.ip_version);

    // Timestamps: exact from the flowmine section, else MIRAGE-2022's (to the microsecond,
    // the precision a float of epoch seconds holds), else (2019) relative to 0.
    let mut ts = Vec::with_capacity(n);
    match (extra, &p.timestamp) {
        (None, Some(stamps)) => ts.extend(stamps.iter().map(|&t| (t * 1e6).round() as i64 * 1000)),
        _ => {
            let mut t = extra.map_or(0, |e| e.first_ts_ns);
            for (k, &iat) in p.iat.iter().enumerate() {
                if k > 0 {
                    t += secs_to_ns(iat);
                }
                ts.push(t);
            }
        }
    }
    let first_ts_ns = extra.map_or(ts.first().copied().unwrap_or(0), |e| e.first_ts_ns);
    let last_ts_ns = extra.map_or(first_ts_ns + secs_to_ns(m.BF_duration), |e| e.last_ts_ns);
    let reason = match extra {
        Some(e) => end_reason(&e.end_reason).ok_or_else(|| format!("unknown end_reason `{}`", e.end_reason))?,
        None => EndReason::EndOfInput,
    };

    batch.ip_version.push(ip_version);
    batch.protocol.push(key.protocol);
    batch.src_addr.push(addr_bytes(key.src_ip));
    batch.dst_addr.push(addr_bytes(key.dst_ip));
    batch.src_port.push(key.src_port);
    batch.dst_port.push(key.dst_port);
    batch.vlan.push(extra.map_or(0, |e| e.vlan));
    batch.first_ts_ns.push(first_ts_ns);
    batch.last_ts_ns.push(last_ts_ns);
    batch.fwd_packets.push(m.UF_num_packets);
    batch.bwd_packets.push(m.DF_num_packets);
    batch.fwd_bytes.push(m.UF_IP_packet_bytes);
    batch.bwd_bytes.push(m.DF_IP_packet_bytes);
    // MIRAGE has no link layer: without the flowmine section, wire bytes are IP bytes.
    batch.fwd_wire_bytes.push(extra.map_or(m.UF_IP_packet_bytes, |e| e.fwd_wire_bytes));
    batch.bwd_wire_bytes.push(extra.map_or(m.DF_IP_packet_bytes, |e| e.bwd_wire_bytes));
    batch.end_reason.push(reason);
    batch.tunnel.push(tunnel_bits(extra.and_then(|e| e.tunnel.as_deref())));
    batch.input_index.push(input_index);
    batch.pkt_ts_ns.extend_from_slice(&ts);
    batch.pkt_dir.extend_from_slice(&p.packet_dir);
    match &p.IP_packet_bytes {
        Some(lens) => batch.pkt_ip_len.extend_from_slice(lens),
        None => {
            batch.pkt_ip_len.extend(p.L4_payload_bytes.iter().map(|&l| estimated_ip_len(l, ip_version, key.protocol)))
        }
    }
    batch.pkt_l4_payload_len.extend_from_slice(&p.L4_payload_bytes);
    match &p.TCP_flags {
        Some(flags) => {
            for f in flags {
                batch.pkt_tcp_flags.push(tcp_flags_byte(f)?);
            }
        }
        None => batch.pkt_tcp_flags.extend(std::iter::repeat_n(0, n)),
    }
    // Windows are 16-bit on the wire; a larger value would be a scaled window.
    batch.pkt_tcp_window.extend(p.TCP_win_size.iter().map(|&w| w.min(u16::MAX as u32) as u16));
    batch.pkt_offsets.push(batch.pkt_ts_ns.len() as u64);
    Ok(())
}

/// Per-row values the batch does not hold: label and capture file.
#[derive(Default)]
struct RowExtras {
    labels: Vec<Option<String>>,
    captures: Vec<String>,
}

fn flush(writer: &mut StoreWriter, batch: &mut FlowBatch, extras: &mut RowExtras) -> Result<(), ImportError> {
    let mut df = batch_to_rows(std::mem::replace(batch, FlowBatch::new()), &RowContext::default())?;
    df.replace(schema::LABEL, Column::new(schema::LABEL.into(), std::mem::take(&mut extras.labels)))?;
    df.replace(schema::CAPTURE_FILE, Column::new(schema::CAPTURE_FILE.into(), std::mem::take(&mut extras.captures)))?;
    writer.write_part(&mut df)?;
    Ok(())
}

/// Reads MIRAGE JSON `inputs` (files or directories) into a new flow store at `out`.
pub fn import_mirage(inputs: &[PathBuf], out: &Path, overwrite: bool) -> Result<ImportSummary, ImportError> {
    let files = json_files(inputs)?;
    let mut writer = StoreWriter::create(out, overwrite)?;
    let mut batch = FlowBatch::new();
    let mut extras = RowExtras::default();
    let mut entries = Vec::new();
    let mut flows = 0u64;
    let mut packets_total = 0u64;
    let mut all_lists_complete = true;
    let mut longest_list = 0usize;
    for (index, path) in files.iter().enumerate() {
        let file_err = |message: String| ImportError::File { path: path.clone(), message };
        let bytes = std::fs::read(path).map_err(|e| file_err(e.to_string()))?;
        let records: BTreeMap<String, Record> =
            serde_json::from_slice(&bytes).map_err(|e| file_err(format!("not a MIRAGE JSON file: {e}")))?;
        let mut file_packets = 0;
        for (key_text, record) in &records {
            let key = RecordKey::parse(key_text).map_err(file_err)?;
            push_record(&mut batch, &key, record, index as u32)
                .map_err(|e| file_err(format!("record {key_text}: {e}")))?;
            let m = &record.flow_metadata;
            let listed = record.packet_data.packet_dir.len();
            let kept = record.flowmine.as_ref().map_or(m.BF_num_packets, |e| e.stored_packets);
            all_lists_complete &= listed as u64 == kept;
            longest_list = longest_list.max(listed);
            file_packets += m.BF_num_packets;
            extras.labels.push(m.BF_label.clone());
            let capture = record.flowmine.as_ref().and_then(|e| e.capture_file.clone());
            extras.captures.push(capture.unwrap_or_else(|| path.to_string_lossy().into_owned()));
            if batch.len() >= PART_ROWS {
                flush(&mut writer, &mut batch, &mut extras)?;
            }
        }
        flows += records.len() as u64;
        packets_total += file_packets;
        entries.push(InputEntry {
            path: path.to_string_lossy().into_owned(),
            format: Some("mirage-json".to_owned()),
            bytes: bytes.len() as u64,
            packets_total: file_packets,
            packets_in_flows: file_packets,
            skipped: skipped_map(&SkipCounts::default()),
            flows: records.len() as u64,
            damage: None,
            damaged_stretches: Vec::new(),
            skipped_bytes: 0,
            size_changed: None,
        });
    }
    if !batch.is_empty() || writer.parts().is_empty() {
        flush(&mut writer, &mut batch, &mut extras)?;
    }
    let parameters = Parameters {
        // The flows were cut by MIRAGE's tools, not by flowmine's timeouts.
        idle_timeout_s: None,
        active_timeout_s: None,
        tcp_close: false,
        tcp_close_linger_s: 0.0,
        packets: if all_lists_complete { "all".to_owned() } else { longest_list.to_string() },
        label: None,
        threads: 1,
        max_flows: None,
    };
    let manifest = Manifest {
        format: crate::store::manifest::FORMAT_NAME.to_owned(),
        format_version: crate::store::manifest::FORMAT_VERSION,
        flowmine_version: env!("CARGO_PKG_VERSION").to_owned(),
        parameters,
        packets_total,
        packets_in_flows: packets_total,
        skipped: skipped_map(&SkipCounts::default()),
        flows,
        flows_evicted: 0,
        fragments: Fragments { joined: 0, unmatched: 0 },
        parts: writer.parts().to_vec(),
        inputs: entries,
        ignored_inputs: Vec::new(),
        inputs_in_progress: Vec::new(),
    };
    writer.finish(&manifest)?;
    Ok(ImportSummary { files: files.len(), flows, manifest })
}
