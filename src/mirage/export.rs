//! Flow store → MIRAGE JSON files, streamed: the store is read a few row groups at a time
//! and each record is appended to its session's file as it is made, so memory holds one
//! batch of rows and the keys of the files still open, whatever the size of the store.
//! Layout, names and mapping: `formats/mirage.md`.

use std::collections::{HashMap, HashSet};
use std::fs::{self, OpenOptions};
use std::hash::BuildHasher;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::import::{DATASET_HEADERS, DATASET_IAT, FileNaming, folder_name};
use super::json::write_f64;
use super::record::{
    FieldKind, FlowmineExtra, Layout, METADATA_FIELDS, METADATA_ORDER_2022, PACKET_FIELDS_2019, PACKET_FIELDS_2022,
    RAW_JSON, RecordKey, SET_KEYS, STAT_KEYS, tcp_flags_text,
};
use crate::features::Anonymiser;
use crate::features::stats::{STAT_NAMES, Scratch, summarize};
use crate::features::table::{DATASET_FEATURES, DIRECTIONS, FlowSeries, dataset_column};
use crate::store::{for_each_batch, schema};
use crate::{Error, Result};
use flowmine_core::walk::{files_below, has_extension};

/// How flows are grouped into files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    /// One file per capture session: the store's `session` column, else its capture file.
    Capture,
    /// One file per label.
    Label,
}

#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// Packets per flow in the `packet_data` lists: `Some(32)` as in MIRAGE-2019, `None`
    /// for every packet the store holds (MIRAGE-2022).
    pub packets: Option<usize>,
    pub grouping: Grouping,
    /// `None` keeps addresses; otherwise the keys hold pseudonymous addresses.
    pub anonymiser: Option<Anonymiser>,
    /// Records per file at most; a session with more continues in `….2.json`, `….3.json`.
    pub max_records_per_file: usize,
    /// File names, folders and field order of MIRAGE-2019 or MIRAGE-2022; `None`: the
    /// layout of the files the store was imported from, else MIRAGE-2019.
    pub layout: Option<Layout>,
}

impl ExportOptions {
    pub fn new(packets: Option<usize>, grouping: Grouping, anonymiser: Option<Anonymiser>) -> ExportOptions {
        ExportOptions { packets, grouping, anonymiser, max_records_per_file: DEFAULT_MAX_RECORDS, layout: None }
    }
}

/// Records per file by default: MIRAGE's session files hold up to a few thousand flows.
pub const DEFAULT_MAX_RECORDS: usize = 100_000;

/// What an export wrote.
#[derive(Debug, Clone, Default)]
pub struct ExportSummary {
    pub files: Vec<PathBuf>,
    pub records: u64,
}

fn err(path: &Path, source: std::io::Error) -> Error {
    Error::Io { path: path.to_owned(), source }
}

/// A list column's values and offsets (rebased to 0) for one batch of rows.
fn list_values<T: PolarsNumericType>(df: &DataFrame, name: &str) -> PolarsResult<(Vec<i64>, Vec<T::Native>)> {
    let list = df.column(name)?.list()?.rechunk();
    if list.is_empty() {
        return Ok((vec![0], Vec::new()));
    }
    let offsets = list.downcast_as_array().offsets().as_slice();
    let (start, end) = (offsets[0], offsets[offsets.len() - 1]);
    let inner = list.get_inner().rechunk();
    let values: &ChunkedArray<T> = inner.as_ref().as_ref();
    let values = if end == start { Vec::new() } else { values.cont_slice()?[start as usize..end as usize].to_vec() };
    Ok((offsets.iter().map(|o| o - start).collect(), values))
}

macro_rules! scalar {
    ($df:expr, $name:expr, $as:ident) => {
        $df.column($name)?.$as()?.into_no_null_iter().collect::<Vec<_>>()
    };
}

fn strings(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<String>>> {
    Ok(df.column(name)?.str()?.iter().map(|s| s.map(str::to_owned)).collect())
}

fn optional_strings(df: &DataFrame, name: &str) -> PolarsResult<Option<Vec<Option<String>>>> {
    if df.schema().contains(name) { strings(df, name).map(Some) } else { Ok(None) }
}

fn optional_f64(df: &DataFrame, name: &str) -> PolarsResult<Option<Vec<Option<f64>>>> {
    if !df.schema().contains(name) {
        return Ok(None);
    }
    let column = df.column(name)?.cast(&DataType::Float64)?;
    Ok(Some(column.f64()?.iter().collect()))
}

/// A list column of one batch of rows: offsets (rebased to 0) and values.
type Lists<T> = (Vec<i64>, Vec<T>);

fn optional_list<T: PolarsNumericType>(df: &DataFrame, name: &str) -> PolarsResult<Option<Lists<T::Native>>> {
    if df.schema().contains(name) { list_values::<T>(df, name).map(Some) } else { Ok(None) }
}

fn required_strings(df: &DataFrame, name: &str) -> PolarsResult<Vec<String>> {
    strings(df, name)?
        .into_iter()
        .map(|s| s.ok_or_else(|| polars_err!(ComputeError: "null in the store's `{name}` column")))
        .collect()
}

/// One batch of rows of the store, owned, for row-wise access.
struct Rows {
    ip_version: Vec<u8>,
    protocol: Vec<u8>,
    src_ip: Vec<String>,
    dst_ip: Vec<String>,
    src_port: Vec<u16>,
    dst_port: Vec<u16>,
    vlan: Vec<u16>,
    first_ts_ns: Vec<i64>,
    last_ts_ns: Vec<i64>,
    fwd_packets: Vec<u64>,
    bwd_packets: Vec<u64>,
    fwd_bytes: Vec<u64>,
    bwd_bytes: Vec<u64>,
    fwd_wire_bytes: Vec<u64>,
    bwd_wire_bytes: Vec<u64>,
    end_reason: Vec<String>,
    tunnel: Vec<Option<String>>,
    label: Vec<Option<String>>,
    capture_file: Vec<Option<String>>,
    labeling_type: Option<Vec<Option<String>>>,
    device: Option<Vec<Option<String>>>,
    session: Option<Vec<Option<String>>>,
    app: Option<Vec<Option<String>>>,
    /// `mirage_<field>` of an imported store, per [`METADATA_FIELDS`] entry.
    metadata: Vec<Option<MetaValues>>,
    metadata_other: Option<Vec<Option<String>>>,
    /// An imported store's dataset statistics, and whether a row has them.
    dataset_features: Option<DatasetValues>,
    /// An imported store's `mirage_iat` lists (offsets, values), the records' own.
    dataset_iat: Option<Lists<f64>>,
    /// An imported store's `IP_header_bytes` and `L4_header_bytes` lists (offsets, values).
    dataset_headers: [Option<Lists<u32>>; 2],
    offsets: Vec<i64>,
    ts: Vec<i64>,
    dir: Vec<u8>,
    ip_len: Vec<u32>,
    payload: Vec<u32>,
    flags: Vec<u8>,
    window: Vec<u16>,
}

/// Whether each row has the dataset's statistics, and one column per statistic.
type DatasetValues = (Vec<bool>, Vec<Vec<Option<f64>>>);

enum MetaValues {
    Number(Vec<Option<f64>>),
    Text(Vec<Option<String>>),
}

impl Rows {
    fn read(df: &DataFrame) -> PolarsResult<Rows> {
        let (offsets, ts) = list_values::<Int64Type>(df, schema::PKT_TS_NS)?;
        let (dir_offsets, dir) = list_values::<UInt8Type>(df, schema::PKT_DIR)?;
        let (ip_offsets, ip_len) = list_values::<UInt32Type>(df, schema::PKT_IP_LEN)?;
        let (payload_offsets, payload) = list_values::<UInt32Type>(df, schema::PKT_L4_PAYLOAD_LEN)?;
        let (flag_offsets, flags) = list_values::<UInt8Type>(df, schema::PKT_TCP_FLAGS)?;
        let (window_offsets, window) = list_values::<UInt16Type>(df, schema::PKT_TCP_WINDOW)?;
        // The pkt_* lists of a row share their length (formats/store.md); a store that
        // breaks that cannot be exported row by row.
        for (name, other) in [
            (schema::PKT_DIR, &dir_offsets),
            (schema::PKT_IP_LEN, &ip_offsets),
            (schema::PKT_L4_PAYLOAD_LEN, &payload_offsets),
            (schema::PKT_TCP_FLAGS, &flag_offsets),
            (schema::PKT_TCP_WINDOW, &window_offsets),
        ] {
            if let Some(row) = (1..offsets.len())
                .find(|&i| other.get(i).map(|o| o - other[i - 1]) != Some(offsets[i] - offsets[i - 1]))
            {
                polars_bail!(ComputeError: "row {}: `{name}` and `{}` differ in length", row - 1, schema::PKT_TS_NS);
            }
        }
        let metadata = METADATA_FIELDS
            .iter()
            .map(|(name, kind)| {
                let column = format!("mirage_{name}");
                Ok(match kind {
                    FieldKind::Number => optional_f64(df, &column)?.map(MetaValues::Number),
                    FieldKind::Text => optional_strings(df, &column)?.map(MetaValues::Text),
                })
            })
            .collect::<PolarsResult<Vec<_>>>()?;
        let dataset_features = if df.schema().contains(DATASET_FEATURES) {
            let has: Vec<bool> = df.column(DATASET_FEATURES)?.bool()?.iter().map(|b| b.unwrap_or(false)).collect();
            let mut values = Vec::new();
            for quantity in ["packet_length", "iat"] {
                for direction in DIRECTIONS {
                    for stat in STAT_NAMES {
                        let name = dataset_column(quantity, direction, stat);
                        values.push(optional_f64(df, &name)?.unwrap_or_else(|| vec![None; has.len()]));
                    }
                }
            }
            Some((has, values))
        } else {
            None
        };
        Ok(Rows {
            ip_version: scalar!(df, schema::IP_VERSION, u8),
            protocol: scalar!(df, schema::PROTOCOL, u8),
            src_ip: required_strings(df, schema::SRC_IP)?,
            dst_ip: required_strings(df, schema::DST_IP)?,
            src_port: scalar!(df, schema::SRC_PORT, u16),
            dst_port: scalar!(df, schema::DST_PORT, u16),
            vlan: scalar!(df, schema::VLAN, u16),
            first_ts_ns: scalar!(df, schema::FIRST_TS_NS, i64),
            last_ts_ns: scalar!(df, schema::LAST_TS_NS, i64),
            fwd_packets: scalar!(df, schema::FWD_PACKETS, u64),
            bwd_packets: scalar!(df, schema::BWD_PACKETS, u64),
            fwd_bytes: scalar!(df, schema::FWD_BYTES, u64),
            bwd_bytes: scalar!(df, schema::BWD_BYTES, u64),
            fwd_wire_bytes: scalar!(df, schema::FWD_WIRE_BYTES, u64),
            bwd_wire_bytes: scalar!(df, schema::BWD_WIRE_BYTES, u64),
            end_reason: required_strings(df, schema::END_REASON)?,
            tunnel: strings(df, schema::TUNNEL)?,
            label: strings(df, schema::LABEL)?,
            capture_file: strings(df, schema::CAPTURE_FILE)?,
            labeling_type: optional_strings(df, schema::LABELING_TYPE)?,
            device: optional_strings(df, schema::DEVICE)?,
            session: optional_strings(df, schema::SESSION)?,
            app: optional_strings(df, schema::APP)?,
            metadata,
            metadata_other: optional_strings(df, "mirage_flow_metadata_other")?,
            dataset_features,
            dataset_iat: optional_list::<Float64Type>(df, DATASET_IAT)?,
            dataset_headers: [
                optional_list::<UInt32Type>(df, DATASET_HEADERS[0])?,
                optional_list::<UInt32Type>(df, DATASET_HEADERS[1])?,
            ],
            offsets,
            ts,
            dir,
            ip_len,
            payload,
            flags,
            window,
        })
    }

    fn len(&self) -> usize {
        self.ip_version.len()
    }

    fn imported(&self) -> bool {
        self.metadata.iter().any(Option::is_some)
    }
}

fn cell(column: &Option<Vec<Option<String>>>, i: usize) -> Option<&str> {
    column.as_ref().and_then(|c| c[i].as_deref())
}

/// A JSON list of numbers.
fn write_list<T: serde::Serialize>(w: &mut impl Write, values: impl IntoIterator<Item = T>) -> std::io::Result<()> {
    w.write_all(b"[")?;
    for (k, v) in values.into_iter().enumerate() {
        if k > 0 {
            w.write_all(b", ")?;
        }
        serde_json::to_writer(&mut *w, &v).map_err(std::io::Error::other)?;
    }
    w.write_all(b"]")
}

fn write_float_list(w: &mut impl Write, values: impl IntoIterator<Item = f64>) -> std::io::Result<()> {
    w.write_all(b"[")?;
    for (k, v) in values.into_iter().enumerate() {
        if k > 0 {
            w.write_all(b", ")?;
        }
        write_f64(w, v)?;
    }
    w.write_all(b"]")
}

fn write_json(w: &mut impl Write, value: &impl serde::Serialize) -> std::io::Result<()> {
    serde_json::to_writer(w, value).map_err(std::io::Error::other)
}

/// The duration of one direction (last minus first of its packet times), from the lists.
fn direction_duration(ts: &[i64], dir: &[u8], which: u8) -> Option<f64> {
    let times: Vec<i64> = ts.iter().zip(dir).filter(|&(_, &d)| d == which).map(|(&t, _)| t).collect();
    let (first, last) = (times.iter().min()?, times.iter().max()?);
    Some((last - first) as f64 / 1e9)
}

/// The `flow_metadata` fields every MIRAGE-2019 record has (the first of
/// [`METADATA_FIELDS`]).
const CORE_METADATA_FIELDS: usize = 14;

/// Nanoseconds as the float of epoch seconds nearest to their exact value, so that the
/// seconds a MIRAGE-2022 file gave (whole microseconds) are written back unchanged:
/// microseconds fit a float's 53 bits and one correctly rounded division finds it.
fn epoch_seconds(ns: i64) -> f64 {
    if ns % 1000 == 0 && (ns / 1000).unsigned_abs() < 1 << 53 {
        (ns / 1000) as f64 / 1e6
    } else {
        let (sign, abs) = (if ns < 0 { "-" } else { "" }, ns.unsigned_abs());
        format!("{sign}{}.{:09}", abs / 1_000_000_000, abs % 1_000_000_000).parse().unwrap_or(ns as f64 / 1e9)
    }
}

/// Row `i`'s packet entries, as the `packet_data` lists take them.
struct Packets<'a> {
    rows: &'a Rows,
    i: usize,
    range: std::ops::Range<usize>,
    /// Entries written: the first `kept` of the range.
    kept: usize,
}

impl Packets<'_> {
    fn slice<'s, T>(&self, all: &'s [T]) -> &'s [T] {
        &all[self.range.start..self.range.start + self.kept]
    }

    /// A per-packet list the store keeps beside its own (the dataset's), when this row has
    /// one entry per packet.
    fn dataset<'s, T>(&self, list: &'s Option<Lists<T>>) -> Option<&'s [T]> {
        let (offsets, values) = list.as_ref()?;
        let own = &values[offsets[self.i] as usize..offsets[self.i + 1] as usize];
        (own.len() == self.range.len()).then(|| &own[..self.kept])
    }

    /// The header lengths list `name` (MIRAGE-2022's `IP_header_bytes`, `L4_header_bytes`),
    /// `None` for another field.
    fn header(&self, name: &str) -> Option<Option<&[u32]>> {
        let k = ["IP_header_bytes", "L4_header_bytes"].iter().position(|&n| n == name)?;
        Some(self.dataset(&self.rows.dataset_headers[k]))
    }

    /// Writes field `name`'s list.
    fn write(&self, w: &mut impl Write, name: &str, layout: Layout) -> std::io::Result<()> {
        let (rows, i) = (self.rows, self.i);
        let dir = self.slice(&rows.dir);
        let ts = self.slice(&rows.ts);
        let (sport, dport) = (rows.src_port[i], rows.dst_port[i]);
        match name {
            "src_port" => write_list(w, dir.iter().map(|&d| if d == 0 { sport } else { dport })),
            "dst_port" => write_list(w, dir.iter().map(|&d| if d == 0 { dport } else { sport })),
            "packet_dir" => write_list(w, dir),
            "L4_payload_bytes" => write_list(w, self.slice(&rows.payload)),
            "iat" => match self.dataset(&rows.dataset_iat) {
                Some(own) => write_float_list(w, own.iter().copied()),
                None => write_float_list(
                    w,
                    (0..self.kept).map(|k| if k == 0 { 0.0 } else { (ts[k] - ts[k - 1]) as f64 / 1e9 }),
                ),
            },
            "TCP_win_size" => write_list(w, self.slice(&rows.window)),
            // flowmine keeps no payload; tcbench's loader reads the list, so it is there, empty.
            "L4_raw_payload" => write_list(w, (0..self.kept).map(|_| [0u8; 0])),
            "timestamp" => write_float_list(w, ts.iter().map(|&t| epoch_seconds(t))),
            "IP_packet_bytes" => write_list(w, self.slice(&rows.ip_len)),
            "TCP_flags" if layout == Layout::Mirage2022 => {
                write_list(w, self.slice(&rows.flags).iter().map(|&f| tcp_flags_text(f)))
            }
            "TCP_flags" => write_list(w, self.slice(&rows.flags)),
            _ => write_list(w, self.header(name).flatten().unwrap_or_default()),
        }
    }

    /// `packet_data` in the layout's field order; the header lengths only where the store
    /// has the dataset's.
    fn write_all(&self, w: &mut impl Write, layout: Layout) -> std::io::Result<()> {
        let fields: &[&str] = match layout {
            Layout::Mirage2019 => &PACKET_FIELDS_2019,
            Layout::Mirage2022 => &PACKET_FIELDS_2022,
        };
        w.write_all(b"{")?;
        let present = fields.iter().filter(|&&name| self.header(name).is_none_or(|h| h.is_some()));
        for (k, &name) in present.enumerate() {
            if k > 0 {
                w.write_all(b", ")?;
            }
            write_json(w, &name)?;
            w.write_all(b": ")?;
            self.write(w, name, layout)?;
        }
        w.write_all(b"}")
    }
}

/// Writes `"key": {record}` for row `i`, MIRAGE's sections in MIRAGE's order.
fn write_record(
    w: &mut impl Write,
    key: &str,
    rows: &Rows,
    i: usize,
    options: &ExportOptions,
    layout: Layout,
    work: &mut (FlowSeries, Scratch),
) -> std::io::Result<()> {
    let range = rows.offsets[i] as usize..rows.offsets[i + 1] as usize;
    let (ts, dir, ip_len) = (&rows.ts[range.clone()], &rows.dir[range.clone()], &rows.ip_len[range.clone()]);
    let payload = &rows.payload[range.clone()];
    let stored = range.len();
    let total_packets = rows.fwd_packets[i] + rows.bwd_packets[i];
    let complete = stored as u64 == total_packets;
    let kept = options.packets.map_or(stored, |n| n.min(stored));

    write_json(w, &key)?;
    w.write_all(b": {\"packet_data\": ")?;
    Packets { rows, i, range, kept }.write_all(w, layout)?;

    w.write_all(b", \"flow_features\": ")?;
    write_flow_features(w, rows, i, ts, dir, ip_len, payload, work)?;

    w.write_all(b", \"flow_metadata\": ")?;
    write_metadata(w, rows, i, (ts, dir, payload), complete, layout)?;

    let extra = FlowmineExtra {
        ip_version: rows.ip_version[i],
        vlan: rows.vlan[i],
        first_ts_ns: rows.first_ts_ns[i],
        last_ts_ns: rows.last_ts_ns[i],
        end_reason: rows.end_reason[i].clone(),
        tunnel: rows.tunnel[i].clone(),
        fwd_wire_bytes: rows.fwd_wire_bytes[i],
        bwd_wire_bytes: rows.bwd_wire_bytes[i],
        capture_file: rows.capture_file[i].clone(),
        stored_packets: stored as u64,
        session: cell(&rows.session, i).map(str::to_owned),
        device: cell(&rows.device, i).map(str::to_owned),
        labeling_type: cell(&rows.labeling_type, i).map(str::to_owned),
    };
    w.write_all(b", \"flowmine\": ")?;
    write_json(w, &extra)?;
    w.write_all(b"}")
}

/// `flow_features`: the dataset's own values for an imported row that has them, else the
/// statistics of the rows' packet entries (formats/features.md); NaN where there is none.
#[allow(clippy::too_many_arguments)]
fn write_flow_features(
    w: &mut impl Write,
    rows: &Rows,
    i: usize,
    ts: &[i64],
    dir: &[u8],
    ip_len: &[u32],
    payload: &[u32],
    (series, scratch): &mut (FlowSeries, Scratch),
) -> std::io::Result<()> {
    let dataset = rows.dataset_features.as_ref().filter(|(has, _)| has[i]).map(|(_, values)| values);
    if dataset.is_none() {
        series.fill(ts, dir, ip_len, payload);
    }
    w.write_all(b"{")?;
    for (q, quantity) in ["packet_length", "iat"].into_iter().enumerate() {
        if q > 0 {
            w.write_all(b", ")?;
        }
        write_json(w, &quantity)?;
        w.write_all(b": {")?;
        for (s, set) in SET_KEYS.into_iter().enumerate() {
            if s > 0 {
                w.write_all(b", ")?;
            }
            write_json(w, &set)?;
            w.write_all(b": {")?;
            let values: [Option<f64>; 17] = match dataset {
                Some(columns) => std::array::from_fn(|k| columns[(q * 3 + s) * STAT_NAMES.len() + k][i]),
                None => summarize(&mut series.sets[q][s], scratch).values(),
            };
            for (k, (stat, value)) in STAT_KEYS.iter().zip(values).enumerate() {
                if k > 0 {
                    w.write_all(b", ")?;
                }
                write_json(w, stat)?;
                w.write_all(b": ")?;
                write_f64(w, value.unwrap_or(f64::NAN))?;
            }
            w.write_all(b"}")?;
        }
        w.write_all(b"}")?;
    }
    w.write_all(b"}")
}

/// `flow_metadata` in MIRAGE's field order: an imported row's own fields as they were, a
/// flowmine row's counters and label.
fn write_metadata(
    w: &mut impl Write,
    rows: &Rows,
    i: usize,
    (ts, dir, payload): (&[i64], &[u8], &[u32]),
    complete: bool,
    layout: Layout,
) -> std::io::Result<()> {
    let mut fields: Vec<(String, serde_json::Value)> = Vec::new();
    // Counts are integers in MIRAGE's files, durations floats.
    let number = |name: &str, v: f64| {
        if !name.ends_with("duration") && v.fract() == 0.0 && v.abs() < 9e15 {
            serde_json::Value::from(v as i64)
        } else {
            serde_json::Value::from(v)
        }
    };
    if rows.imported() {
        for (k, ((name, _), column)) in METADATA_FIELDS.iter().zip(&rows.metadata).enumerate() {
            let value = match column {
                Some(MetaValues::Number(v)) => v[i].map(|x| number(name, x)),
                Some(MetaValues::Text(v)) => v[i].clone().map(serde_json::Value::from),
                None => None,
            };
            // MIRAGE-2019's fields are in every record (NaN where there is no value);
            // the later datasets' fields only where the record had them.
            match value {
                Some(value) => fields.push(((*name).to_owned(), value)),
                None if k < CORE_METADATA_FIELDS => fields.push(((*name).to_owned(), serde_json::Value::Null)),
                None => {}
            }
        }
        // The label and labelling may have been changed in the store since the import.
        set_field(&mut fields, "BF_label", rows.label[i].clone().map(Into::into));
        if let Some(t) = cell(&rows.labeling_type, i) {
            set_field(&mut fields, "BF_labeling_type", Some(t.into()));
        }
        if let Some(other) = cell(&rows.metadata_other, i)
            && let Ok(serde_json::Value::Object(map)) = serde_json::from_str(other)
        {
            fields.extend(map);
        }
    } else {
        let payload_sum = |which: Option<u8>| {
            complete.then(|| {
                payload
                    .iter()
                    .zip(dir)
                    .filter(|&(_, &d)| which.is_none_or(|w| w == d))
                    .map(|(&p, _)| p as u64)
                    .sum::<u64>()
            })
        };
        let label = rows.label[i].clone();
        // A flowmine label given per run (an experiment) is MIRAGE's "most-common"; a
        // label store says per flow how it was labelled.
        let labeling = match cell(&rows.labeling_type, i) {
            Some(t) => Some(t.to_owned()),
            None => label.as_ref().map(|_| "most-common".to_owned()),
        };
        let duration = |which| complete.then(|| direction_duration(ts, dir, which)).flatten();
        let entries: [(&str, serde_json::Value); 14] = [
            ("BF_label", label.into()),
            ("BF_labeling_type", labeling.into()),
            ("BF_num_packets", (rows.fwd_packets[i] + rows.bwd_packets[i]).into()),
            ("BF_IP_packet_bytes", (rows.fwd_bytes[i] + rows.bwd_bytes[i]).into()),
            ("BF_L4_payload_bytes", payload_sum(None).into()),
            ("BF_duration", ((rows.last_ts_ns[i] - rows.first_ts_ns[i]) as f64 / 1e9).into()),
            ("UF_num_packets", rows.fwd_packets[i].into()),
            ("UF_IP_packet_bytes", rows.fwd_bytes[i].into()),
            ("UF_L4_payload_bytes", payload_sum(Some(0)).into()),
            ("UF_duration", duration(0).into()),
            ("DF_num_packets", rows.bwd_packets[i].into()),
            ("DF_IP_packet_bytes", rows.bwd_bytes[i].into()),
            ("DF_L4_payload_bytes", payload_sum(Some(1)).into()),
            ("DF_duration", duration(1).into()),
        ];
        fields.extend(entries.into_iter().map(|(k, v)| (k.to_owned(), v)));
        if let Some(device) = cell(&rows.device, i) {
            fields.push(("BF_device".to_owned(), device.into()));
        }
    }
    if layout == Layout::Mirage2022 {
        fields = in_2022_order(fields);
    }
    w.write_all(b"{")?;
    for (k, (name, value)) in fields.iter().enumerate() {
        if k > 0 {
            w.write_all(b", ")?;
        }
        write_json(w, name)?;
        w.write_all(b": ")?;
        let numeric = METADATA_FIELDS.iter().any(|(n, kind)| n == name && *kind == FieldKind::Number);
        match value.as_f64() {
            Some(f) if !value.is_i64() && !value.is_u64() => write_f64(w, f)?,
            // A missing number is NaN in MIRAGE's files, as numpy writes it.
            None if value.is_null() && numeric => write_f64(w, f64::NAN)?,
            _ => write_json(w, value)?,
        }
    }
    w.write_all(b"}")
}

/// MIRAGE-2022's fields in its order, each one (`null`, or `NaN` for a number, where
/// there is no value: tcbench's loader reads `BF_activity` of every record), then the others.
fn in_2022_order(mut fields: Vec<(String, serde_json::Value)>) -> Vec<(String, serde_json::Value)> {
    let mut ordered: Vec<(String, serde_json::Value)> = METADATA_ORDER_2022
        .iter()
        .map(|&name| {
            let value = fields.iter().position(|(k, _)| k == name).map(|p| fields.remove(p).1);
            (name.to_owned(), value.unwrap_or(serde_json::Value::Null))
        })
        .collect();
    ordered.extend(fields);
    ordered
}

fn set_field(fields: &mut Vec<(String, serde_json::Value)>, name: &str, value: Option<serde_json::Value>) {
    let value = value.unwrap_or(serde_json::Value::Null);
    match fields.iter_mut().find(|(k, _)| k == name) {
        Some(field) => field.1 = value,
        None => fields.insert(0, (name.to_owned(), value)),
    }
}

/// A file name from free text: characters other than letters, digits, `.`, `_`, `-`
/// become `_`.
fn file_stem(text: &str) -> String {
    let stem: String =
        text.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' }).collect();
    if stem.is_empty() || stem.starts_with('.') { format!("_{stem}") } else { stem }
}

/// The name the dataset of `layout` gives a session's file, for a session named as MIRAGE
/// names them (`<unix_ts>_<package>`); other sessions keep their own name.
fn session_file_name(session: &str, layout: Layout) -> String {
    let stem = file_stem(session);
    let shaped = stem.split_once('_').is_some_and(|(ts, pkg)| {
        !ts.is_empty() && ts.bytes().all(|b| b.is_ascii_digit()) && !pkg.is_empty() && !pkg.contains('_')
    });
    if shaped { format!("{stem}_{}", layout.file_suffix()) } else { stem }
}

/// One output file being filled.
struct OutFile {
    path: PathBuf,
    records: usize,
    /// Hashes of the keys written (a JSON object cannot hold a key twice).
    keys: HashSet<u64>,
}

/// The files of the sessions seen so far.
struct Outputs<'a> {
    dir: &'a Path,
    max_records: usize,
    /// (folders, session) → the session's files, the last one open for more.
    sessions: HashMap<(Vec<String>, String), Vec<OutFile>>,
    layout: Layout,
    used_paths: HashSet<PathBuf>,
    hasher: std::hash::RandomState,
}

impl Outputs<'_> {
    fn key_hash(&self, key: &str) -> u64 {
        self.hasher.hash_one(key)
    }

    /// The file that takes `key` in `session`: the first of the session's files that
    /// neither holds the key nor is full; a new file when there is none.
    fn file_for(&mut self, folders: Vec<String>, session: &str, key: &str) -> Result<(PathBuf, bool)> {
        let hash = self.key_hash(key);
        let dir = folders.iter().fold(self.dir.to_owned(), |dir, folder| dir.join(file_stem(folder)));
        let id = (folders, session.to_owned());
        let files = self.sessions.entry(id).or_default();
        if let Some(f) = files.iter_mut().find(|f| f.records < self.max_records && !f.keys.contains(&hash)) {
            f.keys.insert(hash);
            f.records += 1;
            return Ok((f.path.clone(), false));
        }
        // Full files need their keys no more.
        for f in files.iter_mut().filter(|f| f.records >= self.max_records) {
            f.keys = HashSet::new();
        }
        let base = session_file_name(session, self.layout);
        let mut k = files.len() + 1;
        let path = loop {
            let name = if k == 1 { format!("{base}.json") } else { format!("{base}.{k}.json") };
            let path = dir.join(name);
            if !self.used_paths.contains(&path) {
                break path;
            }
            k += 1;
        };
        fs::create_dir_all(&dir).map_err(|e| err(&dir, e))?;
        self.used_paths.insert(path.clone());
        files.push(OutFile { path: path.clone(), records: 1, keys: HashSet::from([hash]) });
        Ok((path, true))
    }
}

/// Refuses a non-empty `out_dir` unless `overwrite`, and then clears it of an earlier
/// export's `.json` files (in device folders too), refusing anything else.
fn prepare_out_dir(out_dir: &Path, overwrite: bool) -> Result<()> {
    if out_dir.exists() {
        let found = files_below(out_dir, |_| true)?;
        if let Some(path) = found.iter().find(|p| !has_extension(p, "json")) {
            let what = format!("holds {} which is not a MIRAGE JSON file; refusing to overwrite", path.display());
            return Err(Error::Output { path: out_dir.to_owned(), what });
        }
        if !found.is_empty() {
            if !overwrite {
                return Err(Error::NotEmptyDir(out_dir.to_owned()));
            }
            for p in &found {
                fs::remove_file(p).map_err(|e| err(p, e))?;
            }
        }
    }
    fs::create_dir_all(out_dir).map_err(|e| err(out_dir, e))
}

/// Calls `each` with the rows of every part of `store`, a batch of row groups at a time
/// ([`for_each_batch`]). A table error in `each` is the part's.
fn for_each_store_batch(store: &Path, mut each: impl FnMut(DataFrame) -> Result<()>) -> Result<()> {
    for part in crate::store::parts_to_read(store)? {
        for_each_batch(
            &part,
            |_| None,
            |df| {
                each(df).map_err(|e| match e {
                    Error::Frame(source) => Error::Polars { path: part.clone(), source },
                    e => e,
                })
            },
        )?;
    }
    Ok(())
}

/// Exports every flow of `store` into `out_dir` (created; must be empty unless `overwrite`,
/// and then it may hold only `.json` files, which are replaced).
pub fn export_store(store: &Path, out_dir: &Path, options: &ExportOptions, overwrite: bool) -> Result<ExportSummary> {
    prepare_out_dir(out_dir, overwrite)?;
    let layout = options.layout.unwrap_or_else(|| store_layout(store));
    let mut outputs = Outputs {
        layout,
        dir: out_dir,
        max_records: options.max_records_per_file.max(1),
        sessions: HashMap::new(),
        used_paths: HashSet::new(),
        hasher: std::hash::RandomState::new(),
    };
    let mut work = (FlowSeries::default(), Scratch::default());
    let mut records = 0u64;
    for_each_store_batch(store, |df| {
        let rows = Rows::read(&df)?;
        // Records of one file are written together: a file is opened once per batch.
        let mut by_file: Vec<(PathBuf, bool, Vec<usize>)> = Vec::new();
        let mut index: HashMap<PathBuf, usize> = HashMap::new();
        let mut keys = Vec::with_capacity(rows.len());
        for i in 0..rows.len() {
            let key = record_key(&rows, i, options)?;
            let (folders, session) = placement(&rows, i, options.grouping, layout);
            let (path, new) = outputs.file_for(folders, &session, &key)?;
            let slot = *index.entry(path.clone()).or_insert_with(|| {
                by_file.push((path, new, Vec::new()));
                by_file.len() - 1
            });
            by_file[slot].2.push(i);
            keys.push(key);
        }
        for (path, new, members) in by_file {
            let file = OpenOptions::new().create(true).append(true).open(&path).map_err(|e| err(&path, e))?;
            let mut out = BufWriter::with_capacity(1 << 16, file);
            for (n, &i) in members.iter().enumerate() {
                out.write_all(if new && n == 0 { b"{" } else { b", " }).map_err(|e| err(&path, e))?;
                write_record(&mut out, &keys[i], &rows, i, options, layout, &mut work).map_err(|e| err(&path, e))?;
            }
            out.flush().map_err(|e| err(&path, e))?;
            records += members.len() as u64;
        }
        Ok(())
    })?;
    let mut files: Vec<PathBuf> = outputs.used_paths.into_iter().collect();
    files.sort();
    for path in &files {
        let mut file = BufWriter::new(OpenOptions::new().append(true).open(path).map_err(|e| err(path, e))?);
        file.write_all(b"}").and_then(|_| file.flush()).map_err(|e| err(path, e))?;
    }
    Ok(ExportSummary { files, records })
}

/// The record key of row `i`, addresses pseudonymised unless kept.
fn record_key(rows: &Rows, i: usize, options: &ExportOptions) -> PolarsResult<String> {
    let address = |text: &str| -> PolarsResult<std::net::IpAddr> {
        let text = match &options.anonymiser {
            Some(anon) => anon.pseudonym_text(text),
            None => text.to_owned(),
        };
        text.parse().map_err(|_| polars_err!(ComputeError: "row {i}: `{text}` is not an IP address"))
    };
    let key = RecordKey {
        src_ip: address(&rows.src_ip[i])?,
        src_port: rows.src_port[i],
        dst_ip: address(&rows.dst_ip[i])?,
        dst_port: rows.dst_port[i],
        protocol: rows.protocol[i],
    };
    Ok(key.text())
}

/// The folders and session of row `i`'s file: MIRAGE-2019's device folder (when the store
/// has a device), MIRAGE-2022's `Raw_JSON/<App>` (the folder of the dataset's file the row
/// was imported from, else the row's app, label or `unlabelled`).
fn placement(rows: &Rows, i: usize, grouping: Grouping, layout: Layout) -> (Vec<String>, String) {
    let folders = match layout {
        Layout::Mirage2019 => cell(&rows.device, i).map(str::to_owned).into_iter().collect(),
        Layout::Mirage2022 => {
            let capture = rows.capture_file[i].as_deref().map(Path::new);
            let dataset_folder =
                capture.filter(|p| FileNaming::of(p).layout == Some(Layout::Mirage2022)).and_then(folder_name);
            let app = dataset_folder
                .or_else(|| cell(&rows.app, i).map(str::to_owned))
                .or_else(|| rows.label[i].clone())
                .unwrap_or_else(|| "unlabelled".to_owned());
            vec![RAW_JSON.to_owned(), app]
        }
    };
    let session = match grouping {
        Grouping::Capture => match cell(&rows.session, i) {
            Some(s) => s.to_owned(),
            None => {
                let path = rows.capture_file[i].as_deref().unwrap_or("capture");
                Path::new(path).file_name().map_or_else(|| "capture".to_owned(), |n| n.to_string_lossy().into_owned())
            }
        },
        Grouping::Label => rows.label[i].clone().unwrap_or_else(|| "unlabelled".to_owned()),
    };
    (folders, session)
}

/// The layout of the MIRAGE files a store was imported from: MIRAGE-2022 when every input
/// its manifest lists under a MIRAGE file name is a MIRAGE-2022 file, else MIRAGE-2019.
fn store_layout(store: &Path) -> Layout {
    let manifest = fs::read_to_string(store.join(crate::store::MANIFEST_FILE)).ok();
    let manifest: Option<serde_json::Value> = manifest.and_then(|text| serde_json::from_str(&text).ok());
    let inputs = manifest.as_ref().and_then(|m| m["inputs"].as_array().cloned()).unwrap_or_default();
    let layouts: Vec<Layout> =
        inputs.iter().filter_map(|i| i["path"].as_str()).filter_map(|p| FileNaming::of(Path::new(p)).layout).collect();
    if !layouts.is_empty() && layouts.iter().all(|&l| l == Layout::Mirage2022) {
        Layout::Mirage2022
    } else {
        Layout::Mirage2019
    }
}
