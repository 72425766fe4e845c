//! Record boundaries found from arbitrary offsets of real captures equal the boundaries a
//! front-to-back walk finds.

mod common;

use flowmine_core::capture::pcap::{FILE_HEADER_LEN, PcapInfo};
use flowmine_core::capture::resync::{TimeWindow, chunk_starts, next_boundary};
use flowmine_core::capture::{Event, Format, Reader};

/// Offsets of every record, walking from the start.
fn true_boundaries(bytes: &[u8]) -> Vec<usize> {
    let mut reader = Reader::new(bytes).unwrap();
    let mut out = Vec::new();
    while let Some(Ok(Event::Packet(r))) = reader.next_event() {
        out.push(r.offset as usize);
    }
    out
}

#[test]
fn boundaries_from_sampled_offsets_of_every_classic_capture() {
    let mut checked = 0;
    // Offsets where the next record was not the one found (a later one was, or none):
    // allowed where a chain cannot be seen (a clock step inside it), never wrong.
    let mut missed = Vec::new();
    let mut files = 0;
    for group in ["messaging", "genres"] {
        for path in common::captures_in(group) {
            let bytes = std::fs::read(&path).unwrap();
            if Format::detect(&bytes) != Some(Format::Pcap) {
                continue;
            }
            files += 1;
            let info = PcapInfo::parse(&bytes).unwrap();
            let truth = true_boundaries(&bytes);
            let first_ts = info.record_header(&bytes, FILE_HEADER_LEN).unwrap().ts_ns;
            let window = TimeWindow::after(first_ts);
            // A prime stride lands at every position relative to the records.
            // The last record alone is too short a chain to be found.
            let findable = &truth[..truth.len() - 1];
            for from in (FILE_HEADER_LEN..bytes.len()).step_by(97) {
                let expected = findable.iter().copied().find(|&b| b >= from);
                let found = next_boundary(&bytes, &info, window, from);
                if let Some(at) = found {
                    assert!(truth.contains(&at), "{}: from offset {from}: {at} is no record", path.display());
                }
                if found != expected {
                    missed.push(format!("{}@{from}", path.file_name().unwrap().to_string_lossy()));
                }
                checked += 1;
            }
            for chunks in [2, 3, 8] {
                let starts = chunk_starts(&bytes, &info, window, chunks);
                assert!(starts.iter().all(|s| truth.contains(s)), "{}: {starts:?}", path.display());
            }
        }
    }
    assert_eq!(files, 42, "classic pcaps among the messaging and genres captures");
    assert!(checked > 90_000, "{checked} offsets checked");
    // Measured: 375 of 96 563 (line.pcap's clock step from 1970 to 2022, whatsapp.pcap's
    // long silences): under 0.5 %.
    assert!(missed.len() * 200 < checked, "{} of {checked} offsets missed their record: {missed:?}", missed.len());
}
