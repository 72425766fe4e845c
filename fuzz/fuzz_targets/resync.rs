//! The resynchroniser: record boundaries of a classic pcap found from arbitrary offsets.
//!
//! Two kinds of input:
//! - A capture (the input starts with a pcap magic; the seeds do): arbitrary or mutated
//!   bytes, where a boundary is only a plausible candidate. Checks: no panic, the search
//!   ends, a found boundary lies inside the file at or after where the search began and is
//!   one the chain rule accepts, and chunk starts are strictly increasing.
//! - Anything else: a description from which a valid capture is built, with the record
//!   headers (sizes, time steps, soft faults, format variant, byte order, version) chosen
//!   by the fuzzer and the packet bytes pseudo-random. Checks, on top of the above: the
//!   sequential reader visits exactly the records written, and every offset where the
//!   chain rule accepts a boundary is one of them (so no search from any offset can land
//!   inside a record), except a chain of fewer than `CHAIN` headers that ends exactly at
//!   the end of the file, which the rule accepts by design.

#![no_main]

use flowmine_core::capture::Format;
use flowmine_core::capture::pcap::{FILE_HEADER_LEN, PcapInfo};
use flowmine_core::capture::resync::{CHAIN, TimeWindow, chain_starts_at, chunk_starts, next_boundary};
use flowmine_fuzz::walk;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    if Format::detect(input) == Some(Format::Pcap) {
        arbitrary_capture(input);
    } else if let Some((capture, records)) = build_capture(input) {
        valid_capture(&capture, &records);
    }
});

/// The window a caller derives from the file: from the first record's time on.
fn window_of(bytes: &[u8], info: &PcapInfo) -> TimeWindow {
    let first = info.record_header(bytes, FILE_HEADER_LEN).map_or(0, |h| h.ts_ns);
    TimeWindow::after(first)
}

/// What holds for any bytes: searches end inside the file on an accepted chain.
fn check_searches(bytes: &[u8], info: &PcapInfo, window: TimeWindow, froms: impl Iterator<Item = usize>) {
    for from in froms {
        if let Some(at) = next_boundary(bytes, info, window, from) {
            assert!(at >= from.max(FILE_HEADER_LEN), "boundary {at} before the search start {from}");
            assert!(at < bytes.len(), "boundary {at} at or past the end {}", bytes.len());
            assert!(chain_starts_at(bytes, info, window, at), "boundary {at} without a chain");
            assert_eq!(next_boundary(bytes, info, window, at), Some(at), "a boundary finds itself");
        }
    }
    for chunks in [0, 1, 2, 3, 8] {
        let starts = chunk_starts(bytes, info, window, chunks);
        assert_eq!(starts[0], FILE_HEADER_LEN, "the first chunk starts at the first record");
        assert!(starts.len() <= chunks.max(1), "{} starts for {chunks} chunks", starts.len());
        for pair in starts.windows(2) {
            assert!(pair[0] < pair[1], "chunk starts not increasing: {starts:?}");
        }
        for &s in &starts[1..] {
            assert!(s < bytes.len() && chain_starts_at(bytes, info, window, s), "chunk start {s}");
        }
    }
}

/// Searches that find nothing scan to the end of the file from every start: the first
/// 64 KiB (hundreds of records of the seed captures) keep runs fast.
const MAX_ARBITRARY_LEN: usize = 64 << 10;

fn arbitrary_capture(bytes: &[u8]) {
    let bytes = &bytes[..bytes.len().min(MAX_ARBITRARY_LEN)];
    let Ok(info) = PcapInfo::parse(bytes) else { return };
    let window = window_of(bytes, &info);
    // A handful of starting points spread over the file, and one from its last bytes.
    let tail = bytes.len().checked_sub(4).map_or(0, |at| u32::from_le_bytes(bytes[at..].try_into().unwrap()));
    let spread = (0..8).map(|i| bytes.len() * i / 8);
    check_searches(bytes, &info, window, spread.chain([tail as usize % (bytes.len() + 1)]));
}

fn valid_capture(bytes: &[u8], records: &[usize]) {
    let info = PcapInfo::parse(bytes).expect("a built capture has a valid header");
    let walked = walk(bytes, Format::Pcap, |_, _, _| {});
    assert_eq!(walked.damage, None, "a built capture is not damaged");
    assert_eq!(walked.packets, records, "the reader frames the records written");
    let window = window_of(bytes, &info);
    for at in FILE_HEADER_LEN..bytes.len() {
        if chain_starts_at(bytes, &info, window, at) && records.binary_search(&at).is_err() {
            // The one false boundary the chain rule admits by design: fewer than CHAIN
            // headers that happen to end exactly at the end of the file (made-up records
            // at the very end only; see fuzz/README.md).
            assert!(
                ends_at_eof_within_chain(bytes, &info, at),
                "a chain starts at {at}, inside a record; records {records:?}"
            );
        }
    }
    check_searches(bytes, &info, window, (0..4).map(|i| bytes.len() * i / 4));
}

/// Whether the headers linked from `at` reach the end of the file exactly within fewer
/// than [`CHAIN`] records: a chain the resynchroniser takes on the strength of the file
/// ending there.
fn ends_at_eof_within_chain(bytes: &[u8], info: &PcapInfo, at: usize) -> bool {
    let mut pos = at;
    for _ in 0..CHAIN {
        if pos == bytes.len() {
            return true;
        }
        let Some(h) = info.record_header(bytes, pos) else { return false };
        pos += info.record_header_len() + h.caplen as usize;
    }
    false
}

/// Reads the fuzz input as the description of a capture.
struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes([self.byte()?, self.byte()?]))
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes([self.byte()?, self.byte()?, self.byte()?, self.byte()?]))
    }
}

/// xorshift64*: the packet bytes, which the fuzzer does not get to shape.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn fill(&mut self, out: &mut Vec<u8>, n: usize) {
        out.extend((0..n).map(|_| (self.next() >> 32) as u8));
    }
}

const MAX_RECORDS: usize = 48;
const MAX_CAPLEN: u32 = 512;

/// Builds a capture from the description; returns it with the offsets of its records.
///
/// Layout of the description: flags (byte order, variant, version), snap length choice,
/// first time (seconds after 2000-01-01), noise seed, then per record: caplen, time step,
/// wire-length delta.
fn build_capture(input: &[u8]) -> Option<(Vec<u8>, Vec<usize>)> {
    let mut c = Cursor(input);
    let flags = c.byte()?;
    let big_endian = flags & 1 != 0;
    // 0: µs, 1: ns, 2: modified (µs, 24-byte record headers).
    let variant = (flags >> 1) % 3;
    let minor: u16 = [4, 3, 2, 0][usize::from(flags >> 3) & 3];
    let snaplen = match c.byte()? % 4 {
        0 => 0,
        1 => 65_535,
        2 => 262_144,
        _ => MAX_CAPLEN,
    };
    // Real captures are of this century: the chain's time window relies on it.
    let first_sec = 946_684_800 + c.u32()? % (1 << 30);
    let mut noise = Noise(u64::from(c.u32()?) << 32 | u64::from(c.u32()?) | 1);

    let u16_bytes = |v: u16| if big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
    let u32_bytes = |v: u32| if big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
    let magic: u32 = [0xa1b2_c3d4, 0xa1b2_3c4d, 0xa1b2_cd34][usize::from(variant)];
    let mut out = Vec::new();
    out.extend(u32_bytes(magic));
    out.extend(u16_bytes(2));
    out.extend(u16_bytes(minor));
    out.extend([0; 8]); // thiszone, sigfigs
    out.extend(u32_bytes(snaplen));
    out.extend(u32_bytes(1)); // Ethernet

    let units_per_sec: i64 = if variant == 1 { 1_000_000_000 } else { 1_000_000 };
    let mut time = i64::from(first_sec) * units_per_sec;
    let mut records = Vec::new();
    while records.len() < MAX_RECORDS {
        let Some(size) = c.u16() else { break };
        let step = c.u16()?;
        let delta = c.byte()?;
        let limit = if snaplen == 0 { MAX_CAPLEN } else { snaplen.min(MAX_CAPLEN) };
        let caplen = 1 + u32::from(size) % limit;
        // Time steps: mostly small and forward, sometimes back (reordered queues) or a
        // long idle stretch; at most about an hour either way per record.
        let step_units = match step >> 14 {
            0 | 1 => i64::from(step & 0x3fff) * (units_per_sec / 1000),
            2 => -i64::from(step & 0x3fff) * (units_per_sec / 10_000),
            _ => i64::from(step & 0x3fff) * (units_per_sec / 4),
        };
        time = (time + step_units).max(i64::from(first_sec) * units_per_sec);
        // What was on the wire: at least the captured bytes, except that version 2.4
        // files may carry the writer bug of a wire length below the captured one (a
        // soft fault for the chain rule). Earlier versions swap the fields by rule.
        let orig_len = match (delta, minor) {
            (d, 4) if d >= 0xf0 => caplen.saturating_sub(u32::from(d - 0xef)).max(1),
            (d, _) => caplen + u32::from(d) * 8,
        };
        let (first_len, second_len) = if minor < 3 { (orig_len, caplen) } else { (caplen, orig_len) };
        let secs = u32::try_from(time / units_per_sec).ok()?;
        let frac = (time % units_per_sec) as u32;
        records.push(out.len());
        out.extend(u32_bytes(secs));
        out.extend(u32_bytes(frac));
        out.extend(u32_bytes(first_len));
        out.extend(u32_bytes(second_len));
        if variant == 2 {
            // Kuznetzov's extra fields: interface index, protocol, packet type, padding.
            let r = noise.next();
            out.extend(u32_bytes((r % 8) as u32));
            out.extend(0x0800u16.to_be_bytes());
            out.extend([(r >> 8) as u8 % 5, 0]);
        }
        noise.fill(&mut out, caplen as usize);
    }
    (!records.is_empty()).then_some((out, records))
}
