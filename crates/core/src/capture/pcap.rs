//! Classic libpcap files: µs and ns magics in either byte order, and the "modified"
//! (Kuznetzov) variant whose record headers carry 8 extra bytes.
//!
//! Layout (all fields in the byte order the magic reveals):
//! file header: magic u32, version major u16, minor u16, thiszone i32, sigfigs u32,
//! snaplen u32, linktype u32 (low 16 bits: link type; upper bits: FCS info, ignored);
//! then records: ts_sec u32, ts_frac u32 (µs or ns), caplen u32, orig_len u32, data.

use zerocopy::{FromBytes, Immutable, KnownLayout, Unaligned};

use super::endian::Endian;
use super::record::{Damage, DamageKind, Event, Record};

pub const FILE_HEADER_LEN: usize = 24;

/// The largest captured length believed: libpcap's own ceiling is 256 KiB for most link
/// types, but jumbo and TSO frames exceed that; past 256 MiB a length is surely garbage.
pub const MAX_CAPLEN: u32 = 256 << 20;

/// The magic's flavour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Micro,
    Nano,
    /// Kuznetzov's patched libpcap: µs timestamps, 24-byte record headers.
    Modified,
}

impl Variant {
    const MAGICS: [(u32, Variant); 3] =
        [(0xa1b2_c3d4, Variant::Micro), (0xa1b2_3c4d, Variant::Nano), (0xa1b2_cd34, Variant::Modified)];

    /// Reads the magic; returns the variant and the file's byte order.
    pub fn from_magic(magic: [u8; 4]) -> Option<(Variant, Endian)> {
        Self::MAGICS.iter().find_map(|&(m, v)| {
            if magic == m.to_le_bytes() {
                Some((v, Endian::Little))
            } else if magic == m.to_be_bytes() {
                Some((v, Endian::Big))
            } else {
                None
            }
        })
    }

    fn record_header_len(self) -> usize {
        match self {
            Variant::Modified => 24,
            _ => 16,
        }
    }

    fn ns_per_frac(self) -> i64 {
        match self {
            Variant::Nano => 1,
            _ => 1_000,
        }
    }
}

#[derive(FromBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
struct FileHeader {
    magic: [u8; 4],
    version_major: [u8; 2],
    version_minor: [u8; 2],
    thiszone: [u8; 4],
    sigfigs: [u8; 4],
    snaplen: [u8; 4],
    linktype: [u8; 4],
}

#[derive(FromBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
struct RecordHeader {
    ts_sec: [u8; 4],
    ts_frac: [u8; 4],
    caplen: [u8; 4],
    orig_len: [u8; 4],
}

/// What the file header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PcapInfo {
    pub variant: Variant,
    pub endian: Endian,
    pub version: (u16, u16),
    pub snaplen: u32,
    pub link_type: u16,
}

impl PcapInfo {
    pub fn parse(bytes: &[u8]) -> Result<PcapInfo, Damage> {
        let truncated =
            || Damage { offset: 0, kind: DamageKind::TruncatedFileHeader { have: bytes.len(), need: FILE_HEADER_LEN } };
        let (h, _) = FileHeader::ref_from_prefix(bytes).map_err(|_| truncated())?;
        let (variant, endian) =
            Variant::from_magic(h.magic).ok_or(Damage { offset: 0, kind: DamageKind::UnknownMagic(h.magic) })?;
        let version = (endian.u16(h.version_major), endian.u16(h.version_minor));
        // libpcap reads major version 2 only; 1.x files predate the current record layout.
        if version.0 != 2 {
            return Err(Damage {
                offset: 4,
                kind: DamageKind::UnsupportedVersion { format: "pcap", major: version.0, minor: version.1 },
            });
        }
        Ok(PcapInfo {
            variant,
            endian,
            version,
            snaplen: endian.u32(h.snaplen),
            link_type: endian.u32(h.linktype) as u16,
        })
    }

    /// The two length fields of a record header traded places at version 2.3, and some
    /// writers stamped 2.3 on files still in the old order. libpcap and Wireshark agree on
    /// the reading: before 2.3 the fields are always swapped; at 2.3 they are swapped when
    /// the first exceeds the second (nothing can capture more than was on the wire).
    /// Reading them any other way frames an old file differently from every other tool.
    fn length_order(&self) -> LengthOrder {
        match self.version.1 {
            0..=2 => LengthOrder::Swapped,
            3 => LengthOrder::MaybeSwapped,
            _ => LengthOrder::AsWritten,
        }
    }
}

/// How the captured and original lengths sit in a record header (see
/// [`PcapInfo::length_order`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LengthOrder {
    AsWritten,
    Swapped,
    MaybeSwapped,
}

/// Walks the records of a classic pcap file.
#[derive(Clone)]
pub struct PcapReader<'a> {
    bytes: &'a [u8],
    pos: usize,
    info: PcapInfo,
    /// The first record's time: the window a resynchronised chain must fall into.
    first_ts_ns: Option<i64>,
    /// Where the last damage struck, while reading is stopped by it.
    damaged_at: Option<usize>,
}

impl<'a> PcapReader<'a> {
    pub fn new(bytes: &'a [u8]) -> Result<Self, Damage> {
        let info = PcapInfo::parse(bytes)?;
        Ok(PcapReader { bytes, pos: FILE_HEADER_LEN, info, first_ts_ns: None, damaged_at: None })
    }

    /// A reader of the file `bytes` whose header says `info`, from the record at `pos` on,
    /// as a reader that came from the start would be there: `first_ts_ns` is the time of
    /// the file's first record read (it bounds where [`resync`](super::resync) looks).
    pub fn at(bytes: &'a [u8], info: PcapInfo, pos: usize, first_ts_ns: Option<i64>) -> Self {
        PcapReader { bytes, pos, info, first_ts_ns, damaged_at: None }
    }

    /// Whether `other`, a reader of the same file, stands where this one does knowing
    /// the same: reading on from either gives the same events.
    pub fn same_state(&self, other: &PcapReader) -> bool {
        std::ptr::eq(self.bytes, other.bytes)
            && (self.pos, self.info, self.first_ts_ns, self.damaged_at)
                == (other.pos, other.info, other.first_ts_ns, other.damaged_at)
    }

    pub fn info(&self) -> &PcapInfo {
        &self.info
    }

    /// Byte offset of the next record.
    pub fn position(&self) -> usize {
        self.pos
    }

    #[inline]
    pub fn next_event(&mut self) -> Option<Result<Event<'a>, Damage>> {
        if self.damaged_at.is_some() || self.pos >= self.bytes.len() {
            return None;
        }
        let result = self.read_record();
        match &result {
            Ok(rec) => {
                self.first_ts_ns.get_or_insert(rec.ts_ns);
            }
            Err(d) => self.damaged_at = Some(d.offset as usize),
        }
        Some(result.map(Event::Packet))
    }

    /// Where the last damage struck, while reading is stopped by it.
    pub fn damaged_at(&self) -> Option<usize> {
        self.damaged_at
    }

    /// The time of the file's first record read, if any.
    pub fn first_ts_ns(&self) -> Option<i64> {
        self.first_ts_ns
    }

    /// The whole file.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// After damage: goes on reading from `at`, a record boundary past it (found by
    /// [`resync::pcap_reader`](super::resync::pcap_reader)).
    pub fn resume_at(&mut self, at: usize) {
        self.pos = at;
        self.damaged_at = None;
    }

    fn read_record(&mut self) -> Result<Record<'a>, Damage> {
        let offset = self.pos;
        let damage = |kind| Damage { offset: offset as u64, kind };
        let header_len = self.info.variant.record_header_len();
        let Some(r) = self.info.record_header(self.bytes, offset) else {
            let have = self.bytes.len() - offset;
            return Err(damage(DamageKind::TruncatedRecordHeader { have, need: header_len }));
        };
        if r.caplen > MAX_CAPLEN {
            return Err(damage(DamageKind::ImplausibleCaplen { caplen: r.caplen, limit: MAX_CAPLEN }));
        }
        let available = self.bytes.len() - offset - header_len;
        if r.caplen as usize > available {
            return Err(damage(DamageKind::RecordPastEnd { caplen: r.caplen, available: available as u64 }));
        }
        let start = offset + header_len;
        let data = &self.bytes[start..start + r.caplen as usize];
        self.pos = start + r.caplen as usize;
        Ok(Record { ts_ns: r.ts_ns, orig_len: r.orig_len, link_type: self.info.link_type, data, offset: offset as u64 })
    }
}

/// What a record header says, read as the file's byte order and version dictate, before
/// any judgement of whether it is sane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeaderFields {
    /// Out-of-range fractions (≥ 1 s) are kept as the file says: they carry into seconds.
    pub ts_ns: i64,
    /// The sub-second field as written (µs or ns).
    pub ts_frac: u32,
    pub caplen: u32,
    pub orig_len: u32,
}

impl PcapInfo {
    /// Length of a record header in this file.
    pub fn record_header_len(&self) -> usize {
        self.variant.record_header_len()
    }

    /// The largest valid sub-second field: 10^6 for µs files, 10^9 for ns files.
    pub fn ts_frac_limit(&self) -> u32 {
        match self.variant {
            Variant::Nano => 1_000_000_000,
            _ => 1_000_000,
        }
    }

    /// Reads the record header at `at`; `None` when the file ends inside it.
    #[inline]
    pub fn record_header(&self, bytes: &[u8], at: usize) -> Option<RecordHeaderFields> {
        let rest = bytes.get(at..at.checked_add(self.record_header_len())?)?;
        let (h, _) = RecordHeader::ref_from_prefix(rest).ok()?;
        let e = self.endian;
        let (first, second) = (e.u32(h.caplen), e.u32(h.orig_len));
        let (caplen, orig_len) = match self.length_order() {
            LengthOrder::Swapped => (second, first),
            LengthOrder::MaybeSwapped if first > second => (second, first),
            _ => (first, second),
        };
        let ts_frac = e.u32(h.ts_frac);
        let ts_ns = i64::from(e.u32(h.ts_sec)) * 1_000_000_000 + i64::from(ts_frac) * self.variant.ns_per_frac();
        Some(RecordHeaderFields { ts_ns, ts_frac, caplen, orig_len })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A little-endian µs file, Ethernet, snaplen 65535, with one 4-byte record.
    pub(crate) fn tiny_pcap() -> Vec<u8> {
        let mut f = vec![
            0xd4, 0xc3, 0xb2, 0xa1, 0x02, 0x00, 0x04, 0x00, // magic, 2.4
            0, 0, 0, 0, 0, 0, 0, 0, // thiszone, sigfigs
            0xff, 0xff, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // snaplen, Ethernet
        ];
        f.extend_from_slice(&[
            0x10, 0x00, 0x00, 0x00, 0x40, 0x42, 0x0f, 0x00, // 16 s + 1_000_000 µs
            0x04, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x00, 0x00, // caplen 4, orig 60
            0xde, 0xad, 0xbe, 0xef,
        ]);
        f
    }

    #[test]
    fn reads_one_record() {
        let f = tiny_pcap();
        let mut r = PcapReader::new(&f).unwrap();
        assert_eq!(r.info().link_type, 1);
        assert_eq!(r.info().snaplen, 65535);
        let Some(Ok(Event::Packet(rec))) = r.next_event() else { panic!() };
        assert_eq!(rec.ts_ns, 17_000_000_000);
        assert_eq!((rec.orig_len, rec.data, rec.offset), (60, &[0xde, 0xad, 0xbe, 0xef][..], 24));
        assert!(r.next_event().is_none());
    }

    #[test]
    fn big_endian_nanosecond() {
        let mut f = vec![0xa1, 0xb2, 0x3c, 0x4d, 0x00, 0x02, 0x00, 0x04];
        f.extend_from_slice(&[0; 8]);
        f.extend_from_slice(&[0, 0, 0, 96, 0, 0, 0, 101]);
        f.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 7, 0, 0, 0, 1, 0, 0, 0, 1, 0x45]);
        let mut r = PcapReader::new(&f).unwrap();
        assert_eq!((r.info().endian, r.info().variant, r.info().link_type), (Endian::Big, Variant::Nano, 101));
        let Some(Ok(Event::Packet(rec))) = r.next_event() else { panic!() };
        assert_eq!(rec.ts_ns, 1_000_000_007);
    }

    #[test]
    fn cut_record_is_damage_at_its_offset() {
        let f = tiny_pcap();
        let cut = &f[..f.len() - 1];
        let mut r = PcapReader::new(cut).unwrap();
        let Some(Err(d)) = r.next_event() else { panic!() };
        assert_eq!(d.offset, 24);
        assert_eq!(d.kind, DamageKind::RecordPastEnd { caplen: 4, available: 3 });
        assert!(r.next_event().is_none());
        let mut r = PcapReader::new(&f[..30]).unwrap();
        let Some(Err(d)) = r.next_event() else { panic!() };
        assert_eq!(d.kind, DamageKind::TruncatedRecordHeader { have: 6, need: 16 });
    }

    #[test]
    fn old_versions_swap_lengths_when_caplen_exceeds_orig_len() {
        let mut f = tiny_pcap();
        f[6] = 0x00; // version 2.0
        f[32..36].copy_from_slice(&60u32.to_le_bytes()); // caplen 60 > orig 4
        f[36..40].copy_from_slice(&4u32.to_le_bytes());
        let mut r = PcapReader::new(&f).unwrap();
        let Some(Ok(Event::Packet(rec))) = r.next_event() else { panic!() };
        assert_eq!((rec.data.len(), rec.orig_len), (4, 60));
    }

    /// A record whose first length field is 2 and second 4, followed by 4 data bytes.
    fn small_first_length(minor: u8) -> Vec<u8> {
        let mut f = tiny_pcap();
        f[6] = minor;
        f[32..36].copy_from_slice(&2u32.to_le_bytes());
        f[36..40].copy_from_slice(&4u32.to_le_bytes());
        f
    }

    #[test]
    fn before_2_3_lengths_are_always_swapped() {
        // libpcap swaps unconditionally here: the record holds 4 captured bytes, and
        // reading only 2 would leave a 2-byte "record header" as damage.
        let f = small_first_length(2);
        let mut r = PcapReader::new(&f).unwrap();
        let Some(Ok(Event::Packet(rec))) = r.next_event() else { panic!() };
        assert_eq!((rec.data.len(), rec.orig_len), (4, 2));
        assert!(r.next_event().is_none());
    }

    #[test]
    fn version_2_3_swaps_only_impossible_lengths() {
        let f = small_first_length(3);
        let mut r = PcapReader::new(&f).unwrap();
        let Some(Ok(Event::Packet(rec))) = r.next_event() else { panic!() };
        assert_eq!((rec.data.len(), rec.orig_len), (2, 4));
        // 60 captured of 4 on the wire cannot be: read as 4 of 60, as libpcap does.
        let mut f = tiny_pcap();
        f[6] = 3;
        f[32..36].copy_from_slice(&60u32.to_le_bytes());
        f[36..40].copy_from_slice(&4u32.to_le_bytes());
        let mut r = PcapReader::new(&f).unwrap();
        let Some(Ok(Event::Packet(rec))) = r.next_event() else { panic!() };
        assert_eq!((rec.data.len(), rec.orig_len), (4, 60));
    }

    #[test]
    fn version_2_4_lengths_are_taken_as_written() {
        let mut f = tiny_pcap();
        f[32..36].copy_from_slice(&60u32.to_le_bytes());
        f[36..40].copy_from_slice(&4u32.to_le_bytes());
        let mut r = PcapReader::new(&f).unwrap();
        let Some(Err(d)) = r.next_event() else { panic!() };
        assert_eq!(d, Damage { offset: 24, kind: DamageKind::RecordPastEnd { caplen: 60, available: 4 } });
    }

    #[test]
    fn version_1_is_refused() {
        let mut f = tiny_pcap();
        f[4] = 1;
        let Err(d) = PcapReader::new(&f) else { panic!() };
        assert!(matches!(d.kind, DamageKind::UnsupportedVersion { major: 1, .. }));
    }
}
