//! The flow store: a directory of Parquet part files (flow rows) and a `manifest.json`
//! with the run's parameters and counters. Layout and schema: `formats/store.md`.

pub mod encode;
mod levels;
pub mod manifest;
pub mod parts;
pub mod rows;
pub mod schema;
pub mod writer;

use std::path::{Path, PathBuf};

use polars::prelude::*;

pub use manifest::Manifest;
pub use parts::{Parts, with_parts};
pub use writer::{RESUME_FILE, ResumePoint, Resumed, StoreWriter};

use crate::{Error, Result};

pub const MANIFEST_FILE: &str = "manifest.json";

/// The part files of the complete flow store `dir`, in write order, checked as every
/// reader needs them: a store is known by its manifest; a store without one is refused
/// (an interrupted run's, or no store at all), as is a Parquet file the manifest does not
/// list (a stray file would mix foreign rows in) and a part that is not the Parquet file
/// the manifest describes. Errors say what is wrong in one line naming the store, or the
/// file of it that is wrong.
pub fn part_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let invalid = |message: String| Error::input(dir, message);
    if !dir.is_dir() {
        return Err(invalid(format!(
            "not a directory; a flow store is a directory with {MANIFEST_FILE} and Parquet parts"
        )));
    }
    let manifest_path = dir.join(MANIFEST_FILE);
    if !manifest_path.exists() {
        return Err(invalid(if dir.join(RESUME_FILE).exists() {
            format!(
                "an unfinished store: the run writing it stopped at a checkpoint (no {MANIFEST_FILE}); resuming the run finishes it"
            )
        } else {
            format!(
                "not a flow store: a store has a {MANIFEST_FILE} (written last by flows, label or import-mirage) beside its Parquet parts"
            )
        }));
    }
    let text = std::fs::read(&manifest_path).map_err(Error::io(&manifest_path))?;
    let manifest: Manifest = serde_json::from_slice(&text)
        .map_err(|e| Error::input(&manifest_path, format!("not a flow store manifest: {e}")))?;
    for file in parquet_files(dir)? {
        let listed = file.strip_prefix(dir).is_ok_and(|rel| manifest.parts.iter().any(|p| Path::new(&p.file) == rel));
        if !listed {
            return Err(Error::input(
                &file,
                format!("not one of the store's parts ({MANIFEST_FILE} does not list it); move it out of the store"),
            ));
        }
    }
    manifest
        .parts
        .iter()
        .map(|part| {
            let path = dir.join(&part.file);
            let rows = std::fs::File::open(&path)
                .map_err(|e| e.to_string())
                .and_then(|f| ParquetReader::new(f).num_rows().map_err(|e| format!("not a Parquet file: {e}")))
                .map_err(|e| Error::input(&path, e))?;
            if rows as u64 != part.rows {
                return Err(Error::input(
                    &path,
                    format!("{rows} rows where {MANIFEST_FILE} says {}; the part was replaced", part.rows),
                ));
            }
            Ok(path)
        })
        .collect()
}

/// The [`part_files`] of a store to be read: a store of no parts is refused (its manifest
/// lists none), naming the store.
pub fn parts_to_read(dir: &Path) -> Result<Vec<PathBuf>> {
    let parts = part_files(dir)?;
    if parts.is_empty() {
        return Err(Error::input(dir, "no Parquet part files in the store"));
    }
    Ok(parts)
}

/// Every Parquet file below `dir`.
fn parquet_files(dir: &Path) -> Result<Vec<PathBuf>> {
    Ok(flowmine_core::walk::files_below(dir, |p| p.extension().is_some_and(|e| e == "parquet"))?)
}

/// Rows per Parquet part where rows are written from a frame (label, import-mirage): as
/// many as a scan hands over in one batch.
pub const PART_ROWS: usize = flowmine_core::scan::DEFAULT_BATCH_ROWS;

/// Row groups a batch reader takes at once: as many as a full part has (store/encode.rs).
/// Read one group at a time, `features` took 1.10x and `export-mirage` 1.22x as long
/// (reading, spawning and writing per batch) on the 20 M-packet campus capture's store.
pub const GROUPS_PER_BATCH: usize = PART_ROWS / encode::GROUP_ROWS;

/// Calls `each` with the rows of the store part `part`, [`GROUPS_PER_BATCH`] row groups at a
/// time, only the columns `columns` picks from the part's schema (all for `None`): that
/// bounds memory even for a store's last part (it holds every flow still open at the end
/// of the input). Slices that cut row groups would make the reader decode each group
/// several times. Errors of reading name the part.
pub fn for_each_batch(
    part: &Path,
    columns: impl Fn(&Schema) -> Option<Vec<String>>,
    mut each: impl FnMut(DataFrame) -> Result<()>,
) -> Result<()> {
    let open = || std::fs::File::open(part).map_err(Error::io(part));
    let mut reader = ParquetReader::new(open()?);
    let metadata = reader.get_metadata().map_err(Error::polars(part))?.clone();
    let schema = reader.schema().map_err(Error::polars(part))?;
    let columns = columns(&Schema::from_arrow_schema(&schema));
    let mut offset = 0;
    for groups in metadata.row_groups.chunks(GROUPS_PER_BATCH) {
        let rows = groups.iter().map(|g| g.num_rows()).sum();
        let mut reader = ParquetReader::new(open()?);
        reader.set_metadata(metadata.clone());
        let mut df = reader
            .with_columns(columns.clone())
            .with_slice(Some((offset, rows)))
            .finish()
            .map_err(Error::polars(part))?;
        // A chunk per group: row-wise readers go faster over one.
        df.rechunk_mut();
        each(df)?;
        offset += rows;
    }
    Ok(())
}

/// Reads all flow rows of a store into one DataFrame.
pub fn read_flows(dir: &Path) -> Result<DataFrame> {
    let mut frames = parts_to_read(dir)?.into_iter().map(|p| {
        let file = std::fs::File::open(&p).map_err(Error::io(&p))?;
        ParquetReader::new(file).finish().map_err(Error::polars(&p))
    });
    let mut df = frames.next().expect("a store to read has parts")?;
    for next in frames {
        df.vstack_mut_owned(next?)?;
    }
    df.rechunk_mut();
    Ok(df)
}
