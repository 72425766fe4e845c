//! The per-app capture: the records of the labelled flows, bytes and timestamps untouched,
//! in reading order, as one pcap file.

use std::io::Write;

use crate::Error;
use crate::capture::input::InputSet;
use crate::capture::writer::{DEFAULT_SNAPLEN, PcapWriter};
use crate::flow::FlowBatch;
use crate::wire::linktype;

use super::replay::replay;

/// What a failed write was writing (the caller names the file).
const WRITING: &str = "writing the filtered capture";

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
) -> Result<FilterReport, Error> {
    let mut out = Some(out);
    let mut writer: Option<PcapWriter<W>> = None;
    let mut written = 0;
    let replayed = replay(inputs, batch, |rec, _, row| -> Result<(), Error> {
        if !keep[row] {
            return Ok(());
        }
        let w = match &mut writer {
            Some(w) => w,
            None => writer.insert(
                PcapWriter::new(out.take().expect("one writer"), rec.link_type, DEFAULT_SNAPLEN)
                    .map_err(Error::write(WRITING))?,
            ),
        };
        if w.link_type() != rec.link_type {
            return Err(Error::MixedLinkTypes(w.link_type(), rec.link_type));
        }
        w.write(rec.ts_ns, rec.orig_len, rec.data).map_err(Error::write(WRITING))?;
        written += 1;
        Ok(())
    })?;
    match writer {
        Some(w) => w.finish().map_err(Error::write(WRITING))?,
        None => PcapWriter::new(out.take().expect("unused"), linktype::ETHERNET, DEFAULT_SNAPLEN)
            .and_then(|w| w.finish())
            .map_err(Error::write(WRITING))?,
    };
    Ok(FilterReport {
        packets_read: replayed.packets_read,
        packets_written: written,
        packets_without_flow: replayed.packets_without_flow,
    })
}
