//! Per-flow features for machine learning: numpy/scipy-exact statistics of packet lengths
//! and inter-arrival times per direction, counters, rates, TCP flag counts and the
//! first-N packet sequences, computed over a flow store a few row groups of a part file
//! at a time.
//! Columns and definitions: `formats/features.md`.

pub mod anonymise;
pub mod output;
pub mod stats;
pub mod table;

use std::path::Path;

use polars::prelude::*;

pub use anonymise::Anonymiser;
pub use output::{FeatureWriter, Format};
pub use table::{FeatureOptions, features_frame, features_frame_parallel};

use crate::store::rows::{RowContext, batch_to_rows};
use crate::store::{for_each_batch, parts_to_read};
use crate::{Error, Result};

/// Calls `each` with the features of every batch of row groups of `part`
/// ([`for_each_batch`]). A table error names the part.
fn part_features(part: &Path, options: &FeatureOptions, mut each: impl FnMut(DataFrame) -> Result<()>) -> Result<()> {
    for_each_batch(
        part,
        |schema| Some(table::input_columns(schema)),
        |flows| each(features_frame_parallel(&flows, options, options.threads).map_err(Error::polars(part))?),
    )
}

/// The features table of an empty store: its schema, for outputs without rows.
pub fn empty_features(options: &FeatureOptions) -> PolarsResult<DataFrame> {
    features_frame(&batch_to_rows(flowmine_core::FlowBatch::new(), &RowContext::default())?, options)
}

/// Computes the features of every flow of `store` and writes them to `out` (format by
/// extension), a few row groups of a store part at a time. Returns the number of rows
/// written.
pub fn write_features(store: &Path, out: &Path, options: &FeatureOptions) -> Result<u64> {
    let format = Format::from_path(out)
        .ok_or_else(|| Error::output(out, "unknown output format; use .parquet, .arrow, .ipc or .csv"))?;
    let parts = parts_to_read(store)?;
    let empty = empty_features(options)?;
    // Encoding (Parquet above all) costs about as much as computing: a writer thread does it
    // while the next batch is read and computed. One batch in flight bounds memory.
    // `None` says all batches were sent; a channel closed without it means the computation
    // failed, and the unfinished file is removed rather than completed.
    let (sender, receiver) = std::sync::mpsc::sync_channel::<Option<DataFrame>>(1);
    std::thread::scope(|scope| {
        let writing = scope.spawn(move || -> Result<u64> {
            let mut writer = FeatureWriter::new(out, format);
            let mut rows = 0;
            for message in receiver {
                let Some(features) = message else {
                    writer.finish(&empty)?;
                    return Ok(rows);
                };
                rows += features.height() as u64;
                if let Err(e) = writer.write(&features) {
                    writer.abandon();
                    return Err(e);
                }
            }
            writer.abandon();
            Ok(rows)
        });
        let computing = || -> Result<()> {
            for part in &parts {
                // A failed send means the writer stopped on an error, which join reports.
                part_features(part, options, |features| {
                    let _ = sender.send(Some(features));
                    Ok(())
                })?;
            }
            let _ = sender.send(None);
            Ok(())
        };
        let computed = computing();
        drop(sender);
        let written = writing.join().expect("feature writer thread panicked");
        computed.and(written)
    })
}

/// The features of every flow of `store` as one DataFrame (for notebooks and tests; the
/// command line streams instead, see [`write_features`]).
pub fn read_features(store: &Path, options: &FeatureOptions) -> Result<DataFrame> {
    // The first part gives the columns: a label store's parts have more than a bare
    // store's (labeling_type, device, session), which `empty_features` does not know.
    let mut all: Option<DataFrame> = None;
    for part in parts_to_read(store)? {
        part_features(&part, options, |features| match &mut all {
            Some(all) => Ok(all.vstack_mut_owned(features).map(|_| ())?),
            None => {
                all = Some(features);
                Ok(())
            }
        })?;
    }
    let mut all = match all {
        Some(all) => all,
        None => empty_features(options)?,
    };
    all.rechunk_mut();
    Ok(all)
}
