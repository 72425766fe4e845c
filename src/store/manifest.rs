//! `manifest.json`: what a run read, with which parameters, and where every packet went.

use std::collections::BTreeMap;

use flowmine_core::scan::{FileReport, ScanReport};
use flowmine_core::skip::{SkipCounts, SkipReason};
use serde::{Deserialize, Serialize};

pub const FORMAT_NAME: &str = "flowmine-store";
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    pub flowmine_version: String,
    pub parameters: Parameters,
    pub packets_total: u64,
    pub packets_in_flows: u64,
    /// Reason → packets, every reason listed (zeros included).
    pub skipped: BTreeMap<String, u64>,
    pub flows: u64,
    /// Flows ended early (reason `evicted`) to keep the table under `max_flows`.
    #[serde(default)]
    pub flows_evicted: u64,
    pub fragments: Fragments,
    pub parts: Vec<Part>,
    pub inputs: Vec<InputEntry>,
    /// Files inside input directories that were not captures.
    pub ignored_inputs: Vec<String>,
    /// Files a capture appliance was still writing (`*.tmp`), not read.
    #[serde(default)]
    pub inputs_in_progress: Vec<String>,
}

/// The run's flow parameters, as given (timeouts in seconds; `null` = off).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Parameters {
    pub idle_timeout_s: Option<f64>,
    pub active_timeout_s: Option<f64>,
    pub tcp_close: bool,
    pub tcp_close_linger_s: f64,
    /// "all", or the number of packets per flow whose per-packet entries are kept.
    pub packets: String,
    pub label: Option<String>,
    pub threads: usize,
    /// `--max-flows`: the cap on open flows, or null.
    #[serde(default)]
    pub max_flows: Option<u64>,
}

impl Parameters {
    /// The parameters that differ from `other`'s, as `name: ours vs theirs`. The thread
    /// count is left out: the flows do not depend on it.
    pub fn differences(&self, other: &Parameters) -> Vec<String> {
        let as_map = |p: &Parameters| match serde_json::to_value(Parameters { threads: 0, ..p.clone() }) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => unreachable!("parameters serialise to an object"),
        };
        let (ours, theirs) = (as_map(self), as_map(other));
        ours.iter()
            .filter(|(k, v)| theirs.get(*k) != Some(v))
            .map(|(k, v)| format!("{k}: {v} now, {} then", theirs.get(k).unwrap_or(&serde_json::Value::Null)))
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fragments {
    pub joined: u64,
    pub unmatched: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Part {
    pub file: String,
    pub rows: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputEntry {
    pub path: String,
    /// "pcap", "pcapng", or null when the file is neither.
    pub format: Option<String>,
    pub bytes: u64,
    pub packets_total: u64,
    pub packets_in_flows: u64,
    pub skipped: BTreeMap<String, u64>,
    pub flows: u64,
    /// The first damage in the file.
    pub damage: Option<DamageEntry>,
    /// Every stretch that could not be framed, and where reading went on after it.
    #[serde(default)]
    pub damaged_stretches: Vec<StretchEntry>,
    /// Bytes of the file passed over because they could not be framed.
    #[serde(default)]
    pub skipped_bytes: u64,
    /// Set when the file changed size while it was read (only the bytes read were used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_changed: Option<SizeChangeEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SizeChangeEntry {
    pub listed: u64,
    pub read: u64,
    /// null: the file could no longer be looked at.
    pub after: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DamageEntry {
    pub offset: u64,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StretchEntry {
    pub offset: u64,
    /// null: nothing after the damage could be read.
    pub resumed_at: Option<u64>,
}

pub fn skipped_map(counts: &SkipCounts) -> BTreeMap<String, u64> {
    SkipReason::ALL.iter().map(|&r| (r.name().to_owned(), counts.get(r))).collect()
}

fn input_entry(f: &FileReport) -> InputEntry {
    InputEntry {
        path: f.path.to_string_lossy().into_owned(),
        format: f.format.map(|x| x.name().to_owned()),
        bytes: f.bytes,
        packets_total: f.packets_total,
        packets_in_flows: f.packets_in_flows(),
        skipped: skipped_map(&f.skipped),
        flows: f.flows,
        damage: f.damage.as_ref().map(|d| DamageEntry { offset: d.offset, message: d.kind.to_string() }),
        damaged_stretches: f
            .damaged_stretches
            .iter()
            .map(|s| StretchEntry { offset: s.offset, resumed_at: s.resumed_at })
            .collect(),
        skipped_bytes: f.skipped_bytes,
        size_changed: f.size_changed.map(|c| SizeChangeEntry { listed: c.listed, read: c.read, after: c.after }),
    }
}

impl Manifest {
    pub fn new(parameters: Parameters, report: &ScanReport, parts: Vec<Part>) -> Manifest {
        Manifest {
            format: FORMAT_NAME.to_owned(),
            format_version: FORMAT_VERSION,
            flowmine_version: env!("CARGO_PKG_VERSION").to_owned(),
            parameters,
            packets_total: report.packets_total,
            packets_in_flows: report.packets_in_flows,
            skipped: skipped_map(&report.skipped),
            flows: report.flows,
            flows_evicted: report.flows_evicted,
            fragments: Fragments { joined: report.fragments.joined, unmatched: report.fragments.unmatched },
            parts,
            inputs: report.files.iter().map(input_entry).collect(),
            ignored_inputs: report.ignored.iter().map(|p| p.to_string_lossy().into_owned()).collect(),
            inputs_in_progress: report.in_progress.iter().map(|p| p.to_string_lossy().into_owned()).collect(),
        }
    }
}
