//! Damage inside a file: reading goes on at the next plausible record boundary, the
//! skipped bytes are counted, and the flows are exactly those of the file without the
//! damaged record.

mod common;

use std::path::{Path, PathBuf};

use common::{assert_conservation, captures_in, scan_file};
use flowmine_core::capture::{DamageKind, Event, Format, Reader};
use flowmine_core::scan::DamagedStretch;
use flowmine_core::{FlowConfig, SkipReason};
use proptest::prelude::*;

/// Offsets of the packet records (pcap) or packet blocks (pcapng) of a capture, and the
/// offset where each ends (the next record or block, or the end of the file).
fn packet_spans(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut reader = Reader::new(bytes).expect("a readable sample capture");
    let mut starts = Vec::new();
    let mut ends = Vec::new();
    while let Some(event) = reader.next_event() {
        if let Ok(Event::Packet(rec)) = event {
            starts.push(rec.offset as usize);
            // The reader stands just past this record or block now.
            ends.push(reader.position());
        }
    }
    starts.into_iter().zip(ends).collect()
}

/// Breaks the framing of the record or block at `at` so that no reader can step over it:
/// a pcap caplen past any limit, a pcapng block length that is not a multiple of 4.
fn break_framing(bytes: &mut [u8], format: Format, at: usize) {
    match format {
        Format::Pcap => bytes[at + 8..at + 12].copy_from_slice(&[0xff; 4]),
        Format::Pcapng => bytes[at + 4..at + 8].copy_from_slice(&[0x0d; 4]),
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn sample_captures() -> Vec<PathBuf> {
    let mut files = captures_in("messaging");
    files.extend(captures_in("genres"));
    files
}

#[test]
fn reading_resumes_after_a_broken_record_and_loses_only_that_record() {
    let dir = tempfile::tempdir().unwrap();
    let config = FlowConfig::default();
    let mut checked = 0;
    for path in sample_captures() {
        let bytes = std::fs::read(&path).unwrap();
        let format = Format::detect(&bytes).unwrap();
        let spans = packet_spans(&bytes);
        if spans.len() < 20 {
            continue;
        }
        for k in [1, spans.len() / 2, spans.len() - 12] {
            let (start, end) = spans[k];
            let mut damaged = bytes.clone();
            break_framing(&mut damaged, format, start);
            let mut without = bytes[..start].to_vec();
            without.extend_from_slice(&bytes[end..]);
            let what = format!("{} record {k} at {start}", path.display());

            let (flows, report) = scan_file(&write(dir.path(), "damaged", &damaged), config.clone());
            let (expected, clean) = scan_file(&write(dir.path(), "without", &without), config.clone());
            let file = &report.files[0];
            assert_eq!(file.damaged_stretches, [DamagedStretch { offset: start as u64, resumed_at: Some(end as u64) }]);
            assert_eq!(file.skipped_bytes, (end - start) as u64, "{what}");
            let kind = &file.damage.as_ref().unwrap().kind;
            assert!(
                matches!(kind, DamageKind::ImplausibleCaplen { .. } | DamageKind::BadBlockLength { .. }),
                "{what}: {kind:?}"
            );
            // The broken record is one corrupt record; nothing else is lost or invented.
            assert_eq!(file.skipped.get(SkipReason::CorruptRecord), 1 + clean.skipped.get(SkipReason::CorruptRecord));
            assert_eq!(report.packets_in_flows, clean.packets_in_flows, "{what}");
            assert_eq!(flows, expected, "{what}");
            assert_conservation(&flows, &report, &what);
            assert!(file.problems()[0].1.contains(&format!("read on from offset {end}")), "{:?}", file.problems());
            checked += 1;
        }
    }
    assert!(checked >= 60, "only {checked} damaged files checked");
}

#[test]
fn two_damaged_stretches_are_both_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = &captures_in("messaging")[0];
    let bytes = std::fs::read(path).unwrap();
    let format = Format::detect(&bytes).unwrap();
    let spans = packet_spans(&bytes);
    let mut damaged = bytes.clone();
    let (a, b) = (spans[5], spans[spans.len() / 2]);
    break_framing(&mut damaged, format, a.0);
    break_framing(&mut damaged, format, b.0);
    let (_, report) = scan_file(&write(dir.path(), "damaged", &damaged), FlowConfig::default());
    let file = &report.files[0];
    assert_eq!(
        file.damaged_stretches,
        [
            DamagedStretch { offset: a.0 as u64, resumed_at: Some(a.1 as u64) },
            DamagedStretch { offset: b.0 as u64, resumed_at: Some(b.1 as u64) }
        ]
    );
    assert_eq!(file.skipped_bytes, (a.1 - a.0 + b.1 - b.0) as u64);
    assert_eq!(file.packets_total, spans.len() as u64);
    let problems = file.problems();
    assert_eq!(
        problems[1],
        (b.0 as u64, format!("1 more damaged stretch ({} bytes skipped in the file in all)", file.skipped_bytes))
    );
}

#[test]
fn damage_in_the_last_record_loses_the_rest_of_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = &captures_in("messaging")[0];
    let bytes = std::fs::read(path).unwrap();
    let format = Format::detect(&bytes).unwrap();
    let &(start, end) = packet_spans(&bytes).last().unwrap();
    let mut damaged = bytes[..end].to_vec();
    break_framing(&mut damaged, format, start);
    let (_, report) = scan_file(&write(dir.path(), "damaged", &damaged), FlowConfig::default());
    let file = &report.files[0];
    assert_eq!(file.damaged_stretches, [DamagedStretch { offset: start as u64, resumed_at: None }]);
    assert_eq!(file.skipped_bytes, (end - start) as u64);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Garbage written anywhere past the header of a real capture: a reader that
    /// resynchronises after every damage still comes to an end, its offsets only grow, and
    /// every resumption lies past the damage it follows.
    #[test]
    fn resynchronising_walk_always_ends(
        file in 0usize..8,
        at in any::<prop::sample::Index>(),
        garbage in prop::collection::vec(any::<u8>(), 1..200),
    ) {
        let files = sample_captures();
        let mut bytes = std::fs::read(&files[file * files.len() / 8]).unwrap();
        // Past the file header (pcap) or the first section header (pcapng): damage there
        // fails the file at once, which other tests check; here every case walks records.
        let header = Reader::new(&bytes).expect("a readable sample capture").position();
        let at = header + at.index(bytes.len() - header);
        let n = garbage.len().min(bytes.len() - at);
        bytes[at..at + n].copy_from_slice(&garbage[..n]);
        let mut reader = Reader::new(&bytes).expect("the header is intact");
        let mut last = None;
        let mut events = 0;
        while let Some(event) = reader.next_event() {
            events += 1;
            prop_assert!(events <= bytes.len() / 12 + 2);
            let offset = match event {
                Ok(Event::Packet(rec)) => rec.offset,
                Ok(Event::Skipped { offset, .. }) => offset,
                Err(damage) => {
                    if let Some(resumed) = reader.resync() {
                        prop_assert!(resumed as u64 > damage.offset && resumed < bytes.len());
                    }
                    damage.offset
                }
            };
            prop_assert!(last < Some(offset), "offset {offset} after {last:?}");
            last = Some(offset);
        }
    }
}
