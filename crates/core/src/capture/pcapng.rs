//! pcapng files (draft-ietf-opsawg-pcapng): sections with their own byte order,
//! interfaces with their own link type and timestamp resolution, and the three packet
//! blocks (EPB, SPB, the obsolete PB). Every other block is stepped over.

use super::endian::Endian;
use super::record::{Damage, DamageKind, Event, Record};
use crate::skip::SkipReason;

pub const SHB_TYPE: u32 = 0x0a0d_0d0a;
pub const IDB_TYPE: u32 = 0x0000_0001;
pub const PB_TYPE: u32 = 0x0000_0002;
pub const SPB_TYPE: u32 = 0x0000_0003;
pub const EPB_TYPE: u32 = 0x0000_0006;
pub const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;
/// Byte-order magic, major and minor version, section length.
const SHB_FIXED_LEN: usize = 16;

const OPT_END: u16 = 0;
const OPT_IF_TSRESOL: u16 = 9;
const OPT_IF_TSOFFSET: u16 = 14;

/// One Interface Description Block's facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interface {
    pub link_type: u16,
    pub snaplen: u32,
    /// Timestamp units per second (from `if_tsresol`; 10^6 by default).
    pub units_per_sec: u128,
    /// Seconds added to every timestamp (`if_tsoffset`).
    pub offset_sec: i64,
}

impl Interface {
    /// Converts a raw 64-bit timestamp to nanoseconds since the epoch.
    pub fn ts_ns(&self, raw: u64) -> Option<i64> {
        let ns = u128::from(raw) * 1_000_000_000 / self.units_per_sec;
        i64::try_from(ns).ok()?.checked_add(self.offset_sec.checked_mul(1_000_000_000)?)
    }
}

/// Walks the blocks of a pcapng file.
#[derive(Clone)]
pub struct PcapngReader<'a> {
    bytes: &'a [u8],
    pos: usize,
    endian: Endian,
    interfaces: Vec<Interface>,
    /// Simple Packet Blocks carry no timestamp: they take the last one seen in the file
    /// (0 before any). A new section does not reset it: 1970 in the middle of a capture
    /// would tear the timing of the flow the packet joins apart.
    last_ts_ns: i64,
    /// Where the last damage struck, while reading is stopped by it.
    damaged_at: Option<usize>,
}

impl<'a> PcapngReader<'a> {
    pub fn new(bytes: &'a [u8]) -> Result<Self, Damage> {
        let mut r = PcapngReader {
            bytes,
            pos: 0,
            endian: Endian::Little,
            interfaces: Vec::new(),
            last_ts_ns: 0,
            damaged_at: None,
        };
        // The first block is the section header (`Format::detect` saw its type); a bad
        // one fails the file before any packet is handed out.
        r.next_block()?;
        Ok(r)
    }

    /// Byte offset of the next block.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Whether `other`, a reader of the same file, stands where this one does knowing
    /// the same section (byte order, interfaces, the time an SPB would take): reading on
    /// from either gives the same events.
    pub fn same_state(&self, other: &PcapngReader) -> bool {
        std::ptr::eq(self.bytes, other.bytes)
            && (self.pos, self.endian, &self.interfaces, self.last_ts_ns, self.damaged_at)
                == (other.pos, other.endian, &other.interfaces, other.last_ts_ns, other.damaged_at)
    }

    /// Interfaces of the current section.
    pub fn interfaces(&self) -> &[Interface] {
        &self.interfaces
    }

    /// The next packet or skip; `None` at the end; `Some(Err)` once, on damage, then `None`.
    pub fn next_event(&mut self) -> Option<Result<Event<'a>, Damage>> {
        while self.damaged_at.is_none() && self.pos < self.bytes.len() {
            match self.next_block() {
                Ok(Some(event)) => return Some(Ok(event)),
                Ok(None) => {}
                Err(d) => {
                    self.damaged_at = Some(d.offset as usize);
                    return Some(Err(d));
                }
            }
        }
        None
    }

    /// Where the last damage struck, while reading is stopped by it.
    pub fn damaged_at(&self) -> Option<usize> {
        self.damaged_at
    }

    /// The byte order of the current section.
    pub fn endian(&self) -> Endian {
        self.endian
    }

    /// The whole file.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// After damage: goes on reading from `at`, a block boundary past it (found by
    /// [`resync::pcapng_reader`](super::resync::pcapng_reader)). The section's interfaces
    /// stay: packet blocks after the damage still refer to them.
    pub fn resume_at(&mut self, at: usize) {
        self.pos = at;
        self.damaged_at = None;
    }

    /// Reads one block; returns the event it yields, if any.
    fn next_block(&mut self) -> Result<Option<Event<'a>>, Damage> {
        let offset = self.pos;
        let rest = &self.bytes[offset..];
        let damage = |kind| Damage { offset: offset as u64, kind };
        if rest.len() < 12 {
            return Err(damage(DamageKind::TruncatedBlockHeader { have: rest.len() }));
        }
        let word = |at: usize| -> [u8; 4] { rest[at..at + 4].try_into().expect("4 bytes") };
        let raw_type = word(0);
        if u32::from_le_bytes(raw_type) == SHB_TYPE {
            // A new section: its byte-order magic sets the order of everything in it.
            self.endian = match word(8) {
                m if m == BYTE_ORDER_MAGIC.to_le_bytes() => Endian::Little,
                m if m == BYTE_ORDER_MAGIC.to_be_bytes() => Endian::Big,
                m => return Err(damage(DamageKind::BadByteOrderMagic(m))),
            };
        }
        let e = self.endian;
        let block_type = e.u32(raw_type);
        let length = e.u32(word(4));
        if !length.is_multiple_of(4) || length < 12 {
            return Err(damage(DamageKind::BadBlockLength { length }));
        }
        if length as usize > rest.len() {
            return Err(damage(DamageKind::BlockPastEnd { length, available: rest.len() as u64 }));
        }
        let trailer = e.u32(word(length as usize - 4));
        if trailer != length {
            return Err(damage(DamageKind::BlockLengthMismatch { length, trailer }));
        }
        let body = &rest[8..length as usize - 4];
        self.pos = offset + length as usize;
        let offset = offset as u64;
        match block_type {
            SHB_TYPE => {
                self.read_section_header(body, offset)?;
                Ok(None)
            }
            IDB_TYPE => {
                self.read_interface(body);
                Ok(None)
            }
            EPB_TYPE => Ok(Some(self.enhanced_packet(body, offset)?)),
            PB_TYPE => Ok(Some(self.obsolete_packet(body, offset)?)),
            SPB_TYPE => Ok(Some(self.simple_packet(body, offset))),
            _ => Ok(None),
        }
    }

    fn read_section_header(&mut self, body: &[u8], offset: u64) -> Result<(), Damage> {
        let e = self.endian;
        // Byte-order magic, version and section length are mandatory: a shorter block
        // is broken framing, not a section of some unknown version 0.0.
        let Some(fixed) = body.get(..SHB_FIXED_LEN) else {
            let length = (body.len() + 12) as u32;
            return Err(Damage { offset, kind: DamageKind::ShortSectionHeader { length } });
        };
        let major = e.u16([fixed[4], fixed[5]]);
        let minor = e.u16([fixed[6], fixed[7]]);
        if major != 1 {
            return Err(Damage { offset, kind: DamageKind::UnsupportedVersion { format: "pcapng", major, minor } });
        }
        // Section options (hardware, OS, application) are not needed and not read.
        self.interfaces.clear();
        Ok(())
    }

    fn read_interface(&mut self, body: &[u8]) {
        let e = self.endian;
        let mut iface = Interface { link_type: 0, snaplen: 0, units_per_sec: 1_000_000, offset_sec: 0 };
        if body.len() >= 8 {
            iface.link_type = e.u16([body[0], body[1]]);
            iface.snaplen = e.u32(body[4..8].try_into().expect("4 bytes"));
        }
        // Options that overrun the block are ignored from that point on: the interface
        // is still usable with the defaults.
        let mut opts = body.get(8..).unwrap_or(&[]);
        while opts.len() >= 4 {
            let code = e.u16([opts[0], opts[1]]);
            let len = usize::from(e.u16([opts[2], opts[3]]));
            let Some(value) = opts.get(4..4 + len) else { break };
            match (code, value) {
                (OPT_END, _) => break,
                (OPT_IF_TSRESOL, [r]) => {
                    let exp = u32::from(r & 0x7f);
                    let units = if r & 0x80 != 0 { 2u128.checked_pow(exp) } else { 10u128.checked_pow(exp) };
                    if let Some(units) = units.filter(|&u| u > 0) {
                        iface.units_per_sec = units;
                    }
                }
                (OPT_IF_TSOFFSET, v) if v.len() == 8 => {
                    iface.offset_sec = e.u64(v.try_into().expect("8 bytes")) as i64;
                }
                _ => {}
            }
            let padded = (4 + len + 3) & !3;
            opts = opts.get(padded..).unwrap_or(&[]);
        }
        self.interfaces.push(iface);
    }

    /// EPB body: interface id, ts high, ts low, caplen, orig_len, data.
    fn enhanced_packet(&mut self, body: &'a [u8], offset: u64) -> Result<Event<'a>, Damage> {
        let e = self.endian;
        let Some(fixed) = body.get(..20) else {
            return Ok(Event::Skipped { reason: SkipReason::CorruptRecord, offset });
        };
        let field = |at: usize| e.u32(fixed[at..at + 4].try_into().expect("4 bytes"));
        let ts_raw = (u64::from(field(4)) << 32) | u64::from(field(8));
        self.packet(field(0), ts_raw, field(12), field(16), &body[20..], offset)
    }

    /// Obsolete Packet Block body: interface id u16, drops u16, ts high, ts low, caplen, len.
    fn obsolete_packet(&mut self, body: &'a [u8], offset: u64) -> Result<Event<'a>, Damage> {
        let e = self.endian;
        let Some(fixed) = body.get(..20) else {
            return Ok(Event::Skipped { reason: SkipReason::CorruptRecord, offset });
        };
        let field = |at: usize| e.u32(fixed[at..at + 4].try_into().expect("4 bytes"));
        let iface = u32::from(e.u16([fixed[0], fixed[1]]));
        let ts_raw = (u64::from(field(4)) << 32) | u64::from(field(8));
        self.packet(iface, ts_raw, field(12), field(16), &body[20..], offset)
    }

    fn packet(
        &mut self,
        iface: u32,
        ts_raw: u64,
        caplen: u32,
        orig_len: u32,
        data: &'a [u8],
        offset: u64,
    ) -> Result<Event<'a>, Damage> {
        let Some(interface) = self.interfaces.get(iface as usize) else {
            return Ok(Event::Skipped { reason: SkipReason::UnknownInterface, offset });
        };
        let Some(data) = data.get(..caplen as usize) else {
            // The block framing is intact, so the reader can go on after it.
            return Ok(Event::Skipped { reason: SkipReason::CorruptRecord, offset });
        };
        let Some(ts_ns) = interface.ts_ns(ts_raw) else {
            // The framing is fine, only the time is impossible: skip the packet, read on.
            return Ok(Event::Skipped { reason: SkipReason::BadTimestamp, offset });
        };
        self.last_ts_ns = ts_ns;
        Ok(Event::Packet(Record { ts_ns, orig_len, link_type: interface.link_type, data, offset }))
    }

    /// SPB body: orig_len, then the packet cut to the interface's snap length.
    fn simple_packet(&mut self, body: &'a [u8], offset: u64) -> Event<'a> {
        let Some(interface) = self.interfaces.first() else {
            return Event::Skipped { reason: SkipReason::UnknownInterface, offset };
        };
        let Some((len, data)) = body.split_first_chunk::<4>() else {
            return Event::Skipped { reason: SkipReason::CorruptRecord, offset };
        };
        let orig_len = self.endian.u32(*len);
        let mut caplen = orig_len as usize;
        if interface.snaplen != 0 {
            caplen = caplen.min(interface.snaplen as usize);
        }
        // The block must hold the bytes its lengths promise (as libpcap requires); a
        // shorter one is a damaged record, as for an EPB whose caplen overruns it.
        let Some(data) = data.get(..caplen) else {
            return Event::Skipped { reason: SkipReason::CorruptRecord, offset };
        };
        Event::Packet(Record { ts_ns: self.last_ts_ns, orig_len, link_type: interface.link_type, data, offset })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::Reader;

    /// A little-endian block: type, total length, body (padded to 4), trailer.
    fn block(block_type: u32, body: &[u8]) -> Vec<u8> {
        let padded = body.len().next_multiple_of(4);
        let length = (padded + 12) as u32;
        let mut b = Vec::with_capacity(length as usize);
        b.extend_from_slice(&block_type.to_le_bytes());
        b.extend_from_slice(&length.to_le_bytes());
        b.extend_from_slice(body);
        b.resize(8 + padded, 0);
        b.extend_from_slice(&length.to_le_bytes());
        b
    }

    /// Section header (1.0, unknown section length) and one Ethernet interface.
    fn section(snaplen: u32) -> Vec<u8> {
        let shb = [0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        let mut f = block(SHB_TYPE, &shb);
        let mut idb = vec![1, 0, 0, 0];
        idb.extend_from_slice(&snaplen.to_le_bytes());
        f.extend(block(IDB_TYPE, &idb));
        f
    }

    fn events(bytes: &[u8]) -> Vec<Result<Event<'_>, Damage>> {
        Reader::new(bytes).unwrap().collect()
    }

    #[test]
    fn simple_packet_takes_the_snap_length() {
        let mut f = section(4);
        f.extend(block(SPB_TYPE, &[60, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef]));
        let [Ok(Event::Packet(rec))] = events(&f)[..] else { panic!("{:?}", events(&f)) };
        assert_eq!((rec.orig_len, rec.data, rec.offset), (60, &[0xde, 0xad, 0xbe, 0xef][..], 48));
    }

    #[test]
    fn simple_packet_keeps_the_time_across_sections() {
        // As in test202.pcapng: an EPB at 1 s, then a new section that opens with an SPB.
        let mut f = section(0);
        let mut epb = vec![0, 0, 0, 0, 0, 0, 0, 0, 0x40, 0x42, 0x0f, 0, 1, 0, 0, 0, 1, 0, 0, 0];
        epb.push(0x45);
        f.extend(block(EPB_TYPE, &epb));
        f.extend(section(0));
        f.extend(block(SPB_TYPE, &[1, 0, 0, 0, 0x45]));
        let times: Vec<i64> = events(&f)
            .into_iter()
            .map(|e| match e {
                Ok(Event::Packet(rec)) => rec.ts_ns,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(times, [1_000_000_000, 1_000_000_000]);
    }

    #[test]
    fn simple_packet_without_its_bytes_is_a_corrupt_record() {
        // The interface exists, so "unknown interface" would name the wrong fault.
        let mut f = section(0);
        f.extend(block(SPB_TYPE, &[]));
        f.extend(block(SPB_TYPE, &[60, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef]));
        let skipped = |offset| Ok(Event::Skipped { reason: SkipReason::CorruptRecord, offset });
        assert_eq!(events(&f), [skipped(48), skipped(60)]);
    }

    #[test]
    fn simple_packet_before_any_interface_is_unknown_interface() {
        let mut f = section(0);
        f.truncate(28);
        f.extend(block(SPB_TYPE, &[4, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef]));
        assert_eq!(events(&f), [Ok(Event::Skipped { reason: SkipReason::UnknownInterface, offset: 28 })]);
    }

    #[test]
    fn section_header_too_short_for_its_fields_is_bad_framing() {
        let mut f = section(0);
        f.extend(block(SHB_TYPE, &[0x4d, 0x3c, 0x2b, 0x1a]));
        assert_eq!(events(&f), [Err(Damage { offset: 48, kind: DamageKind::ShortSectionHeader { length: 16 } })]);
        let Err(d) = Reader::new(&block(SHB_TYPE, &[0x4d, 0x3c, 0x2b, 0x1a, 1, 0])) else { panic!() };
        assert_eq!(d, Damage { offset: 0, kind: DamageKind::ShortSectionHeader { length: 20 } });
        assert_eq!(
            d.to_string(),
            "offset 0: section header block of 20 bytes is too short for its fields (at least 28)"
        );
    }
}
