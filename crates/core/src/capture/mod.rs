//! Capture files: format detection, record walking, and the ordered set of inputs.
//!
//! Readers work on a byte slice (the memory map of a file), hand out records that borrow
//! from it, and know nothing of protocols beyond the link-type number they pass on.

pub mod endian;
pub mod input;
pub mod pcap;
pub mod pcapng;
pub mod resync;
pub mod writer;

use std::fmt;

use crate::skip::SkipReason;

/// The container format, told by the first four bytes, never by the file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Pcap,
    Pcapng,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Pcap => "pcap",
            Format::Pcapng => "pcapng",
        }
    }

    /// Recognises a capture by its magic number.
    pub fn detect(bytes: &[u8]) -> Option<Format> {
        let magic: [u8; 4] = bytes.get(..4)?.try_into().ok()?;
        if magic == pcapng::SHB_TYPE.to_le_bytes() {
            return Some(Format::Pcapng);
        }
        pcap::Variant::from_magic(magic).map(|_| Format::Pcap)
    }
}

/// One captured packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// Nanoseconds since the Unix epoch.
    pub ts_ns: i64,
    /// Length of the packet on the wire; at least `data.len()` in a sane file.
    pub orig_len: u32,
    pub link_type: u16,
    /// The captured bytes (caplen of them).
    pub data: &'a [u8],
    /// Byte offset of the record (or block) in the file.
    pub offset: u64,
}

/// What a reader yields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    Packet(Record<'a>),
    /// A packet was present but cannot be used; the framing around it is intact.
    Skipped {
        reason: SkipReason,
        offset: u64,
    },
}

/// Damage that stops the reading of a file: nothing after `offset` can be framed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    pub offset: u64,
    pub kind: DamageKind,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DamageKind {
    #[error("not a pcap or pcapng file (magic {0:02x?})")]
    UnknownMagic([u8; 4]),
    #[error("file header cut short: {have} of {need} bytes")]
    TruncatedFileHeader { have: usize, need: usize },
    #[error("unsupported {format} version {major}.{minor}")]
    UnsupportedVersion { format: &'static str, major: u16, minor: u16 },
    #[error("record header cut short: {have} of {need} bytes at end of file")]
    TruncatedRecordHeader { have: usize, need: usize },
    #[error("implausible captured length {caplen} (limit {limit})")]
    ImplausibleCaplen { caplen: u32, limit: u32 },
    #[error("record of {caplen} captured bytes runs past the end of the file ({available} bytes left)")]
    RecordPastEnd { caplen: u32, available: u64 },
    #[error("block header cut short: {have} of 12 bytes at end of file")]
    TruncatedBlockHeader { have: usize },
    #[error("block total length {length} is invalid (must be a multiple of 4, at least 12)")]
    BadBlockLength { length: u32 },
    #[error("section header block of {length} bytes is too short for its fields (at least 28)")]
    ShortSectionHeader { length: u32 },
    #[error("block of {length} bytes runs past the end of the file ({available} bytes left)")]
    BlockPastEnd { length: u32, available: u64 },
    #[error("block trailer length {trailer} differs from header length {length}")]
    BlockLengthMismatch { length: u32, trailer: u32 },
    #[error("section header byte-order magic {0:02x?} is invalid")]
    BadByteOrderMagic([u8; 4]),
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "offset {}: {}", self.offset, self.kind)
    }
}

/// A reader over one capture in memory, whatever its format.
pub enum Reader<'a> {
    Pcap(pcap::PcapReader<'a>),
    Pcapng(pcapng::PcapngReader<'a>),
}

impl<'a> Reader<'a> {
    /// Checks the file header and positions the reader at the first record.
    pub fn new(bytes: &'a [u8]) -> Result<Self, Damage> {
        match Format::detect(bytes) {
            Some(Format::Pcap) => pcap::PcapReader::new(bytes).map(Reader::Pcap),
            Some(Format::Pcapng) => pcapng::PcapngReader::new(bytes).map(Reader::Pcapng),
            None if bytes.len() < 4 => {
                Err(Damage { offset: 0, kind: DamageKind::TruncatedFileHeader { have: bytes.len(), need: 24 } })
            }
            None => Err(Damage { offset: 0, kind: DamageKind::UnknownMagic(bytes[..4].try_into().expect("4 bytes")) }),
        }
    }

    pub fn format(&self) -> Format {
        match self {
            Reader::Pcap(_) => Format::Pcap,
            Reader::Pcapng(_) => Format::Pcapng,
        }
    }

    /// Byte offset of the next record or block: everything before it has been read.
    pub fn position(&self) -> usize {
        match self {
            Reader::Pcap(r) => r.position(),
            Reader::Pcapng(r) => r.position(),
        }
    }

    /// The next packet or skip; `None` at the end; `Some(Err)` on damage, then `None`
    /// unless [`resync`](Self::resync) finds the way back in.
    #[inline]
    pub fn next_event(&mut self) -> Option<Result<Event<'a>, Damage>> {
        match self {
            Reader::Pcap(r) => r.next_event(),
            Reader::Pcapng(r) => r.next_event(),
        }
    }

    /// After damage: skips to the next plausible record boundary past it and returns its
    /// offset, so reading can go on; `None` when no boundary follows (or there was no
    /// damage). Boundaries are judged by plausibility ([`resync`]): a reader that must
    /// not guess stops at the damage instead.
    pub fn resync(&mut self) -> Option<usize> {
        match self {
            Reader::Pcap(r) => r.resync(),
            Reader::Pcapng(r) => r.resync(),
        }
    }
}

impl<'a> Iterator for Reader<'a> {
    type Item = Result<Event<'a>, Damage>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_event()
    }
}
