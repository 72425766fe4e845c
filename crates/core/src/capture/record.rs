//! What a capture reader hands out: records that borrow the file's bytes, skips, and the
//! damage that stops the framing of a file.

use std::fmt;

use crate::Error;
use crate::codec::{Dec, Enc};
use crate::skip::SkipReason;

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

impl Damage {
    /// Writes the damage (layout in `formats/checkpoint.md`).
    pub fn save(&self, e: &mut Enc) {
        e.u64(self.offset);
        let format_tag = |f: &str| u8::from(f == "pcapng");
        match &self.kind {
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

    /// Reads what [`save`](Self::save) wrote.
    pub fn load(d: &mut Dec) -> Result<Damage, Error> {
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
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "offset {}: {}", self.offset, self.kind)
    }
}
