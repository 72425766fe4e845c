//! pcapng files (draft-ietf-opsawg-pcapng): sections with their own byte order,
//! interfaces with their own link type and timestamp resolution, and the three packet
//! blocks (EPB, SPB, the obsolete PB). Every other block is stepped over.

use super::endian::Endian;
use super::{Damage, DamageKind, Event, Record};
use crate::skip::SkipReason;

pub const SHB_TYPE: u32 = 0x0a0d_0d0a;
pub const IDB_TYPE: u32 = 0x0000_0001;
pub const PB_TYPE: u32 = 0x0000_0002;
pub const SPB_TYPE: u32 = 0x0000_0003;
pub const EPB_TYPE: u32 = 0x0000_0006;
const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;

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
pub struct PcapngReader<'a> {
    bytes: &'a [u8],
    pos: usize,
    endian: Endian,
    interfaces: Vec<Interface>,
    /// Simple Packet Blocks carry no timestamp: they take the last one seen in the section.
    last_ts_ns: i64,
    done: bool,
}

impl<'a> PcapngReader<'a> {
    pub fn new(bytes: &'a [u8]) -> Result<Self, Damage> {
        let mut r = PcapngReader {
            bytes,
            pos: 0,
            endian: Endian::Little,
            interfaces: Vec::new(),
            last_ts_ns: 0,
            done: false,
        };
        // The first block is the section header (`Format::detect` saw its type); a bad
        // one fails the file before any packet is handed out.
        r.next_block()?;
        Ok(r)
    }

    /// Interfaces of the current section.
    pub fn interfaces(&self) -> &[Interface] {
        &self.interfaces
    }

    /// The next packet or skip; `None` at the end; `Some(Err)` once, on damage, then `None`.
    pub fn next_event(&mut self) -> Option<Result<Event<'a>, Damage>> {
        while !self.done && self.pos < self.bytes.len() {
            match self.next_block() {
                Ok(Some(event)) => return Some(Ok(event)),
                Ok(None) => {}
                Err(d) => {
                    self.done = true;
                    return Some(Err(d));
                }
            }
        }
        None
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
        let major = body.get(4..6).map_or(0, |b| e.u16(b.try_into().expect("2 bytes")));
        let minor = body.get(6..8).map_or(0, |b| e.u16(b.try_into().expect("2 bytes")));
        if major != 1 {
            return Err(Damage {
                offset,
                kind: DamageKind::UnsupportedVersion { format: "pcapng", major, minor },
            });
        }
        // Section options (hardware, OS, application) are not needed and not read.
        self.interfaces.clear();
        self.last_ts_ns = 0;
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
        let (Some(interface), Some(len)) = (self.interfaces.first(), body.get(..4)) else {
            return Event::Skipped { reason: SkipReason::UnknownInterface, offset };
        };
        let orig_len = self.endian.u32(len.try_into().expect("4 bytes"));
        let mut caplen = orig_len as usize;
        if interface.snaplen != 0 {
            caplen = caplen.min(interface.snaplen as usize);
        }
        let data = &body[4..];
        let data = &data[..caplen.min(data.len())];
        Event::Packet(Record { ts_ns: self.last_ts_ns, orig_len, link_type: interface.link_type, data, offset })
    }
}
