//! Per-packet entries of long-lived open flows, moved out of memory: a flow that has
//! collected `FlowConfig::spill_after` entries appends them to its shard's spill file and
//! keeps only (offset, count) handles; the entries come back, in order, when the flow
//! ends or its state is written. Memory then follows the number of open flows, not how
//! many packets the long-lived ones have collected.
//!
//! The file is an unnamed temporary file (removed by the system when the process ends,
//! however it ends). A shard's file is emptied whenever none of its flows holds a segment,
//! so it stays the size of what its open flows spilled.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

use super::record::{EndReason, Flow, PacketEntry};

/// Bytes of one entry in a spill file (the in-memory layout's fields, little-endian).
const ENTRY_BYTES: usize = 20;

/// (byte offset, entries) of one run of spilled entries.
pub type Segment = (u64, u32);

/// A spill file that could not be written or read back: kept by the spill until the run
/// ends, and then the run fails with it as [`Error::Spill`](crate::Error::Spill) (a flow
/// whose spilled entries cannot be read back would be written without them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpillFailure {
    /// The directory of the (unnamed) spill file.
    pub dir: PathBuf,
    pub offset: u64,
    pub what: String,
}

/// One shard's spill file, created on first use.
#[derive(Default)]
pub struct Spill {
    file: Option<File>,
    /// Bytes written.
    len: u64,
    /// Segments held by open flows: at 0 the file is emptied.
    live: u64,
    /// The first I/O error: after it nothing more is spilled (entries stay in memory).
    error: Option<SpillFailure>,
    scratch: Vec<u8>,
}

impl Spill {
    /// Moves `flow`'s in-memory entries to the file. On an error they stay in memory.
    pub fn spill(&mut self, flow: &mut Flow) {
        if self.error.is_some() || flow.packets.is_empty() {
            return;
        }
        let offset = self.len;
        match self.append(&flow.packets) {
            Ok(()) => {
                flow.spilled.push((offset, flow.packets.len() as u32));
                // Its room goes too: a flow that spilled is long-lived, and one idle for
                // minutes would otherwise hold a bound's worth of memory for nothing.
                flow.packets = Vec::new();
                self.live += 1;
            }
            Err(e) => self.fail(offset, e),
        }
    }

    fn append(&mut self, entries: &[PacketEntry]) -> std::io::Result<()> {
        if self.file.is_none() {
            self.file = Some(tempfile::tempfile()?);
        }
        self.scratch.clear();
        for p in entries {
            let (ts_ns, ip_len, l4_payload_len, tcp_window) = (p.ts_ns, p.ip_len, p.l4_payload_len, p.tcp_window);
            self.scratch.extend_from_slice(&ts_ns.to_le_bytes());
            self.scratch.extend_from_slice(&ip_len.to_le_bytes());
            self.scratch.extend_from_slice(&l4_payload_len.to_le_bytes());
            self.scratch.extend_from_slice(&tcp_window.to_le_bytes());
            self.scratch.push(p.tcp_flags);
            self.scratch.push(p.dir);
        }
        let mut file = self.file.as_ref().expect("created above");
        file.seek(SeekFrom::Start(self.len))?;
        file.write_all(&self.scratch)?;
        self.len += self.scratch.len() as u64;
        Ok(())
    }

    /// Puts the spilled entries of every flow in `flows` back in front of its in-memory ones.
    pub fn rejoin(&mut self, flows: &mut [(Flow, EndReason)]) {
        for (flow, _) in flows {
            self.join(flow);
        }
    }

    /// Puts `flow`'s spilled entries back in front of its in-memory ones. On an error the
    /// flow keeps what could be read, and the error is kept for the run to report.
    pub fn join(&mut self, flow: &mut Flow) {
        if flow.spilled.is_empty() {
            return;
        }
        let spilled: usize = flow.spilled.iter().map(|s| s.1 as usize).sum();
        let mut all = Vec::with_capacity(spilled + flow.packets.len());
        for &(offset, count) in &flow.spilled {
            if let Err(e) = self.read(offset, count, &mut all) {
                self.fail(offset, e);
                break;
            }
        }
        all.extend_from_slice(&flow.packets);
        flow.packets = all;
        self.live -= flow.spilled.len() as u64;
        flow.spilled.clear();
        if self.live == 0 && self.len > 0 {
            self.empty();
        }
    }

    fn read(&mut self, offset: u64, count: u32, out: &mut Vec<PacketEntry>) -> std::io::Result<()> {
        let mut file = self.file.as_ref().ok_or(std::io::ErrorKind::NotFound)?;
        self.scratch.resize(count as usize * ENTRY_BYTES, 0);
        file.seek(SeekFrom::Start(offset))?;
        file.read_exact(&mut self.scratch)?;
        out.extend(self.scratch.chunks_exact(ENTRY_BYTES).map(|b| PacketEntry {
            ts_ns: i64::from_le_bytes(b[0..8].try_into().expect("8 bytes")),
            ip_len: u32::from_le_bytes(b[8..12].try_into().expect("4 bytes")),
            l4_payload_len: u32::from_le_bytes(b[12..16].try_into().expect("4 bytes")),
            tcp_window: u16::from_le_bytes(b[16..18].try_into().expect("2 bytes")),
            tcp_flags: b[18],
            dir: b[19],
        }));
        Ok(())
    }

    /// No open flow holds a segment: the file starts over, so it never outgrows them.
    fn empty(&mut self) {
        let result = self.file.as_ref().map_or(Ok(()), |f| f.set_len(0));
        match result {
            Ok(()) => self.len = 0,
            Err(e) => self.fail(self.len, e),
        }
    }

    fn fail(&mut self, offset: u64, e: std::io::Error) {
        self.error.get_or_insert(SpillFailure { dir: std::env::temp_dir(), offset, what: e.to_string() });
    }

    /// The first I/O error, if any.
    pub fn error(&self) -> Option<&SpillFailure> {
        self.error.as_ref()
    }
}

impl From<SpillFailure> for crate::Error {
    fn from(SpillFailure { dir, offset, what }: SpillFailure) -> Self {
        crate::Error::Spill { dir, offset, what }
    }
}
