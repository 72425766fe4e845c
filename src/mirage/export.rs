//! Flow store → MIRAGE-style JSON files, one per capture file (or per label), keyed by
//! `"src_ip,src_port,dst_ip,dst_port,proto"`.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::record::{FlowFeatures, FlowMetadata, FlowmineExtra, PacketData, Record, RecordKey};
use crate::features::Anonymiser;
use crate::features::stats::{PERCENTILES, Scratch, Summary, summarize};
use crate::store::schema;

/// How flows are grouped into files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    /// One file per capture file (the flow's `capture_file`), like MIRAGE's sessions.
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
}

/// What an export wrote.
#[derive(Debug, Clone, Default)]
pub struct ExportSummary {
    pub files: Vec<PathBuf>,
    pub records: u64,
}

/// The store's columns of one part, owned, for row-wise access.
struct PartRows {
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
    offsets: Vec<i64>,
    ts: Vec<i64>,
    dir: Vec<u8>,
    ip_len: Vec<u32>,
    payload: Vec<u32>,
    flags: Vec<u8>,
    window: Vec<u16>,
}

macro_rules! scalar {
    ($df:expr, $name:expr, $as:ident) => {
        $df.column($name)?.$as()?.into_no_null_iter().collect::<Vec<_>>()
    };
}

fn strings(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<String>>> {
    Ok(df.column(name)?.str()?.iter().map(|s| s.map(str::to_owned)).collect())
}

fn required_strings(df: &DataFrame, name: &str) -> PolarsResult<Vec<String>> {
    strings(df, name)?
        .into_iter()
        .map(|s| s.ok_or_else(|| polars_err!(ComputeError: "null in the store's `{name}` column")))
        .collect()
}

fn list_values<T: PolarsNumericType>(df: &DataFrame, name: &str) -> PolarsResult<(Vec<i64>, Vec<T::Native>)> {
    let list = df.column(name)?.list()?.rechunk();
    if list.is_empty() {
        return Ok((vec![0], Vec::new()));
    }
    let offsets = list.downcast_as_array().offsets().as_slice().to_vec();
    let inner = list.get_inner().rechunk();
    let values: &ChunkedArray<T> = inner.as_ref().as_ref();
    let values = if values.is_empty() { Vec::new() } else { values.cont_slice()?.to_vec() };
    Ok((offsets, values))
}

impl PartRows {
    fn read(df: &DataFrame) -> PolarsResult<PartRows> {
        let (offsets, ts) = list_values::<Int64Type>(df, schema::PKT_TS_NS)?;
        Ok(PartRows {
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
            offsets,
            ts,
            dir: list_values::<UInt8Type>(df, schema::PKT_DIR)?.1,
            ip_len: list_values::<UInt32Type>(df, schema::PKT_IP_LEN)?.1,
            payload: list_values::<UInt32Type>(df, schema::PKT_L4_PAYLOAD_LEN)?.1,
            flags: list_values::<UInt8Type>(df, schema::PKT_TCP_FLAGS)?.1,
            window: list_values::<UInt16Type>(df, schema::PKT_TCP_WINDOW)?.1,
        })
    }

    fn len(&self) -> usize {
        self.ip_version.len()
    }
}

/// MIRAGE's statistic names for a [`Summary`].
fn mirage_stats(summary: &Summary) -> BTreeMap<String, Option<f64>> {
    let mut out = BTreeMap::new();
    for (name, value) in [
        ("min", summary.min),
        ("max", summary.max),
        ("mean", summary.mean),
        ("std", summary.std),
        ("var", summary.var),
        ("mad", summary.mad),
        ("skew", summary.skew),
        ("kurtosis", summary.kurtosis),
    ] {
        out.insert(name.to_owned(), value);
    }
    for (q, value) in PERCENTILES.iter().zip(summary.percentiles) {
        out.insert(format!("{q}_percentile"), value);
    }
    out
}

/// `flow_features` over every packet entry the store holds for the flow.
fn flow_features(ts: &[i64], dir: &[u8], ip_len: &[u32], scratch: &mut Scratch) -> FlowFeatures {
    let sets = [("biflow", None), ("upstream_flow", Some(0u8)), ("downstream_flow", Some(1u8))];
    let mut lengths = BTreeMap::new();
    let mut iats = BTreeMap::new();
    for (name, only) in sets {
        let chosen: Vec<usize> = (0..dir.len()).filter(|&i| only.is_none_or(|d| dir[i] == d)).collect();
        let mut l: Vec<f64> = chosen.iter().map(|&i| ip_len[i] as f64).collect();
        let mut t: Vec<f64> = chosen.windows(2).map(|w| (ts[w[1]] - ts[w[0]]) as f64 / 1e9).collect();
        lengths.insert(name.to_owned(), mirage_stats(&summarize(&mut l, scratch)));
        iats.insert(name.to_owned(), mirage_stats(&summarize(&mut t, scratch)));
    }
    BTreeMap::from([("packet_length".to_owned(), lengths), ("iat".to_owned(), iats)])
}

/// The duration of one direction (last minus first of its packet times), from the lists.
fn direction_duration(ts: &[i64], dir: &[u8], which: u8) -> Option<f64> {
    let times: Vec<i64> = ts.iter().zip(dir).filter(|&(_, &d)| d == which).map(|(&t, _)| t).collect();
    let (first, last) = (times.iter().min()?, times.iter().max()?);
    Some((last - first) as f64 / 1e9)
}

fn record(rows: &PartRows, i: usize, options: &ExportOptions, scratch: &mut Scratch) -> (RecordKey, Record) {
    let range = rows.offsets[i] as usize..rows.offsets[i + 1] as usize;
    let (ts, dir, ip_len) = (&rows.ts[range.clone()], &rows.dir[range.clone()], &rows.ip_len[range.clone()]);
    let payload = &rows.payload[range.clone()];
    let stored = range.len();
    let total_packets = rows.fwd_packets[i] + rows.bwd_packets[i];
    let complete = stored as u64 == total_packets;
    let kept = options.packets.map_or(stored, |n| n.min(stored));

    let (sport, dport) = (rows.src_port[i], rows.dst_port[i]);
    let packet_data = PacketData {
        src_port: dir[..kept].iter().map(|&d| if d == 0 { sport } else { dport }).collect(),
        dst_port: dir[..kept].iter().map(|&d| if d == 0 { dport } else { sport }).collect(),
        packet_dir: dir[..kept].to_vec(),
        L4_payload_bytes: payload[..kept].to_vec(),
        iat: (0..kept).map(|k| if k == 0 { 0.0 } else { (ts[k] - ts[k - 1]) as f64 / 1e9 }).collect(),
        TCP_win_size: rows.window[range.clone()][..kept].iter().map(|&w| w as u32).collect(),
        timestamp: Some(ts[..kept].iter().map(|&t| t as f64 / 1e9).collect()),
        IP_packet_bytes: Some(ip_len[..kept].to_vec()),
        IP_header_bytes: None,
        L4_header_bytes: None,
        TCP_flags: Some(rows.flags[range.clone()][..kept].iter().map(|&f| serde_json::Value::from(f)).collect()),
    };
    let payload_sum = |which: Option<u8>| {
        complete.then(|| {
            payload.iter().zip(dir).filter(|&(_, &d)| which.is_none_or(|w| w == d)).map(|(&p, _)| p as u64).sum()
        })
    };
    let label = rows.label[i].clone();
    let flow_metadata = FlowMetadata {
        // A flowmine label is given for a whole run (an experiment), MIRAGE's "most-common".
        BF_labeling_type: label.as_ref().map(|_| "most-common".to_owned()),
        BF_label: label,
        BF_device: None,
        BF_num_packets: total_packets,
        BF_IP_packet_bytes: rows.fwd_bytes[i] + rows.bwd_bytes[i],
        BF_L4_payload_bytes: payload_sum(None),
        BF_duration: (rows.last_ts_ns[i] - rows.first_ts_ns[i]) as f64 / 1e9,
        UF_num_packets: rows.fwd_packets[i],
        UF_IP_packet_bytes: rows.fwd_bytes[i],
        UF_L4_payload_bytes: payload_sum(Some(0)),
        UF_duration: complete.then(|| direction_duration(ts, dir, 0)).flatten(),
        DF_num_packets: rows.bwd_packets[i],
        DF_IP_packet_bytes: rows.bwd_bytes[i],
        DF_L4_payload_bytes: payload_sum(Some(1)),
        DF_duration: complete.then(|| direction_duration(ts, dir, 1)).flatten(),
    };
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
    };
    let address = |text: &str| {
        let text = match &options.anonymiser {
            Some(anon) => anon.pseudonym_text(text),
            None => text.to_owned(),
        };
        text.parse().expect("store and pseudonyms hold IP addresses")
    };
    let key = RecordKey {
        src_ip: address(&rows.src_ip[i]),
        src_port: sport,
        dst_ip: address(&rows.dst_ip[i]),
        dst_port: dport,
        protocol: rows.protocol[i],
    };
    let record = Record {
        packet_data,
        flow_features: flow_features(ts, dir, ip_len, scratch),
        flow_metadata,
        flowmine: Some(extra),
    };
    (key, record)
}

/// A file name from free text: characters other than letters, digits, `.`, `_`, `-`
/// become `_`.
fn file_stem(text: &str) -> String {
    let stem: String =
        text.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' }).collect();
    if stem.is_empty() || stem.starts_with('.') { format!("_{stem}") } else { stem }
}

/// Session files being filled: session → files, each a key → record map. A key seen
/// again in a session (the same 5-tuple reused later) goes to the session's next file,
/// since a JSON object cannot hold a key twice.
#[derive(Default)]
struct Sessions {
    files: BTreeMap<String, Vec<BTreeMap<String, Record>>>,
    /// Session id (capture path or label) → unique file stem.
    stems: HashMap<String, String>,
}

impl Sessions {
    fn stem(&mut self, session: &str, wanted: String) -> String {
        if let Some(s) = self.stems.get(session) {
            return s.clone();
        }
        let mut stem = wanted.clone();
        let mut k = 2;
        while self.stems.values().any(|s| *s == stem) {
            stem = format!("{wanted}-{k}");
            k += 1;
        }
        self.stems.insert(session.to_owned(), stem.clone());
        stem
    }

    fn insert(&mut self, stem: String, key: String, record: Record) {
        let files = self.files.entry(stem).or_default();
        match files.iter_mut().find(|f| !f.contains_key(&key)) {
            Some(file) => {
                file.insert(key, record);
            }
            None => files.push(BTreeMap::from([(key, record)])),
        }
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> PolarsError + '_ {
    move |e| polars_err!(ComputeError: "{}: {e}", path.display())
}

/// Exports every flow of `store` into `out_dir` (created; must be empty unless `overwrite`,
/// and then it may hold only `.json` files, which are replaced).
pub fn export_store(
    store: &Path,
    out_dir: &Path,
    options: &ExportOptions,
    overwrite: bool,
) -> PolarsResult<ExportSummary> {
    let parts = crate::store::part_files(store).map_err(io_err(store))?;
    polars_ensure!(!parts.is_empty(), ComputeError: "{}: no Parquet part files in the store", store.display());
    if out_dir.exists() {
        let entries: Vec<PathBuf> =
            fs::read_dir(out_dir).map_err(io_err(out_dir))?.filter_map(|e| e.ok().map(|e| e.path())).collect();
        if !entries.is_empty() {
            polars_ensure!(overwrite, ComputeError: "{}: the directory already holds files; pass --overwrite to replace them", out_dir.display());
            if let Some(foreign) = entries.iter().find(|p| !(p.is_file() && p.extension().is_some_and(|e| e == "json")))
            {
                polars_bail!(ComputeError: "{}: holds {} which is not a MIRAGE JSON file; refusing to overwrite", out_dir.display(), foreign.display());
            }
            for p in &entries {
                fs::remove_file(p).map_err(io_err(p))?;
            }
        }
    }
    fs::create_dir_all(out_dir).map_err(io_err(out_dir))?;

    let mut sessions = Sessions::default();
    let mut scratch = Scratch::default();
    let mut summary = ExportSummary::default();
    for part in parts {
        let file = fs::File::open(&part).map_err(io_err(&part))?;
        let df = ParquetReader::new(file).finish()?;
        let rows = PartRows::read(&df)?;
        for i in 0..rows.len() {
            let (session, wanted) = match options.grouping {
                Grouping::Capture => {
                    let path = rows.capture_file[i].clone().unwrap_or_default();
                    let name = Path::new(&path).file_name().map(|n| n.to_string_lossy().into_owned());
                    let wanted = file_stem(&name.unwrap_or_else(|| "capture".to_owned()));
                    (path, wanted)
                }
                Grouping::Label => {
                    let label = rows.label[i].clone().unwrap_or_else(|| "unlabelled".to_owned());
                    (label.clone(), file_stem(&label))
                }
            };
            let stem = sessions.stem(&session, wanted);
            let (key, record) = record(&rows, i, options, &mut scratch);
            sessions.insert(stem, key.text(), record);
            summary.records += 1;
        }
    }
    for (stem, files) in sessions.files {
        for (k, records) in files.into_iter().enumerate() {
            let name = if k == 0 { format!("{stem}.json") } else { format!("{stem}.{}.json", k + 1) };
            let path = out_dir.join(name);
            let text = serde_json::to_vec(&records).map_err(|e| polars_err!(ComputeError: "{e}"))?;
            fs::write(&path, text).map_err(io_err(&path))?;
            summary.files.push(path);
        }
    }
    Ok(summary)
}
