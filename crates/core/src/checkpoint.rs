//! A run's state at an input-file boundary, as bytes, so that a killed run can go on from
//! there and give exactly the flows of an uninterrupted one: the reports of the files
//! read, the open flows with their per-packet entries, the fragment table and the clock.
//! The byte layout is `formats/checkpoint.md`.
//!
//! The codec is written out by hand: the state is a handful of plain structs, and a
//! fixed little-endian layout read back with bounds checks is smaller than a
//! serialisation framework and never depends on its versioning.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use crate::capture::input::InputSet;
use crate::capture::{Damage, DamageKind, Format};
use crate::flow::key::FlowKey;
use crate::flow::record::{DirectionCounters, EndReason, Flow, PacketEntry};
use crate::scan::{DamagedStretch, FileReport, SizeChange};
use crate::skip::{SkipCounts, SkipReason};

/// First bytes of a state; the digit is the layout version.
pub const MAGIC: &[u8; 8] = b"FMSTATE1";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StateError {
    #[error("not a flowmine run state (magic or layout version differs)")]
    NotAState,
    #[error("run state cut short or corrupt at byte {0}")]
    Corrupt(usize),
    #[error(
        "input {index} is not the one the interrupted run read: it read {} ({then} bytes), this run has {} ({now} bytes)",
        was.display(), is.display()
    )]
    InputsChanged { index: usize, was: PathBuf, then: u64, is: PathBuf, now: u64 },
}

/// Appends fixed-width little-endian fields.
#[derive(Default)]
pub struct Enc(pub Vec<u8>);

impl Enc {
    pub fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    pub fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn bool(&mut self, v: bool) {
        self.u8(u8::from(v));
    }
    pub fn array<const N: usize>(&mut self, v: &[u8; N]) {
        self.0.extend_from_slice(v);
    }
    /// A length (u64) and the bytes.
    pub fn bytes(&mut self, v: &[u8]) {
        self.u64(v.len() as u64);
        self.0.extend_from_slice(v);
    }
    /// 0 for `None`, else 1 and the value.
    pub fn opt_u64(&mut self, v: Option<u64>) {
        match v {
            None => self.u8(0),
            Some(v) => {
                self.u8(1);
                self.u64(v);
            }
        }
    }
}

/// Reads what [`Enc`] wrote; every read is bounds-checked.
pub struct Dec<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Dec<'a> {
    pub fn new(bytes: &'a [u8]) -> Dec<'a> {
        Dec { bytes, pos: 0 }
    }

    pub fn corrupt(&self) -> StateError {
        StateError::Corrupt(self.pos)
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8], StateError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len()).ok_or(self.corrupt())?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], StateError> {
        Ok(self.take(N)?.try_into().expect("N bytes"))
    }
    pub fn u8(&mut self) -> Result<u8, StateError> {
        Ok(self.array::<1>()?[0])
    }
    pub fn u16(&mut self) -> Result<u16, StateError> {
        self.array().map(u16::from_le_bytes)
    }
    pub fn u32(&mut self) -> Result<u32, StateError> {
        self.array().map(u32::from_le_bytes)
    }
    pub fn u64(&mut self) -> Result<u64, StateError> {
        self.array().map(u64::from_le_bytes)
    }
    pub fn i64(&mut self) -> Result<i64, StateError> {
        self.array().map(i64::from_le_bytes)
    }
    pub fn bool(&mut self) -> Result<bool, StateError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(self.corrupt()),
        }
    }
    /// A count of items that each take at least `min_item` bytes: checked against what is
    /// left, so a corrupt count cannot ask for an absurd allocation.
    pub fn count(&mut self, min_item: usize) -> Result<usize, StateError> {
        let n = usize::try_from(self.u64()?).map_err(|_| self.corrupt())?;
        if n.saturating_mul(min_item.max(1)) > self.bytes.len() - self.pos {
            return Err(self.corrupt());
        }
        Ok(n)
    }
    pub fn bytes(&mut self) -> Result<&'a [u8], StateError> {
        let n = self.count(1)?;
        self.take(n)
    }
    pub fn opt_u64(&mut self) -> Result<Option<u64>, StateError> {
        match self.u8()? {
            0 => Ok(None),
            1 => self.u64().map(Some),
            _ => Err(self.corrupt()),
        }
    }
    pub fn is_done(&self) -> bool {
        self.pos == self.bytes.len()
    }
}

/// The start of a state: the magic, then the reports of the files read so far (the flow
/// table's state follows).
pub fn put_header(e: &mut Enc, files: &[FileReport]) {
    e.array(MAGIC);
    e.u64(files.len() as u64);
    for f in files {
        put_file_report(e, f);
    }
}

/// Reads what [`put_header`] wrote and checks it against this run's inputs: they must
/// begin with the files the state has read, unchanged in size.
pub fn get_header(d: &mut Dec, inputs: &InputSet) -> Result<Vec<FileReport>, StateError> {
    if d.take(MAGIC.len()).ok() != Some(&MAGIC[..]) {
        return Err(StateError::NotAState);
    }
    let n = d.count(1)?;
    let mut files = Vec::with_capacity(n);
    for index in 0..n {
        let f = get_file_report(d)?;
        match inputs.files.get(index) {
            Some(input) if input.path == f.path && input.len == f.bytes => files.push(f),
            other => {
                let (is, now) = other.map_or((PathBuf::from("(no such input)"), 0), |i| (i.path.clone(), i.len));
                return Err(StateError::InputsChanged { index, was: f.path, then: f.bytes, is, now });
            }
        }
    }
    Ok(files)
}

pub fn put_flow(e: &mut Enc, f: &Flow) {
    let k = &f.key;
    e.u16(k.vlan);
    e.u8(k.ip_version);
    e.u8(k.protocol);
    e.array(&k.lo_addr);
    e.u16(k.lo_port);
    e.array(&k.hi_addr);
    e.u16(k.hi_port);
    e.bool(f.initiator_is_lo);
    e.i64(f.first_ts_ns);
    e.i64(f.last_ts_ns);
    for c in [&f.fwd, &f.bwd] {
        e.u64(c.packets);
        e.u64(c.bytes);
        e.u64(c.wire_bytes);
        e.bool(c.fin);
    }
    e.u8(f.tunnel);
    e.u32(f.input_index);
    e.u8(f.closed.map_or(0, |r| r as u8 + 1));
    e.u64(f.packets.len() as u64);
    for p in &f.packets {
        e.i64(p.ts_ns);
        e.u32(p.ip_len);
        e.u32(p.l4_payload_len);
        e.u16(p.tcp_window);
        e.u8(p.tcp_flags);
        e.u8(p.dir);
    }
}

/// Reads a flow; its `hash` is left for the table to set.
pub fn get_flow(d: &mut Dec) -> Result<Flow, StateError> {
    let key = FlowKey {
        vlan: d.u16()?,
        ip_version: d.u8()?,
        protocol: d.u8()?,
        lo_addr: d.array()?,
        lo_port: d.u16()?,
        hi_addr: d.array()?,
        hi_port: d.u16()?,
    };
    let initiator_is_lo = d.bool()?;
    let first_ts_ns = d.i64()?;
    let last_ts_ns = d.i64()?;
    let mut counters = [DirectionCounters::default(); 2];
    for c in &mut counters {
        *c = DirectionCounters { packets: d.u64()?, bytes: d.u64()?, wire_bytes: d.u64()?, fin: d.bool()? };
    }
    let tunnel = d.u8()?;
    let input_index = d.u32()?;
    let closed = match d.u8()? {
        0 => None,
        n => Some(*EndReason::ALL.get(usize::from(n) - 1).ok_or(d.corrupt())?),
    };
    let n = d.count(20)?;
    let mut packets = Vec::with_capacity(n);
    for _ in 0..n {
        packets.push(PacketEntry {
            ts_ns: d.i64()?,
            ip_len: d.u32()?,
            l4_payload_len: d.u32()?,
            tcp_window: d.u16()?,
            tcp_flags: d.u8()?,
            dir: d.u8()?,
        });
    }
    let [fwd, bwd] = counters;
    Ok(Flow { key, hash: 0, initiator_is_lo, first_ts_ns, last_ts_ns, fwd, bwd, tunnel, input_index, closed, packets })
}

fn put_damage(e: &mut Enc, d: &Damage) {
    e.u64(d.offset);
    let format_tag = |f: &str| u8::from(f == "pcapng");
    match &d.kind {
        DamageKind::UnknownMagic(m) => {
            e.u8(0);
            e.array(m);
        }
        DamageKind::TruncatedFileHeader { have, need } => {
            e.u8(1);
            e.u64(*have as u64);
            e.u64(*need as u64);
        }
        DamageKind::UnsupportedVersion { format, major, minor } => {
            e.u8(2);
            e.u8(format_tag(format));
            e.u16(*major);
            e.u16(*minor);
        }
        DamageKind::TruncatedRecordHeader { have, need } => {
            e.u8(3);
            e.u64(*have as u64);
            e.u64(*need as u64);
        }
        DamageKind::ImplausibleCaplen { caplen, limit } => {
            e.u8(4);
            e.u32(*caplen);
            e.u32(*limit);
        }
        DamageKind::RecordPastEnd { caplen, available } => {
            e.u8(5);
            e.u32(*caplen);
            e.u64(*available);
        }
        DamageKind::TruncatedBlockHeader { have } => {
            e.u8(6);
            e.u64(*have as u64);
        }
        DamageKind::BadBlockLength { length } => {
            e.u8(7);
            e.u32(*length);
        }
        DamageKind::ShortSectionHeader { length } => {
            e.u8(8);
            e.u32(*length);
        }
        DamageKind::BlockPastEnd { length, available } => {
            e.u8(9);
            e.u32(*length);
            e.u64(*available);
        }
        DamageKind::BlockLengthMismatch { length, trailer } => {
            e.u8(10);
            e.u32(*length);
            e.u32(*trailer);
        }
        DamageKind::BadByteOrderMagic(m) => {
            e.u8(11);
            e.array(m);
        }
    }
}

fn get_damage(d: &mut Dec) -> Result<Damage, StateError> {
    let offset = d.u64()?;
    let usize_of = |v: u64| v as usize;
    let kind = match d.u8()? {
        0 => DamageKind::UnknownMagic(d.array()?),
        1 => DamageKind::TruncatedFileHeader { have: usize_of(d.u64()?), need: usize_of(d.u64()?) },
        2 => DamageKind::UnsupportedVersion {
            format: if d.u8()? == 1 { "pcapng" } else { "pcap" },
            major: d.u16()?,
            minor: d.u16()?,
        },
        3 => DamageKind::TruncatedRecordHeader { have: usize_of(d.u64()?), need: usize_of(d.u64()?) },
        4 => DamageKind::ImplausibleCaplen { caplen: d.u32()?, limit: d.u32()? },
        5 => DamageKind::RecordPastEnd { caplen: d.u32()?, available: d.u64()? },
        6 => DamageKind::TruncatedBlockHeader { have: usize_of(d.u64()?) },
        7 => DamageKind::BadBlockLength { length: d.u32()? },
        8 => DamageKind::ShortSectionHeader { length: d.u32()? },
        9 => DamageKind::BlockPastEnd { length: d.u32()?, available: d.u64()? },
        10 => DamageKind::BlockLengthMismatch { length: d.u32()?, trailer: d.u32()? },
        11 => DamageKind::BadByteOrderMagic(d.array()?),
        _ => return Err(d.corrupt()),
    };
    Ok(Damage { offset, kind })
}

pub fn put_file_report(e: &mut Enc, f: &FileReport) {
    e.bytes(f.path.as_os_str().as_bytes());
    e.u8(match f.format {
        None => 0,
        Some(Format::Pcap) => 1,
        Some(Format::Pcapng) => 2,
    });
    e.u64(f.bytes);
    e.u64(f.packets_total);
    for r in SkipReason::ALL {
        e.u64(f.skipped.get(r));
    }
    e.u64(f.flows);
    match &f.damage {
        None => e.u8(0),
        Some(d) => {
            e.u8(1);
            put_damage(e, d);
        }
    }
    e.u64(f.damaged_stretches.len() as u64);
    for s in &f.damaged_stretches {
        e.u64(s.offset);
        e.opt_u64(s.resumed_at);
    }
    e.u64(f.skipped_bytes);
    match f.unsupported_link_type {
        None => e.u8(0),
        Some((link_type, offset)) => {
            e.u8(1);
            e.u16(link_type);
            e.u64(offset);
        }
    }
    for offset in f.first_skip_offset {
        e.opt_u64(offset);
    }
    match f.size_changed {
        None => e.u8(0),
        Some(c) => {
            e.u8(1);
            e.u64(c.listed);
            e.u64(c.read);
            e.opt_u64(c.after);
        }
    }
}

pub fn get_file_report(d: &mut Dec) -> Result<FileReport, StateError> {
    let path = PathBuf::from(OsStr::from_bytes(d.bytes()?));
    let format = match d.u8()? {
        0 => None,
        1 => Some(Format::Pcap),
        2 => Some(Format::Pcapng),
        _ => return Err(d.corrupt()),
    };
    let bytes = d.u64()?;
    let packets_total = d.u64()?;
    let mut skipped = SkipCounts::default();
    for r in SkipReason::ALL {
        skipped.add_n(r, d.u64()?);
    }
    let flows = d.u64()?;
    let damage = match d.u8()? {
        0 => None,
        1 => Some(get_damage(d)?),
        _ => return Err(d.corrupt()),
    };
    let n = d.count(9)?;
    let mut damaged_stretches = Vec::with_capacity(n);
    for _ in 0..n {
        damaged_stretches.push(DamagedStretch { offset: d.u64()?, resumed_at: d.opt_u64()? });
    }
    let skipped_bytes = d.u64()?;
    let unsupported_link_type = match d.u8()? {
        0 => None,
        1 => Some((d.u16()?, d.u64()?)),
        _ => return Err(d.corrupt()),
    };
    let mut first_skip_offset = [None; SkipReason::ALL.len()];
    for offset in &mut first_skip_offset {
        *offset = d.opt_u64()?;
    }
    let size_changed = match d.u8()? {
        0 => None,
        1 => Some(SizeChange { listed: d.u64()?, read: d.u64()?, after: d.opt_u64()? }),
        _ => return Err(d.corrupt()),
    };
    Ok(FileReport {
        path,
        format,
        bytes,
        packets_total,
        skipped,
        flows,
        damage,
        damaged_stretches,
        skipped_bytes,
        unsupported_link_type,
        first_skip_offset,
        size_changed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flow_survives_the_round_trip() {
        let key = FlowKey {
            vlan: 7,
            ip_version: 6,
            protocol: 17,
            lo_addr: [1; 16],
            lo_port: 53,
            hi_addr: [2; 16],
            hi_port: 40000,
        };
        let mut flow = Flow::new(key, false, -5, 3, 9);
        flow.hash = 0;
        flow.last_ts_ns = 77;
        flow.fwd = DirectionCounters { packets: 2, bytes: 300, wire_bytes: 328, fin: true };
        flow.closed = Some(EndReason::TcpRst);
        flow.packets = vec![
            PacketEntry { ts_ns: -5, ip_len: 100, l4_payload_len: 60, tcp_window: 9, tcp_flags: 0x12, dir: 0 },
            PacketEntry { ts_ns: 77, ip_len: 200, l4_payload_len: 0, tcp_window: 1, tcp_flags: 0x04, dir: 1 },
        ];
        let mut e = Enc::default();
        put_flow(&mut e, &flow);
        let mut d = Dec::new(&e.0);
        assert_eq!(get_flow(&mut d).unwrap(), flow);
        assert!(d.is_done());
        // Cut anywhere, it is an error, never a panic.
        for cut in 0..e.0.len() {
            assert!(get_flow(&mut Dec::new(&e.0[..cut])).is_err());
        }
    }

    #[test]
    fn a_file_report_survives_the_round_trip() {
        let mut skipped = SkipCounts::default();
        skipped.add_n(SkipReason::CorruptRecord, 2);
        let report = FileReport {
            path: PathBuf::from(OsStr::from_bytes(b"dump/\xff name.pcap")),
            format: Some(Format::Pcapng),
            bytes: 1000,
            packets_total: 12,
            skipped,
            flows: 3,
            damage: Some(Damage { offset: 64, kind: DamageKind::BlockLengthMismatch { length: 32, trailer: 33 } }),
            damaged_stretches: vec![
                DamagedStretch { offset: 64, resumed_at: Some(96) },
                DamagedStretch { offset: 500, resumed_at: None },
            ],
            skipped_bytes: 532,
            unsupported_link_type: Some((239, 128)),
            first_skip_offset: [None, Some(64), None, None, None, None, Some(9)],
            size_changed: Some(SizeChange { listed: 900, read: 1000, after: None }),
        };
        let mut e = Enc::default();
        put_file_report(&mut e, &report);
        let mut d = Dec::new(&e.0);
        assert_eq!(get_file_report(&mut d).unwrap(), report);
        assert!(d.is_done());
    }
}
