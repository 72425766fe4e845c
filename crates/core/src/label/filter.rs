//! The per-app capture: the records of the labelled flows, bytes and timestamps untouched,
//! in reading order, as one pcap file.

use std::io::Write;

use crate::capture::input::{InputError, InputSet};
use crate::capture::writer::{DEFAULT_SNAPLEN, PcapWriter};
use crate::flow::FlowBatch;
use crate::wire::linktype;

use super::replay::replay;

#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("writing the filtered capture: {0}")]
    Write(#[from] std::io::Error),
    #[error("the app's packets have link types {0} and {1}; a pcap file holds one")]
    MixedLinkTypes(u16, u16),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FilterReport {
    pub packets_read: u64,
    pub packets_written: u64,
    /// See [`super::replay::ReplayReport::packets_without_flow`].
    pub packets_without_flow: u64,
}

/// Writes to `out` (a pcap file) every record of `inputs` that belongs to a flow `keep`s.
/// `batch` must hold every flow of a scan of `inputs` (rows in the order the scan emitted).
/// With no packet kept the file is an empty capture.
pub fn write_kept_packets<W: Write>(
    inputs: &InputSet,
    batch: &FlowBatch,
    keep: &[bool],
    out: W,
) -> Result<FilterReport, FilterError> {
    let mut out = Some(out);
    let mut writer: Option<PcapWriter<W>> = None;
    let mut written = 0;
    let replayed = replay(inputs, batch, |rec, _, row| -> Result<(), FilterError> {
        if !keep[row] {
            return Ok(());
        }
        let w = match &mut writer {
            Some(w) => w,
            None => writer.insert(PcapWriter::new(out.take().expect("one writer"), rec.link_type, DEFAULT_SNAPLEN)?),
        };
        if w.link_type() != rec.link_type {
            return Err(FilterError::MixedLinkTypes(w.link_type(), rec.link_type));
        }
        w.write(rec.ts_ns, rec.orig_len, rec.data)?;
        written += 1;
        Ok(())
    })?;
    match writer {
        Some(w) => w.finish()?,
        None => PcapWriter::new(out.take().expect("unused"), linktype::ETHERNET, DEFAULT_SNAPLEN)?.finish()?,
    };
    Ok(FilterReport {
        packets_read: replayed.packets_read,
        packets_written: written,
        packets_without_flow: replayed.packets_without_flow,
    })
}
