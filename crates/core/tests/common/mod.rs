//! Helpers shared by the integration tests: where the sample captures live and how to
//! run the engine on one of them.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use flowmine_core::capture::input::{InputFile, InputSet};
use flowmine_core::scan::{ScanOptions, ScanReport, scan_to_batch};
use flowmine_core::{FlowBatch, FlowConfig};

/// `testdata/` at the repository root.
pub fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

/// `testdata/pcaps/<group>/<name>`.
pub fn capture(group: &str, name: &str) -> PathBuf {
    testdata().join("pcaps").join(group).join(name)
}

/// Every capture file (by magic) in `testdata/pcaps/<group>`, sorted by name.
pub fn captures_in(group: &str) -> Vec<PathBuf> {
    let set = flowmine_core::collect_inputs(&[testdata().join("pcaps").join(group)]).expect("testdata readable");
    let mut files: Vec<PathBuf> = set.files.into_iter().map(|f| f.path).collect();
    files.sort();
    files
}

/// Runs the engine on the given files, in the given order, with `config`.
pub fn scan_files(paths: &[PathBuf], config: FlowConfig) -> (FlowBatch, ScanReport) {
    let inputs = InputSet {
        files: paths
            .iter()
            .map(|p| InputFile { path: p.clone(), len: std::fs::metadata(p).map_or(0, |m| m.len()), first_ts_ns: None })
            .collect(),
        ..Default::default()
    };
    let options = ScanOptions { flow: config, ..ScanOptions::default() };
    scan_to_batch(&inputs, &options).expect("scan of a readable file")
}

/// Runs the engine on one file.
pub fn scan_file(path: &Path, config: FlowConfig) -> (FlowBatch, ScanReport) {
    scan_files(&[path.to_owned()], config)
}

/// Asserts `packets_total = packets_in_flows + Σ skipped`, and that the flows hold
/// exactly `packets_in_flows` packets.
pub fn assert_conservation(flows: &FlowBatch, report: &ScanReport, what: &str) {
    assert_eq!(
        report.packets_total,
        report.packets_in_flows + report.skipped.total(),
        "{what}: packets_total must equal packets_in_flows + skipped"
    );
    let in_flows: u64 = flows.fwd_packets.iter().chain(&flows.bwd_packets).sum();
    assert_eq!(in_flows, report.packets_in_flows, "{what}: flow packet counters must add up to packets_in_flows");
    for f in &report.files {
        assert_eq!(f.packets_total, f.packets_in_flows() + f.skipped.total(), "{what}: per-file conservation");
    }
}
