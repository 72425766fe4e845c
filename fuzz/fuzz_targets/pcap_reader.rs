//! The classic pcap reader over arbitrary bytes: every record is framed exactly where the
//! previous one ended, its bytes are inside the input, and the walk ends.

#![no_main]

use flowmine_core::capture::Format;
use flowmine_core::capture::pcap::{FILE_HEADER_LEN, MAX_CAPLEN, PcapInfo};
use flowmine_fuzz::{span_in, walk};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if Format::detect(bytes) != Some(Format::Pcap) {
        return;
    }
    let Ok(info) = PcapInfo::parse(bytes) else { return };
    let header_len = info.record_header_len();
    let result = walk(bytes, Format::Pcap, |record, before, after| {
        let offset = record.offset as usize;
        // Records follow one another with nothing between them.
        assert_eq!(offset, before, "record not where the previous one ended");
        assert!(offset >= FILE_HEADER_LEN);
        let (start, end) = span_in(bytes, record.data);
        assert_eq!(start, offset + header_len, "data does not follow the record header");
        assert_eq!(end, after, "the next record does not start after this one's data");
        assert!(record.data.len() <= MAX_CAPLEN as usize);
        assert_eq!(record.link_type, info.link_type);
        // The header read again says the same.
        let h = info.record_header(bytes, offset).expect("a framed record has a header");
        assert_eq!((h.caplen as usize, h.orig_len, h.ts_ns), (record.data.len(), record.orig_len, record.ts_ns));
    });
    assert_eq!(result.skipped, 0, "pcap records are never skipped by the reader");
    if let Some(at) = result.damage {
        // Damage is at the record after the last good one.
        let expected = match result.packets.last() {
            Some(&last) => last + header_len + info.record_header(bytes, last).unwrap().caplen as usize,
            None => FILE_HEADER_LEN,
        };
        assert_eq!(at as usize, expected);
    }
});
