//! Files cut into pieces decoded on several threads give exactly what one walk from the
//! start gives: the same rows in the same order, the same report, for every sample
//! capture, damaged or not, whatever the piece size.

mod common;

use std::path::{Path, PathBuf};

use common::{captures_in, testdata};
use flowmine_core::capture::input::{InputFile, InputSet};
use flowmine_core::capture::{Event, Format, Reader};
use flowmine_core::scan::{ScanOptions, ScanReport, scan_to_batch};
use flowmine_core::{FlowBatch, FlowConfig};

fn run(paths: &[PathBuf], threads: usize, piece_bytes: usize) -> (FlowBatch, ScanReport) {
    let inputs = InputSet {
        files: paths
            .iter()
            .map(|p| InputFile { path: p.clone(), len: std::fs::metadata(p).unwrap().len(), first_ts_ns: None })
            .collect(),
        ..Default::default()
    };
    let options = ScanOptions { flow: FlowConfig::default(), threads, piece_bytes, ..ScanOptions::default() };
    scan_to_batch(&inputs, &options).unwrap()
}

fn assert_same_for_any_pieces(paths: &[PathBuf], what: &str) {
    let expected = run(paths, 1, usize::MAX);
    // Pieces smaller than a record, of a few records, and of many.
    for piece_bytes in [50, 613, 4099, 65_537] {
        for threads in [2, 3] {
            let got = run(paths, threads, piece_bytes);
            assert!(got.0 == expected.0, "{what}: rows differ with {threads} threads, pieces of {piece_bytes}");
            assert_eq!(got.1, expected.1, "{what}: report differs with {threads} threads, pieces of {piece_bytes}");
        }
    }
}

#[test]
fn every_sample_capture_gives_the_same_flows_in_pieces() {
    let mut files = captures_in("messaging");
    files.extend(captures_in("genres"));
    let edge = flowmine_core::collect_inputs(&[testdata().join("pcaps/edge")]).unwrap();
    files.extend(edge.files.into_iter().map(|f| f.path));
    assert!(files.len() > 120);
    for path in &files {
        assert_same_for_any_pieces(std::slice::from_ref(path), &path.display().to_string());
    }
    // And as one run over all of them: flows continue across files.
    assert_same_for_any_pieces(&files[..20], "20 files in one run");
}

/// Breaks the framing of three records (a pcap caplen past any limit, a pcapng block
/// length that is no multiple of 4) so that reading must resynchronise, often across a
/// seam.
fn damaged_copy(path: &Path, dir: &Path) -> PathBuf {
    let mut bytes = std::fs::read(path).unwrap();
    let format = Format::detect(&bytes).unwrap();
    let mut records = Vec::new();
    let mut reader = Reader::new(&bytes).unwrap();
    while let Some(event) = reader.next_event() {
        if let Ok(Event::Packet(rec)) = event {
            records.push(rec.offset as usize);
        }
    }
    let n = records.len();
    for at in [records[n / 3], records[n / 2], records[2 * n / 3]] {
        match format {
            Format::Pcap => bytes[at + 8..at + 12].copy_from_slice(&[0xff; 4]),
            Format::Pcapng => bytes[at + 4..at + 8].copy_from_slice(&[0x0d; 4]),
        }
    }
    let out = dir.join(path.file_name().unwrap());
    std::fs::write(&out, bytes).unwrap();
    out
}

#[test]
fn damaged_captures_give_the_same_flows_in_pieces() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = captures_in("messaging");
    files.extend(captures_in("genres"));
    let mut damaged = 0;
    for path in files.iter().filter(|p| std::fs::metadata(p).unwrap().len() > 20_000) {
        let copy = damaged_copy(path, dir.path());
        let (_, report) = run(std::slice::from_ref(&copy), 1, usize::MAX);
        damaged += usize::from(!report.files[0].damaged_stretches.is_empty());
        assert_same_for_any_pieces(&[copy], &format!("{} damaged", path.display()));
    }
    assert!(damaged > 20, "only {damaged} files had damage to read past");
}
