//! MIRAGE-2019/2022 JSON files → a flow store, so every analysis of flowmine runs on the
//! public dataset too. Files stream in (one record in memory at a time per file), several
//! files at once; each record is checked against the dataset's invariants and left out,
//! named and counted, when it breaks one. What each store column is made from:
//! `formats/mirage.md`.

use std::fs::File;
use std::io::BufReader;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use flowmine_core::FlowBatch;
use flowmine_core::flow::EndReason;
use flowmine_core::skip::SkipCounts;
use flowmine_core::walk::{files_below, has_extension};
use flowmine_core::wire::decode::tunnel;
use flowmine_core::wire::protocol::{PROTOCOL_TCP, PROTOCOL_UDP};
use polars::prelude::*;
use rayon::prelude::*;
use serde::de::{Deserializer as _, MapAccess, Visitor};

use super::json::NonFinite;
use super::record::{
    FieldKind, Layout, METADATA_FIELDS, Record, RecordKey, SET_KEYS, STAT_KEYS, metadata_number, metadata_text,
    tcp_flags_byte,
};
use crate::Error;
use crate::features::stats::STAT_NAMES;
use crate::features::table::{DATASET_FEATURES, DATASET_QUANTITIES, DIRECTIONS, dataset_column};
use crate::store::manifest::{Fragments, InputEntry, Parameters, skipped_map};
use crate::store::rows::{RowContext, batch_to_rows};
use crate::store::{Manifest, PART_ROWS, StoreWriter, schema};

/// The manifest's `skipped` reason for the packets of records left out.
pub const INVALID_RECORD: &str = "invalid_mirage_record";

/// Store column (List(Float64)) holding each record's own `iat` list.
pub const DATASET_IAT: &str = "mirage_iat";

/// Store columns (List(UInt32)) holding MIRAGE-2022's per-packet header lengths, which
/// the flow store does not split (empty lists where a record has none).
pub const DATASET_HEADERS: [&str; 2] = ["mirage_IP_header_bytes", "mirage_L4_header_bytes"];

/// Rejections kept for the summary; the rest are only counted.
const REJECTIONS_KEPT: usize = 10_000;

/// A record left out: where it is and which field broke which invariant.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub file: PathBuf,
    pub key: String,
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: record {}: {}: {}", self.file.display(), self.key, self.field, self.message)
    }
}

/// What an import read and wrote.
#[derive(Debug, Clone)]
pub struct ImportSummary {
    pub files: usize,
    pub flows: u64,
    /// Records left out, in file order (the first [`REJECTIONS_KEPT`]).
    pub rejected: Vec<Rejection>,
    /// Every record left out.
    pub rejected_total: u64,
    pub manifest: Manifest,
}

/// How far an import is, after each batch of files.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportProgress {
    pub files_done: usize,
    pub files_total: usize,
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub flows: u64,
}

/// The `.json` files among `inputs` (directories searched recursively), sorted by path.
pub fn json_files(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    let mut files = Vec::new();
    for input in inputs {
        let err = |source| Error::Io { path: input.clone(), source };
        if input.is_dir() {
            let found = files_below(input, |p| has_extension(p, "json")).map_err(|e| match e {
                // The walk names the directory it could not read.
                flowmine_core::Error::Io { path, source } => Error::Io { path, source },
                e => Error::input(input, e),
            })?;
            files.extend(found);
        } else {
            std::fs::metadata(input).map_err(err)?;
            files.push(input.clone());
        }
    }
    Ok(files)
}

/// What a file's name and folder say: MIRAGE names files `<unix_ts>_<package>_<dataset
/// suffix>.json`, one capture session each, in one folder per device (MIRAGE-2019) or per
/// app (MIRAGE-2022, whose records name the device in `BF_device`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileNaming {
    /// `<unix_ts>_<package>`, or the whole stem when the name has another shape.
    pub session: String,
    /// The package, when the name has MIRAGE's shape.
    pub app: Option<String>,
    /// The folder's name for a MIRAGE-2019 file (its device folder).
    pub device_folder: Option<String>,
    /// The dataset whose file name this is.
    pub layout: Option<Layout>,
}

impl FileNaming {
    pub fn of(path: &Path) -> FileNaming {
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let mut fields = stem.splitn(3, '_');
        let (ts, package, rest) = (fields.next(), fields.next(), fields.next());
        let shaped = ts.is_some_and(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
            && package.is_some_and(|p| !p.is_empty());
        let (session, app) = match (shaped, ts, package) {
            (true, Some(ts), Some(package)) => (format!("{ts}_{package}"), Some(package.to_owned())),
            _ => (stem.clone(), None),
        };
        let layout = rest.filter(|_| shaped).and_then(Layout::of_suffix);
        let device_folder = (layout == Some(Layout::Mirage2019)).then(|| folder_name(path)).flatten();
        FileNaming { session, app, device_folder, layout }
    }
}

/// The name of the folder holding `path`.
pub fn folder_name(path: &Path) -> Option<String> {
    path.parent().and_then(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned())
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

/// A broken invariant: the field and what is wrong with it.
type Broken = (String, String);

fn broken(field: &str, message: impl Into<String>) -> Broken {
    (field.to_owned(), message.into())
}

/// The whole-flow counters of `flow_metadata`, checked.
struct Counters {
    uf_packets: u64,
    df_packets: u64,
    uf_bytes: u64,
    df_bytes: u64,
    bf_duration: f64,
}

fn count(m: &serde_json::Map<String, serde_json::Value>, name: &str) -> Result<u64, Broken> {
    let field = format!("flow_metadata.{name}");
    let value = m.get(name).ok_or_else(|| broken(&field, "missing"))?;
    value.as_u64().ok_or_else(|| broken(&field, format!("{value} is not a count")))
}

/// Checks a record against the invariants every MIRAGE record keeps; the first broken one
/// is returned.
fn check(key: &RecordKey, r: &Record) -> Result<Counters, Broken> {
    let p = &r.packet_data;
    let n = p.packet_dir.len();
    let lengths = [
        ("src_port", Some(p.src_port.len())),
        ("dst_port", Some(p.dst_port.len())),
        ("L4_payload_bytes", Some(p.L4_payload_bytes.len())),
        ("iat", Some(p.iat.len())),
        ("TCP_win_size", Some(p.TCP_win_size.len())),
        ("timestamp", p.timestamp.as_ref().map(Vec::len)),
        ("IP_packet_bytes", p.IP_packet_bytes.as_ref().map(Vec::len)),
        ("IP_header_bytes", p.IP_header_bytes.as_ref().map(Vec::len)),
        ("L4_header_bytes", p.L4_header_bytes.as_ref().map(Vec::len)),
        ("TCP_flags", p.TCP_flags.as_ref().map(Vec::len)),
    ];
    for (name, len) in lengths {
        if let Some(len) = len.filter(|&len| len != n) {
            return Err(broken(&format!("packet_data.{name}"), format!("{len} entries where packet_dir has {n}")));
        }
    }
    if let Some(k) = p.packet_dir.iter().position(|&d| d > 1) {
        return Err(broken("packet_data.packet_dir", format!("packet {k}: {} is neither 0 nor 1", p.packet_dir[k])));
    }
    if let Some(k) = p.iat.iter().position(|v| !(v.0.is_finite() && v.0 >= 0.0)) {
        return Err(broken("packet_data.iat", format!("packet {k}: {} is not a time since the previous", p.iat[k].0)));
    }
    if let Some(stamps) = &p.timestamp {
        let bad = stamps.iter().enumerate().position(|(k, t)| !t.0.is_finite() || (k > 0 && t.0 < stamps[k - 1].0));
        if let Some(k) = bad {
            return Err(broken(
                "packet_data.timestamp",
                format!("packet {k}: {} is not after the previous", stamps[k].0),
            ));
        }
    }
    for (k, &d) in p.packet_dir.iter().enumerate() {
        let (from, to) = if d == 0 { (key.src_port, key.dst_port) } else { (key.dst_port, key.src_port) };
        if (p.src_port[k], p.dst_port[k]) != (from, to) {
            return Err(broken(
                "packet_data.src_port",
                format!("packet {k} (dir {d}): ports {} → {} do not match the key", p.src_port[k], p.dst_port[k]),
            ));
        }
    }
    if let Some(ip) = &p.IP_packet_bytes
        && let Some(k) = ip.iter().zip(&p.L4_payload_bytes).position(|(&ip, &l4)| l4 > ip)
    {
        return Err(broken("packet_data.L4_payload_bytes", format!("packet {k}: more payload than IP bytes")));
    }
    if let Some(flags) = &p.TCP_flags {
        for (k, f) in flags.iter().enumerate() {
            tcp_flags_byte(f).map_err(|e| broken("packet_data.TCP_flags", format!("packet {k}: {e}")))?;
        }
    }

    let m = &r.flow_metadata;
    let bf_packets = count(m, "BF_num_packets")?;
    let uf_packets = count(m, "UF_num_packets")?;
    let df_packets = count(m, "DF_num_packets")?;
    let listed_up = p.packet_dir.iter().filter(|&&d| d == 0).count() as u64;
    let listed_down = n as u64 - listed_up;
    if uf_packets < listed_up {
        return Err(broken("flow_metadata.UF_num_packets", format!("{uf_packets} below the {listed_up} listed")));
    }
    if df_packets < listed_down {
        return Err(broken("flow_metadata.DF_num_packets", format!("{df_packets} below the {listed_down} listed")));
    }
    if bf_packets != uf_packets + df_packets {
        return Err(broken("flow_metadata.BF_num_packets", format!("{bf_packets} is not {uf_packets} + {df_packets}")));
    }
    let bf_bytes = count(m, "BF_IP_packet_bytes")?;
    let uf_bytes = count(m, "UF_IP_packet_bytes")?;
    let df_bytes = count(m, "DF_IP_packet_bytes")?;
    if bf_bytes != uf_bytes + df_bytes {
        return Err(broken("flow_metadata.BF_IP_packet_bytes", format!("{bf_bytes} is not {uf_bytes} + {df_bytes}")));
    }
    let bf_duration = m.get("BF_duration").and_then(metadata_number);
    let bf_duration = bf_duration
        .filter(|d| d.is_finite() && *d >= 0.0)
        .ok_or_else(|| broken("flow_metadata.BF_duration", "missing, negative or not a number"))?;
    for name in ["UF_duration", "DF_duration"] {
        if m.get(name).and_then(metadata_number).is_some_and(|d| d < 0.0) {
            return Err(broken(&format!("flow_metadata.{name}"), "negative"));
        }
    }
    Ok(Counters { uf_packets, df_packets, uf_bytes, df_bytes, bf_duration })
}

/// Appends one checked record to `batch` as a flow row.
fn push_record(batch: &mut FlowBatch, key: &RecordKey, record: &Record, c: &Counters, input_index: u32) {
    let p = &record.packet_data;
    let n = p.packet_dir.len();
    let extra = record.flowmine.as_ref();
    let ip_version = extra.map_or(if key.src_ip.is_ipv4() { 4 } else { 6 }, |e| e.ip_version);

    // Timestamps: exact from the flowmine section, else MIRAGE-2022's (to the microsecond,
    // the precision a float of epoch seconds holds), else (2019) relative to 0.
    let mut ts = Vec::with_capacity(n);
    match (extra, &p.timestamp) {
        (None, Some(stamps)) => ts.extend(stamps.iter().map(|&t| (t.0 * 1e6).round() as i64 * 1000)),
        _ => {
            let mut t = extra.map_or(0, |e| e.first_ts_ns);
            for (k, &iat) in p.iat.iter().enumerate() {
                if k > 0 {
                    t += secs_to_ns(iat.0);
                }
                ts.push(t);
            }
        }
    }
    let first_ts_ns = extra.map_or(ts.first().copied().unwrap_or(0), |e| e.first_ts_ns);
    let last_ts_ns = extra.map_or(first_ts_ns + secs_to_ns(c.bf_duration), |e| e.last_ts_ns);
    let reason = extra.and_then(|e| end_reason(&e.end_reason)).unwrap_or(EndReason::EndOfInput);

    batch.ip_version.push(ip_version);
    batch.protocol.push(key.protocol);
    batch.src_addr.push(addr_bytes(key.src_ip));
    batch.dst_addr.push(addr_bytes(key.dst_ip));
    batch.src_port.push(key.src_port);
    batch.dst_port.push(key.dst_port);
    batch.vlan.push(extra.map_or(0, |e| e.vlan));
    batch.first_ts_ns.push(first_ts_ns);
    batch.last_ts_ns.push(last_ts_ns);
    batch.fwd_packets.push(c.uf_packets);
    batch.bwd_packets.push(c.df_packets);
    batch.fwd_bytes.push(c.uf_bytes);
    batch.bwd_bytes.push(c.df_bytes);
    // MIRAGE has no link layer: without the flowmine section, wire bytes are IP bytes.
    batch.fwd_wire_bytes.push(extra.map_or(c.uf_bytes, |e| e.fwd_wire_bytes));
    batch.bwd_wire_bytes.push(extra.map_or(c.df_bytes, |e| e.bwd_wire_bytes));
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
        // Checked by `check`.
        Some(flags) => batch.pkt_tcp_flags.extend(flags.iter().map(|f| tcp_flags_byte(f).unwrap_or(0))),
        None => batch.pkt_tcp_flags.extend(std::iter::repeat_n(0, n)),
    }
    // Windows are 16-bit on the wire; a larger value would be a scaled window.
    batch.pkt_tcp_window.extend(p.TCP_win_size.iter().map(|&w| w.min(u16::MAX as u32) as u16));
    batch.pkt_offsets.push(batch.pkt_ts_ns.len() as u64);
}

/// A `flow_metadata` field's store column.
enum MetaColumn {
    Number(Vec<Option<f64>>),
    Text(Vec<Option<String>>),
}

/// Per-row values the batch does not hold.
struct RowExtras {
    labels: Vec<Option<String>>,
    captures: Vec<String>,
    labeling_types: Vec<Option<String>>,
    devices: Vec<Option<String>>,
    sessions: Vec<String>,
    apps: Vec<Option<String>>,
    /// One per [`METADATA_FIELDS`] entry.
    metadata: Vec<MetaColumn>,
    /// Fields outside [`METADATA_FIELDS`], as a JSON object (null when none).
    metadata_other: Vec<Option<String>>,
    /// The record's `flow_features`, one vector per statistic (quantity × set × stat).
    features: Vec<Vec<Option<f64>>>,
    has_features: Vec<bool>,
    /// The record's own `iat` list: MIRAGE-2019's are differences of float timestamps,
    /// finer than the store's nanoseconds, and export writes them back unchanged.
    iats: Vec<Vec<f64>>,
    /// The record's `IP_header_bytes` and `L4_header_bytes` lists (empty when absent).
    headers: [Vec<Vec<u32>>; 2],
}

impl Default for RowExtras {
    fn default() -> RowExtras {
        RowExtras {
            labels: Vec::new(),
            captures: Vec::new(),
            labeling_types: Vec::new(),
            devices: Vec::new(),
            sessions: Vec::new(),
            apps: Vec::new(),
            metadata: METADATA_FIELDS
                .iter()
                .map(|(_, kind)| match kind {
                    FieldKind::Number => MetaColumn::Number(Vec::new()),
                    FieldKind::Text => MetaColumn::Text(Vec::new()),
                })
                .collect(),
            metadata_other: Vec::new(),
            features: vec![Vec::new(); DATASET_QUANTITIES.len() * SET_KEYS.len() * STAT_KEYS.len()],
            has_features: Vec::new(),
            iats: Vec::new(),
            headers: Default::default(),
        }
    }
}

impl RowExtras {
    fn push(&mut self, record: &Record, naming: &FileNaming, path: &Path) {
        let m = &record.flow_metadata;
        let text = |name: &str| m.get(name).and_then(metadata_text);
        self.labels.push(text("BF_label"));
        let capture = record.flowmine.as_ref().and_then(|e| e.capture_file.clone());
        self.captures.push(capture.unwrap_or_else(|| path.to_string_lossy().into_owned()));
        let extra = record.flowmine.as_ref();
        self.labeling_types.push(extra.and_then(|e| e.labeling_type.clone()).or_else(|| text("BF_labeling_type")));
        let device = extra.and_then(|e| e.device.clone()).or_else(|| text("BF_device"));
        self.devices.push(device.or_else(|| naming.device_folder.clone()));
        self.sessions.push(extra.and_then(|e| e.session.clone()).unwrap_or_else(|| naming.session.clone()));
        self.apps.push(naming.app.clone());
        for ((name, _), column) in METADATA_FIELDS.iter().zip(&mut self.metadata) {
            let value = m.get(*name);
            match column {
                MetaColumn::Number(v) => v.push(value.and_then(metadata_number).filter(|x| !x.is_nan())),
                MetaColumn::Text(v) => v.push(value.and_then(metadata_text)),
            }
        }
        let other: serde_json::Map<String, serde_json::Value> = m
            .iter()
            .filter(|(k, _)| !METADATA_FIELDS.iter().any(|(name, _)| name == k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        self.metadata_other.push((!other.is_empty()).then(|| serde_json::Value::Object(other).to_string()));
        let f = &record.flow_features;
        let mut column = self.features.iter_mut();
        for quantity in DATASET_QUANTITIES {
            for set in SET_KEYS {
                for stat in STAT_KEYS {
                    let value = f.get(quantity).and_then(|s| s.get(set)).and_then(|s| s.get(stat));
                    column.next().expect("one column per statistic").push(value.and_then(|v| v.value()));
                }
            }
        }
        self.has_features.push(!f.is_empty());
        self.iats.push(record.packet_data.iat.iter().map(|v| v.0).collect());
        let p = &record.packet_data;
        for (column, list) in self.headers.iter_mut().zip([&p.IP_header_bytes, &p.L4_header_bytes]) {
            column.push(list.clone().unwrap_or_default());
        }
    }

    fn append(&mut self, other: RowExtras) {
        self.labels.extend(other.labels);
        self.captures.extend(other.captures);
        self.labeling_types.extend(other.labeling_types);
        self.devices.extend(other.devices);
        self.sessions.extend(other.sessions);
        self.apps.extend(other.apps);
        for (ours, theirs) in self.metadata.iter_mut().zip(other.metadata) {
            match (ours, theirs) {
                (MetaColumn::Number(a), MetaColumn::Number(b)) => a.extend(b),
                (MetaColumn::Text(a), MetaColumn::Text(b)) => a.extend(b),
                _ => unreachable!("the same field has the same kind"),
            }
        }
        self.metadata_other.extend(other.metadata_other);
        for (ours, theirs) in self.features.iter_mut().zip(other.features) {
            ours.extend(theirs);
        }
        self.has_features.extend(other.has_features);
        self.iats.extend(other.iats);
        for (ours, theirs) in self.headers.iter_mut().zip(other.headers) {
            ours.extend(theirs);
        }
    }

    /// The columns, in store order, after the batch's own.
    fn columns(self) -> Vec<Column> {
        let mut columns = vec![
            Column::new(schema::LABELING_TYPE.into(), self.labeling_types),
            Column::new(schema::DEVICE.into(), self.devices),
            Column::new(schema::SESSION.into(), self.sessions),
            Column::new(schema::APP.into(), self.apps),
        ];
        for ((name, _), column) in METADATA_FIELDS.iter().zip(self.metadata) {
            let name = format!("mirage_{name}");
            columns.push(match column {
                MetaColumn::Number(v) => Column::new(name.into(), v),
                MetaColumn::Text(v) => Column::new(name.into(), v),
            });
        }
        columns.push(Column::new("mirage_flow_metadata_other".into(), self.metadata_other));
        columns.push(Column::new(DATASET_FEATURES.into(), self.has_features));
        let iats: Vec<Series> = self.iats.into_iter().map(|v| Series::new(PlSmallStr::EMPTY, v)).collect();
        columns.push(Series::new(DATASET_IAT.into(), iats).into_column());
        for (name, lists) in DATASET_HEADERS.into_iter().zip(self.headers) {
            let lists: Vec<Series> = lists.into_iter().map(|v| Series::new(PlSmallStr::EMPTY, v)).collect();
            columns.push(Series::new(name.into(), lists).into_column());
        }
        let mut values = self.features.into_iter();
        for quantity in DATASET_QUANTITIES {
            for direction in DIRECTIONS {
                for stat in STAT_NAMES {
                    let v = values.next().expect("one column per statistic");
                    columns.push(Column::new(dataset_column(quantity, direction, stat).into(), v));
                }
            }
        }
        columns
    }
}

/// One file read: its rows, its rejections, its manifest entry.
struct FileRows {
    /// Rows handed on while the file was read ([`CHUNK_ROWS`] each), then the rest.
    chunks: Vec<(FlowBatch, RowExtras)>,
    batch: FlowBatch,
    extras: RowExtras,
    rejected: Vec<Rejection>,
    rejected_total: u64,
    entry: InputEntry,
    /// Longest `packet_data` list, and whether every list covers its flow.
    longest_list: usize,
    lists_complete: bool,
}

/// Calls `each` with every `key → record` entry of the JSON object `reader` holds, one at
/// a time.
fn for_each_record(reader: impl std::io::Read, mut each: impl FnMut(String, Record)) -> Result<(), serde_json::Error> {
    struct Records<F>(F);
    impl<'de, F: FnMut(String, Record)> Visitor<'de> for Records<F> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object of MIRAGE records")
        }
        fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
            while let Some(key) = map.next_key::<String>()? {
                let record = map.next_value::<Record>()?;
                (self.0)(key, record);
            }
            Ok(())
        }
    }
    let mut de = serde_json::Deserializer::from_reader(reader);
    (&mut de).deserialize_map(Records(&mut each))?;
    de.end()
}

/// Rows (or packet entries) a file hands on at a time while it is read: a file of any size
/// then needs memory for one chunk.
const CHUNK_ROWS: usize = 16_384;
const CHUNK_PACKETS: usize = 1 << 22;

/// Files from this size on are read one at a time, their chunks written as they come.
const LARGE_FILE: u64 = 64 << 20;

/// A sink for the chunks of rows of a file being read.
type ChunkSink<'a> = dyn FnMut(FlowBatch, RowExtras) -> Result<(), Error> + 'a;

fn read_file(path: &Path, index: u32, on_chunk: &mut ChunkSink) -> Result<FileRows, Error> {
    let file_err = |what: String| Error::Input { path: path.to_owned(), what };
    let file = File::open(path).map_err(|e| file_err(e.to_string()))?;
    let bytes = file.metadata().map_err(|e| file_err(e.to_string()))?.len();
    let naming = FileNaming::of(path);
    let mut rows = FileRows {
        chunks: Vec::new(),
        batch: FlowBatch::new(),
        extras: RowExtras::default(),
        rejected: Vec::new(),
        rejected_total: 0,
        entry: InputEntry {
            path: path.to_string_lossy().into_owned(),
            format: Some("mirage-json".to_owned()),
            bytes,
            packets_total: 0,
            packets_in_flows: 0,
            skipped: skipped_map(&SkipCounts::default()),
            flows: 0,
            damage: None,
            damaged_stretches: Vec::new(),
            skipped_bytes: 0,
            size_changed: None,
        },
        longest_list: 0,
        lists_complete: true,
    };
    let mut rejected_packets = 0u64;
    let mut sink_error = None;
    let reader = NonFinite::new(BufReader::with_capacity(1 << 16, file));
    for_each_record(reader, |key_text, record| {
        if sink_error.is_some() {
            return;
        }
        let listed = record.packet_data.packet_dir.len() as u64;
        let claimed = record.flow_metadata.get("BF_num_packets").and_then(|v| v.as_u64()).unwrap_or(listed);
        let checked = RecordKey::parse(&key_text)
            .map_err(|e| broken("key", e))
            .and_then(|key| check(&key, &record).map(|c| (key, c)));
        let (key, counters) = match checked {
            Ok(ok) => ok,
            Err((field, message)) => {
                rows.rejected_total += 1;
                rejected_packets += claimed.max(listed);
                if rows.rejected.len() < REJECTIONS_KEPT {
                    rows.rejected.push(Rejection { file: path.to_owned(), key: key_text, field, message });
                }
                return;
            }
        };
        push_record(&mut rows.batch, &key, &record, &counters, index);
        rows.extras.push(&record, &naming, path);
        let flow_packets = counters.uf_packets + counters.df_packets;
        let kept = record.flowmine.as_ref().map_or(flow_packets, |e| e.stored_packets);
        rows.lists_complete &= listed == kept;
        rows.longest_list = rows.longest_list.max(listed as usize);
        rows.entry.packets_in_flows += flow_packets;
        rows.entry.flows += 1;
        if rows.batch.len() >= CHUNK_ROWS || rows.batch.packet_entries() >= CHUNK_PACKETS {
            let batch = std::mem::replace(&mut rows.batch, FlowBatch::new());
            if let Err(e) = on_chunk(batch, std::mem::take(&mut rows.extras)) {
                sink_error = Some(e);
            }
        }
    })
    .map_err(|e| file_err(format!("not a MIRAGE JSON file: {e}")))?;
    if let Some(e) = sink_error {
        return Err(e);
    }
    rows.entry.skipped.insert(INVALID_RECORD.to_owned(), rejected_packets);
    rows.entry.packets_total = rows.entry.packets_in_flows + rejected_packets;
    Ok(rows)
}

/// Rows waiting to fill a part file.
struct Pending {
    batch: FlowBatch,
    extras: RowExtras,
}

fn flush(writer: &mut StoreWriter, pending: &mut Pending) -> Result<(), Error> {
    let batch = std::mem::replace(&mut pending.batch, FlowBatch::new());
    let extras = std::mem::take(&mut pending.extras);
    let mut df = batch_to_rows(batch, &RowContext::default())?;
    df.replace("label", Column::new("label".into(), extras.labels.clone()))?;
    df.replace(schema::CAPTURE_FILE, Column::new(schema::CAPTURE_FILE.into(), extras.captures.clone()))?;
    for column in extras.columns() {
        df.with_column(column)?;
    }
    writer.write_part(&mut df)?;
    Ok(())
}

/// Reads MIRAGE JSON `inputs` (files or directories) into a new flow store at `out`,
/// `threads` files at a time (0: one per core), calling `progress` as files are done.
/// A failed import leaves no store behind (nor the directory, if it made it).
pub fn import_mirage(
    inputs: &[PathBuf],
    out: &Path,
    overwrite: bool,
    threads: usize,
    progress: impl FnMut(ImportProgress),
) -> Result<ImportSummary, Error> {
    let files = json_files(inputs)?;
    let made_dir = !out.exists();
    let mut writer = StoreWriter::create(out, overwrite)?;
    let result = import_into(&files, &mut writer, threads, progress);
    let written = match result {
        Ok(summary) => writer.finish(&summary.manifest).map(|_| summary),
        Err(e) => Err(e),
    };
    if written.is_err() {
        remove_partial(out, made_dir);
    }
    written
}

/// Removes what a failed import wrote: the directory it made, or the part files in one
/// that was there before.
fn remove_partial(out: &Path, made_dir: bool) {
    if made_dir {
        let _ = std::fs::remove_dir_all(out);
    } else if let Ok(parts) = crate::store::part_files(out) {
        for part in parts {
            let _ = std::fs::remove_file(part);
        }
    }
}

fn import_into(
    files: &[PathBuf],
    writer: &mut StoreWriter,
    threads: usize,
    mut progress: impl FnMut(ImportProgress),
) -> Result<ImportSummary, Error> {
    let threads = flowmine_core::scan::thread_count(threads);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| Error::Config(format!("thread pool: {e}")))?;
    let bytes_total: u64 = files.iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum();
    let mut state = ImportProgress { files_total: files.len(), bytes_total, ..ImportProgress::default() };
    let mut pending = Pending { batch: FlowBatch::new(), extras: RowExtras::default() };
    let mut entries = Vec::with_capacity(files.len());
    let (mut rejected, mut rejected_total) = (Vec::new(), 0u64);
    let (mut lists_complete, mut longest_list) = (true, 0usize);
    // A few files per thread at a time: memory holds only their rows and one part. A large
    // file is read alone, its chunks going to the part files as they come.
    let mut start = 0;
    while start < files.len() {
        let large = |f: &PathBuf| std::fs::metadata(f).is_ok_and(|m| m.len() >= LARGE_FILE);
        let read: Vec<Result<FileRows, Error>> = if large(&files[start]) {
            let mut sink = |batch: FlowBatch, extras: RowExtras| {
                pending.batch.extend_from(&batch);
                pending.extras.append(extras);
                if pending.batch.len() >= PART_ROWS {
                    flush(writer, &mut pending)?;
                }
                Ok(())
            };
            let one = read_file(&files[start], start as u32, &mut sink);
            start += 1;
            vec![one]
        } else {
            let end = (start..files.len()).take(threads * 2).take_while(|&k| !large(&files[k])).last().unwrap_or(start);
            let group = start..end + 1;
            start = end + 1;
            pool.install(|| {
                group
                    .into_par_iter()
                    .map(|k| {
                        let mut chunks = Vec::new();
                        let mut keep = |batch, extras| {
                            chunks.push((batch, extras));
                            Ok(())
                        };
                        let mut rows = read_file(&files[k], k as u32, &mut keep)?;
                        rows.chunks = chunks;
                        Ok(rows)
                    })
                    .collect()
            })
        };
        for rows in read {
            let rows = rows?;
            for (batch, extras) in rows.chunks.into_iter().chain([(rows.batch, rows.extras)]) {
                pending.batch.extend_from(&batch);
                pending.extras.append(extras);
                if pending.batch.len() >= PART_ROWS {
                    flush(writer, &mut pending)?;
                }
            }
            if rejected.len() < REJECTIONS_KEPT {
                rejected.extend(rows.rejected.into_iter().take(REJECTIONS_KEPT - rejected.len()));
            }
            rejected_total += rows.rejected_total;
            lists_complete &= rows.lists_complete;
            longest_list = longest_list.max(rows.longest_list);
            state.files_done += 1;
            state.bytes_done += rows.entry.bytes;
            state.flows += rows.entry.flows;
            entries.push(rows.entry);
        }
        progress(state);
    }
    if !pending.batch.is_empty() || writer.parts().is_empty() {
        flush(writer, &mut pending)?;
    }
    let mut skipped = skipped_map(&SkipCounts::default());
    skipped.insert(INVALID_RECORD.to_owned(), entries.iter().map(|e| e.skipped[INVALID_RECORD]).sum());
    let parameters = Parameters {
        // The flows were cut by MIRAGE's tools, not by flowmine's timeouts.
        idle_timeout_s: None,
        active_timeout_s: None,
        tcp_close: false,
        tcp_close_linger_s: 0.0,
        packets: if lists_complete { "all".to_owned() } else { longest_list.to_string() },
        label: None,
        threads,
        max_flows: None,
    };
    let manifest = Manifest {
        format: crate::store::manifest::FORMAT_NAME.to_owned(),
        format_version: crate::store::manifest::FORMAT_VERSION,
        flowmine_version: env!("CARGO_PKG_VERSION").to_owned(),
        parameters,
        packets_total: entries.iter().map(|e| e.packets_total).sum(),
        packets_in_flows: entries.iter().map(|e| e.packets_in_flows).sum(),
        skipped,
        flows: state.flows,
        flows_evicted: 0,
        fragments: Fragments { joined: 0, unmatched: 0 },
        parts: writer.parts().to_vec(),
        inputs: entries,
        ignored_inputs: Vec::new(),
        inputs_in_progress: Vec::new(),
    };
    Ok(ImportSummary { files: files.len(), flows: state.flows, rejected, rejected_total, manifest })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_give_session_app_and_device_folder() {
        let p = Path::new(
            "x/Nexus7_bc_ee_7b_a4_09_47/1494596297_air.com.hypah.io.slither_MIRAGE-2019_traffic_dataset_labeled_biflows.json",
        );
        let n = FileNaming::of(p);
        assert_eq!(n.session, "1494596297_air.com.hypah.io.slither");
        assert_eq!(n.app.as_deref(), Some("air.com.hypah.io.slither"));
        assert_eq!(n.device_folder.as_deref(), Some("Nexus7_bc_ee_7b_a4_09_47"));
        assert_eq!(n.layout, Some(Layout::Mirage2019));
        let p = Path::new(
            "Raw_JSON/Discord/1646482845_com.discord_mirage2020dataset_labeled_biflows_all_packets_encryption_metadata.json",
        );
        let n = FileNaming::of(p);
        assert_eq!(
            (n.session.as_str(), n.app.as_deref(), n.device_folder),
            ("1646482845_com.discord", Some("com.discord"), None)
        );
        assert_eq!(n.layout, Some(Layout::Mirage2022));
        let n = FileNaming::of(Path::new("dir/signal.pcap.json"));
        assert_eq!((n.session.as_str(), n.app, n.device_folder, n.layout), ("signal.pcap", None, None, None));
    }
}
