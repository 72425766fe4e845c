//! The flow store: a directory of Parquet part files (flow rows) and a `manifest.json`
//! with the run's parameters and counters. Layout and schema: `formats/store.md`.

pub mod manifest;
pub mod parts;
pub mod rows;
pub mod schema;
pub mod writer;

use std::path::{Path, PathBuf};

use polars::prelude::*;

pub use manifest::Manifest;
pub use parts::{ToWriter, write_parts};
pub use writer::{RESUME_FILE, ResumePoint, Resumed, StoreError, StoreWriter};

pub const MANIFEST_FILE: &str = "manifest.json";

/// Every Parquet file below `dir`, sorted by path (part files sort in write order).
pub fn part_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    flowmine_core::walk::files_below(dir, |p| p.extension().is_some_and(|e| e == "parquet"))
}

/// Rows per Parquet part where rows are written from a frame (label, import-mirage): as
/// many as a scan hands over in one batch.
pub const PART_ROWS: usize = flowmine_core::scan::DEFAULT_BATCH_ROWS;

/// Reads all flow rows of a store into one DataFrame.
pub fn read_flows(dir: &Path) -> PolarsResult<DataFrame> {
    let parts = part_files(dir).map_err(|e| polars_err!(ComputeError: "{}: {e}", dir.display()))?;
    let mut frames = parts.into_iter().map(|p| {
        let file = std::fs::File::open(&p).map_err(|e| polars_err!(ComputeError: "{}: {e}", p.display()))?;
        ParquetReader::new(file).finish()
    });
    let Some(first) = frames.next() else {
        return Err(polars_err!(ComputeError: "{}: no Parquet part files in the store", dir.display()));
    };
    let mut df = first?;
    for next in frames {
        df.vstack_mut_owned(next?)?;
    }
    df.rechunk_mut();
    Ok(df)
}
