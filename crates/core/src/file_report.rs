//! What happened to one input file: its packets, skips and damage, as a run reports them
//! and as a checkpoint keeps them.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use crate::Error;
use crate::capture::{Damage, Format};
use crate::codec::{Dec, Enc};
use crate::skip::{SkipCounts, SkipReason};

/// What happened to one input file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileReport {
    pub path: PathBuf,
    pub format: Option<Format>,
    pub bytes: u64,
    pub packets_total: u64,
    pub skipped: SkipCounts,
    /// Flows whose first packet is in this file.
    pub flows: u64,
    /// The first damage in this file, if any; packets before it count. Reading goes on
    /// after a damaged stretch where a plausible chain of records follows
    /// ([`damaged_stretches`](Self::damaged_stretches)).
    pub damage: Option<Damage>,
    /// Every stretch of the file that could not be framed, in file order.
    pub damaged_stretches: Vec<DamagedStretch>,
    /// Bytes passed over because they could not be framed (a damaged file header loses
    /// the whole file).
    pub skipped_bytes: u64,
    /// The first packet whose link type the decoder does not read: (link type, offset).
    pub unsupported_link_type: Option<(u16, u64)>,
    /// Where each skip reason first struck (record offset), by `SkipReason as usize`.
    pub first_skip_offset: [Option<u64>; SkipReason::ALL.len()],
    /// Set when the file's size was not the same when listed, when read and after: a
    /// capture appliance was still writing it (only the bytes read were used).
    pub size_changed: Option<SizeChange>,
}

/// A file's size when the inputs were listed, when it was opened (the bytes read), and
/// after it was read (`None`: it could no longer be looked at).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeChange {
    pub listed: u64,
    pub read: u64,
    pub after: Option<u64>,
}

/// Bytes of a file that could not be framed: from the damage to where a plausible chain
/// of records starts again, or to the end of the file. Each counts as one corrupt record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DamagedStretch {
    pub offset: u64,
    /// Where reading went on, if it could.
    pub resumed_at: Option<u64>,
}

impl FileReport {
    /// Writes the report (layout in `formats/checkpoint.md`).
    pub fn save(&self, e: &mut Enc) {
        e.bytes(self.path.as_os_str().as_bytes());
        e.u8(match self.format {
            None => 0,
            Some(Format::Pcap) => 1,
            Some(Format::Pcapng) => 2,
        });
        e.u64(self.bytes);
        e.u64(self.packets_total);
        for r in SkipReason::ALL {
            e.u64(self.skipped.get(r));
        }
        e.u64(self.flows);
        match &self.damage {
            None => e.u8(0),
            Some(d) => {
                e.u8(1);
                d.save(e);
            }
        }
        e.u64(self.damaged_stretches.len() as u64);
        for s in &self.damaged_stretches {
            e.u64(s.offset);
            e.opt_u64(s.resumed_at);
        }
        e.u64(self.skipped_bytes);
        match self.unsupported_link_type {
            None => e.u8(0),
            Some((link_type, offset)) => {
                e.u8(1);
                e.u16(link_type);
                e.u64(offset);
            }
        }
        for offset in self.first_skip_offset {
            e.opt_u64(offset);
        }
        match self.size_changed {
            None => e.u8(0),
            Some(c) => {
                e.u8(1);
                e.u64(c.listed);
                e.u64(c.read);
                e.opt_u64(c.after);
            }
        }
    }

    /// Reads what [`save`](Self::save) wrote.
    pub fn load(d: &mut Dec) -> Result<FileReport, Error> {
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
            1 => Some(Damage::load(d)?),
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

    /// Records a skipped packet at `offset`.
    pub(crate) fn skip(&mut self, reason: SkipReason, offset: u64) {
        self.skipped.add(reason);
        self.first_skip_offset[reason as usize].get_or_insert(offset);
    }

    /// Skip reasons that mean damaged records (not a property of the traffic, such as
    /// non-IP frames or a short snap length), with their count and first offset. Damaged
    /// stretches are left out: they are reported as damage.
    pub fn damaged_records(&self) -> impl Iterator<Item = (SkipReason, u64, u64)> + '_ {
        let stopped = self.damaged_stretches.len() as u64;
        [SkipReason::CorruptRecord, SkipReason::UnknownInterface, SkipReason::BadTimestamp].into_iter().filter_map(
            move |r| {
                // (A damaged file header counts no record, hence the saturation.)
                let n = self.skipped.get(r).saturating_sub(if r == SkipReason::CorruptRecord { stopped } else { 0 });
                (n > 0).then(|| (r, n, self.first_skip_offset[r as usize].unwrap_or(0)))
            },
        )
    }

    /// Whether some of the file could not be used: damage, damaged records, or frames of
    /// a link type the decoder does not read.
    pub fn has_unusable_input(&self) -> bool {
        self.damage.is_some()
            || self.unsupported_link_type.is_some()
            || self.damaged_records().next().is_some()
            || self.size_changed.is_some()
    }

    /// What made input unusable, as (offset, what), one entry per kind of problem: the
    /// damage that stopped the file, each damaged-record reason (first offset), and an
    /// unsupported link type (first offset). Empty when the file was fully usable.
    pub fn problems(&self) -> Vec<(u64, String)> {
        let plural = |n: u64| if n == 1 { "" } else { "s" };
        let mut problems: Vec<(u64, String)> = Vec::new();
        if let Some(d) = &self.damage {
            let what = match self.damaged_stretches.first().and_then(|s| s.resumed_at) {
                Some(at) => format!("{}; read on from offset {at} ({} bytes skipped)", d.kind, at - d.offset),
                None => d.kind.to_string(),
            };
            problems.push((d.offset, what));
        }
        if let [_, later @ ..] = &self.damaged_stretches[..]
            && let Some(next) = later.first()
        {
            let n = later.len() as u64;
            problems.push((
                next.offset,
                format!(
                    "{n} more damaged stretch{} ({} bytes skipped in the file in all)",
                    if n == 1 { "" } else { "es" },
                    self.skipped_bytes
                ),
            ));
        }
        for (reason, n, offset) in self.damaged_records() {
            problems.push((offset, format!("{n} damaged record{} skipped ({})", plural(n), reason.name())));
        }
        if let Some((link_type, offset)) = self.unsupported_link_type {
            let n = self.skipped.get(SkipReason::UnsupportedLinkType);
            problems
                .push((offset, format!("link type {link_type} is not supported ({n} packet{} skipped)", plural(n))));
        }
        if let Some(SizeChange { listed, read, after }) = self.size_changed {
            let after = after.map_or("cannot be looked at".to_owned(), |n| format!("{n} bytes"));
            problems.push((
                read,
                format!(
                    "the file changed while it was read ({listed} bytes when listed, {read} read, {after} now): \
                     only the bytes read were used; read it again once it is complete"
                ),
            ));
        }
        problems
    }

    /// The earliest of [`problems`](Self::problems) in the file.
    pub fn first_problem(&self) -> Option<(u64, String)> {
        self.problems().into_iter().min_by_key(|(offset, _)| *offset)
    }

    pub fn packets_in_flows(&self) -> u64 {
        self.packets_total - self.skipped.total()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::DamageKind;

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
        report.save(&mut e);
        let mut d = Dec::new(&e.0);
        assert_eq!(FileReport::load(&mut d).unwrap(), report);
        assert!(d.is_done());
    }
}
