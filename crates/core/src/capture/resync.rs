//! Finding record boundaries of a classic pcap from any byte offset, without walking
//! from the start: to split one large file among threads, and to find the way back
//! into a file after a damaged stretch.
//!
//! A pcap record header carries no marker, so a boundary is judged by plausibility: a
//! chain of consecutive headers that each look right (sub-second field in range,
//! 0 < caplen ≤ the snap length, a sane original length, timestamps inside the file's
//! time window) and that link up exactly, record after record. Two checks are soft, as
//! real captures break them: caplen ≤ orig_len, and time not going back (sample captures
//! step back by 21 s mid-file); a chain tolerates a few such faults. A chain of [`CHAIN`] such headers
//! (or one of two or more that ends exactly at the end of the file) is taken as the truth. Callers that
//! must be exact check the seam: the records walked before it must end where the found
//! boundary starts (see [`chunk_starts`]).
//!
//! pcapng blocks carry their length at both ends, so a boundary there is a chain of
//! [`NG_CHAIN`] blocks of known types whose trailers repeat their headers' lengths.

use super::endian::Endian;
use super::pcap::{FILE_HEADER_LEN, MAX_CAPLEN, PcapInfo, PcapReader};
use super::pcapng::{self, PcapngReader};

/// Consecutive plausible headers that make a boundary.
pub const CHAIN: usize = 8;
/// Soft faults a chain tolerates: headers with caplen > orig_len (writer bugs) or that go
/// back in time by more than [`BACKWARDS_SLACK_NS`] (merged or re-ordered captures).
const SOFT_FAULTS: usize = 2;
/// Frames on the wire stay below this (jumbo frames, TSO and BIG TCP super-packets
/// included). It also rejects the most common false chain: the true chain read 4 bytes
/// late, where the original-length field falls on the first bytes of the packet.
const MAX_ORIG_LEN: u32 = 16 << 20;
/// Multi-queue captures run slightly out of order: going back this far is no fault.
const BACKWARDS_SLACK_NS: i64 = 1_000_000_000;
/// The largest step in time between consecutive records of a chain, either way. A real
/// capture idle for longer, or whose host sets its clock, breaks chains there: finding
/// no boundary costs time, finding a false one would cost correctness.
const MAX_STEP_NS: i64 = 3_600 * 1_000_000_000;
/// How far before the first record a later record may lie (clock steps back).
const WINDOW_SLACK_NS: i64 = 86_400 * 1_000_000_000;

/// Times a plausible header may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    pub first_ns: i64,
    pub last_ns: i64,
}

impl TimeWindow {
    /// From the first record's time on, with no upper bound: real captures jump forward
    /// when the capturing host sets its clock (one sample capture goes from 610 s after
    /// 1970 to 2022 mid-file). Callers that know when a file ends (n2disk names its files
    /// by time) can narrow `last_ns`; the chain rule alone already makes random bytes pass
    /// with negligible probability (sub-second field and caplen in range, exact linkage,
    /// non-decreasing times, eight times over).
    pub fn after(first_ns: i64) -> TimeWindow {
        TimeWindow { first_ns: first_ns.saturating_sub(WINDOW_SLACK_NS), last_ns: i64::MAX }
    }
}

/// The limit a plausible caplen stays under: the snap length when the file states a sane
/// one, else the largest capture length believed at all.
fn caplen_limit(info: &PcapInfo) -> u32 {
    match info.snaplen {
        0 => MAX_CAPLEN,
        n => n.min(MAX_CAPLEN),
    }
}

/// Whether a plausible chain of headers starts at `at`.
pub fn chain_starts_at(bytes: &[u8], info: &PcapInfo, window: TimeWindow, at: usize) -> bool {
    let limit = caplen_limit(info);
    let mut pos = at;
    let mut previous_ts: Option<i64> = None;
    let mut soft_faults = 0;
    for n in 0..CHAIN {
        if pos == bytes.len() {
            // A chain that ends exactly at the end of the file: two records at least, as
            // one plausible header whose length happens to reach the end is found inside
            // the data of a cut record in real captures.
            return n >= 2;
        }
        let Some(h) = info.record_header(bytes, pos) else { return false };
        let plausible = h.ts_frac < info.ts_frac_limit()
            && h.caplen > 0
            && h.caplen <= limit
            && h.orig_len > 0
            && h.orig_len <= MAX_ORIG_LEN
            && h.ts_ns >= window.first_ns
            && h.ts_ns <= window.last_ns;
        if !plausible {
            return false;
        }
        soft_faults += usize::from(h.caplen > h.orig_len);
        if previous_ts.is_some_and(|p| h.ts_ns.abs_diff(p) > MAX_STEP_NS as u64) {
            return false;
        }
        soft_faults += usize::from(previous_ts.is_some_and(|p| h.ts_ns < p - BACKWARDS_SLACK_NS));
        if soft_faults > SOFT_FAULTS {
            return false;
        }
        previous_ts = Some(h.ts_ns);
        pos += info.record_header_len() + h.caplen as usize;
        if pos > bytes.len() {
            return false;
        }
    }
    true
}

/// The first offset at or after `from` where a plausible chain starts, if any.
pub fn next_boundary(bytes: &[u8], info: &PcapInfo, window: TimeWindow, from: usize) -> Option<usize> {
    (from.max(FILE_HEADER_LEN)..bytes.len()).find(|&at| chain_starts_at(bytes, info, window, at))
}

/// Consecutive well-framed pcapng blocks that make a boundary.
pub const NG_CHAIN: usize = 4;

/// Block types a resynchronised pcapng chain may hold: the standard ones (section,
/// interface, packets, name resolution, statistics, systemd journal, decryption secrets,
/// custom). Unknown types are legal in a file but too weak a sign of a real boundary.
const NG_KNOWN_TYPES: [u32; 10] = [
    pcapng::SHB_TYPE,
    pcapng::IDB_TYPE,
    pcapng::PB_TYPE,
    pcapng::SPB_TYPE,
    0x0000_0004,
    0x0000_0005,
    pcapng::EPB_TYPE,
    0x0000_0009,
    0x0000_000a,
    0x0000_0bad,
];

/// Whether a chain of well-framed pcapng blocks starts at `at`, read in `endian` (a
/// section header in the chain sets its own). A chain may end exactly at the end of the
/// file after two blocks.
pub fn ng_chain_starts_at(bytes: &[u8], mut endian: Endian, at: usize) -> bool {
    let mut pos = at;
    for n in 0..NG_CHAIN {
        if pos == bytes.len() {
            return n >= 2;
        }
        let Some(head) = bytes.get(pos..pos + 12) else { return false };
        let word = |i: usize| -> [u8; 4] { head[i..i + 4].try_into().expect("4 bytes") };
        if u32::from_le_bytes(word(0)) == pcapng::SHB_TYPE {
            endian = match word(8) {
                m if m == pcapng::BYTE_ORDER_MAGIC.to_le_bytes() => Endian::Little,
                m if m == pcapng::BYTE_ORDER_MAGIC.to_be_bytes() => Endian::Big,
                _ => return false,
            };
        }
        let block_type = endian.u32(word(0));
        let length = endian.u32(word(4)) as usize;
        if !NG_KNOWN_TYPES.contains(&block_type) || length < 12 || !length.is_multiple_of(4) {
            return false;
        }
        let Some(trailer) = bytes.get(pos + length - 4..pos + length) else { return false };
        if endian.u32(trailer.try_into().expect("4 bytes")) as usize != length {
            return false;
        }
        pos += length;
    }
    true
}

/// The first offset at or after `from` where a chain of pcapng blocks starts, if any.
pub fn ng_next_boundary(bytes: &[u8], endian: Endian, from: usize) -> Option<usize> {
    (from..bytes.len()).find(|&at| ng_chain_starts_at(bytes, endian, at))
}

/// After damage in a classic pcap: moves `reader` to the next plausible chain of records
/// past it and returns its offset, or `None` if there is none (the rest of the file is
/// lost). Reading then goes on from there.
pub fn pcap_reader(reader: &mut PcapReader) -> Option<usize> {
    let damaged_at = reader.damaged_at()?;
    let window = TimeWindow::after(reader.first_ts_ns().unwrap_or(i64::MIN));
    let at = next_boundary(reader.bytes(), reader.info(), window, damaged_at + 1)?;
    reader.resume_at(at);
    Some(at)
}

/// After damage in a pcapng: moves `reader` to the next chain of well-framed blocks past
/// it and returns its offset, or `None` if there is none.
pub fn pcapng_reader(reader: &mut PcapngReader) -> Option<usize> {
    let damaged_at = reader.damaged_at()?;
    let at = ng_next_boundary(reader.bytes(), reader.endian(), damaged_at + 1)?;
    reader.resume_at(at);
    Some(at)
}

/// Start offsets of up to `chunks` pieces of the file, each at a plausible boundary at or
/// after an even split; the first is the first record. Starts are strictly increasing.
/// A found start is only a candidate: whoever walks the piece before it must land on it
/// exactly (and walk on sequentially otherwise).
pub fn chunk_starts(bytes: &[u8], info: &PcapInfo, window: TimeWindow, chunks: usize) -> Vec<usize> {
    ChunkStarts::new(bytes, *info, window, chunks).collect()
}

/// [`chunk_starts`] one at a time: each start is looked for when it is asked for, so a
/// reader a few pieces ahead of the walk touches the file only there (looking for all of
/// them first mapped about a megabyte of the file per split, 195 MB for a 1.5 GB capture,
/// held until the walk passed it).
#[derive(Debug, Clone)]
pub struct ChunkStarts<'a> {
    bytes: &'a [u8],
    info: PcapInfo,
    window: TimeWindow,
    chunks: usize,
    /// The split the next start is looked for after, and the last start handed out.
    next: usize,
    last: Option<usize>,
}

impl<'a> ChunkStarts<'a> {
    pub fn new(bytes: &'a [u8], info: PcapInfo, window: TimeWindow, chunks: usize) -> ChunkStarts<'a> {
        ChunkStarts { bytes, info, window, chunks: chunks.max(1), next: 0, last: None }
    }
}

impl Iterator for ChunkStarts<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        let Some(last) = self.last else {
            self.next = 1;
            self.last = Some(FILE_HEADER_LEN);
            return self.last;
        };
        if self.next >= self.chunks {
            return None;
        }
        let body = self.bytes.len().saturating_sub(FILE_HEADER_LEN);
        let target = FILE_HEADER_LEN + body * self.next / self.chunks;
        let found = next_boundary(self.bytes, &self.info, self.window, target.max(last + 1));
        match found {
            Some(at) if at < self.bytes.len() => {
                self.next += 1;
                self.last = Some(at);
                Some(at)
            }
            // No start past this split: none past the later ones either.
            _ => {
                self.next = self.chunks;
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A µs file with records of the given caplens, one per second from t = 1000 s.
    fn pcap_with(caplens: &[u32]) -> Vec<u8> {
        let mut f = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0];
        for (i, &caplen) in caplens.iter().enumerate() {
            f.extend_from_slice(&(1000 + i as u32).to_le_bytes());
            f.extend_from_slice(&500u32.to_le_bytes());
            f.extend_from_slice(&caplen.to_le_bytes());
            f.extend_from_slice(&(caplen + 10).to_le_bytes());
            f.extend(std::iter::repeat_n(0xabu8, caplen as usize));
        }
        f
    }

    fn boundaries(bytes: &[u8], info: &PcapInfo) -> Vec<usize> {
        let mut out = vec![];
        let mut pos = FILE_HEADER_LEN;
        while let Some(h) = info.record_header(bytes, pos) {
            out.push(pos);
            pos += info.record_header_len() + h.caplen as usize;
        }
        out
    }

    #[test]
    fn finds_the_next_record_from_any_offset() {
        let f = pcap_with(&[60, 1514, 40, 90, 60, 60, 300, 60, 60, 60, 60, 60]);
        let info = PcapInfo::parse(&f).unwrap();
        let window = TimeWindow::after(1000 * 1_000_000_000);
        let truth = boundaries(&f, &info);
        // The last record alone is too short a chain.
        let findable = &truth[..truth.len() - 1];
        for from in FILE_HEADER_LEN..f.len() {
            let expected = findable.iter().copied().find(|&b| b >= from);
            assert_eq!(next_boundary(&f, &info, window, from), expected, "from {from}");
        }
    }

    #[test]
    fn chunk_starts_are_record_starts() {
        let f = pcap_with(&[100; 40]);
        let info = PcapInfo::parse(&f).unwrap();
        let window = TimeWindow::after(1000 * 1_000_000_000);
        let starts = chunk_starts(&f, &info, window, 4);
        assert_eq!(starts.len(), 4);
        let truth = boundaries(&f, &info);
        assert!(starts.iter().all(|s| truth.contains(s)), "{starts:?}");
    }
}
