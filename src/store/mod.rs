//! The flow store: a directory of Parquet part files (flow rows) and a `manifest.json`
//! with the run's parameters and counters. Layout and schema: `formats/store.md`.

pub mod manifest;
pub mod parts;
pub mod writer;

use std::path::{Path, PathBuf};

use polars::prelude::*;

pub use manifest::Manifest;
pub use parts::{ToWriter, write_parts};
pub use writer::{RESUME_FILE, ResumePoint, Resumed, StoreError, StoreWriter};

pub const MANIFEST_FILE: &str = "manifest.json";

/// Every Parquet file below `dir`, sorted by path (part files sort in write order).
pub fn part_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut parts = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "parquet") {
                parts.push(path);
            }
        }
    }
    parts.sort();
    Ok(parts)
}

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
