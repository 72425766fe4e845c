//! Capture files: format detection, record walking, and the ordered set of inputs.
//!
//! Readers work on a byte slice (the memory map of a file), hand out records that borrow
//! from it, and know nothing of protocols beyond the link-type number they pass on.

pub mod endian;
pub mod input;
pub mod pcap;
pub mod pcapng;
pub mod record;
pub mod resync;
pub mod writer;

pub use record::{Damage, DamageKind, Event, Record};

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

/// A reader over one capture in memory, whatever its format.
#[derive(Clone)]
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

    /// Whether `other`, a reader of the same file, stands where this one does knowing the
    /// same (for pcapng, the section's byte order, interfaces and last time): reading on
    /// from either gives the same events.
    pub fn same_state(&self, other: &Reader) -> bool {
        match (self, other) {
            (Reader::Pcap(a), Reader::Pcap(b)) => a.same_state(b),
            (Reader::Pcapng(a), Reader::Pcapng(b)) => a.same_state(b),
            _ => false,
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
            Reader::Pcap(r) => resync::pcap_reader(r),
            Reader::Pcapng(r) => resync::pcapng_reader(r),
        }
    }
}

impl<'a> Iterator for Reader<'a> {
    type Item = Result<Event<'a>, Damage>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_event()
    }
}
