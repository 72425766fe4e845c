//! A run's state at an input-file boundary, as bytes, so that a killed run can go on from
//! there and give exactly the flows of an uninterrupted one: the reports of the files
//! read, the open flows with their per-packet entries, the fragment table and the clock.
//! The byte layout is `formats/checkpoint.md`.
//!
//! Each part is encoded beside its type, with the cursors of [`codec`](crate::codec):
//! [`FileReport`], [`Flow`](crate::flow::Flow), the flow tables and the fragment table.

use std::path::PathBuf;

use crate::Error;
use crate::capture::input::InputSet;
use crate::codec::{Dec, Enc};
use crate::file_report::FileReport;

/// First bytes of a state; the digit is the layout version.
pub const MAGIC: &[u8; 8] = b"FMSTATE1";

/// The start of a state: the magic, then the reports of the files read so far (the flow
/// table's state follows).
pub fn put_header(e: &mut Enc, files: &[FileReport]) {
    e.array(MAGIC);
    e.u64(files.len() as u64);
    for f in files {
        f.save(e);
    }
}

/// Reads what [`put_header`] wrote and checks it against this run's inputs: they must
/// begin with the files the state has read, unchanged in size.
pub fn get_header(d: &mut Dec, inputs: &InputSet) -> Result<Vec<FileReport>, Error> {
    if d.take(MAGIC.len()).ok() != Some(&MAGIC[..]) {
        return Err(Error::NotAState);
    }
    let n = d.count(1)?;
    let mut files = Vec::with_capacity(n);
    for index in 0..n {
        let f = FileReport::load(d)?;
        match inputs.files.get(index) {
            Some(input) if input.path == f.path && input.len == f.bytes => files.push(f),
            other => {
                let (is, now) = other.map_or((PathBuf::from("(no such input)"), 0), |i| (i.path.clone(), i.len));
                return Err(Error::InputsChanged { index, was: f.path, then: f.bytes, is, now });
            }
        }
    }
    Ok(files)
}
