//! Writes the features table batch by batch to Parquet, Arrow IPC or CSV, chosen by the
//! output file's extension, so the table never has to be in memory as a whole.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::{Error, Result};
use polars::prelude::*;

/// The output formats of `flowmine features`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Parquet,
    Ipc,
    Csv,
}

impl Format {
    /// The format named by `path`'s extension: `.parquet`, `.arrow`/`.ipc`, `.csv`.
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "parquet" => Some(Format::Parquet),
            "arrow" | "ipc" => Some(Format::Ipc),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }
}

enum Batched {
    // Boxed: the Parquet writer is several times larger than the others.
    Parquet(Box<polars::io::parquet::write::BatchedWriter<File>>),
    Ipc(polars::io::ipc::BatchedWriter<File>),
    Csv(polars::io::csv::write::BatchedWriter<File>),
}

/// A features file being written; the writer opens on the first batch (its schema).
pub struct FeatureWriter {
    path: PathBuf,
    format: Format,
    writer: Option<Batched>,
}

impl FeatureWriter {
    pub fn new(path: &Path, format: Format) -> FeatureWriter {
        FeatureWriter { path: path.to_owned(), format, writer: None }
    }

    pub fn write(&mut self, batch: &DataFrame) -> Result<()> {
        // CSV has no list type: sequences become text, `[1,2,3]`, readable as JSON.
        let batch = if self.format == Format::Csv { lists_as_text(batch)? } else { batch.clone() };
        if self.writer.is_none() {
            self.writer = Some(self.open(batch.schema())?);
        }
        match self.writer.as_mut().expect("opened above") {
            Batched::Parquet(w) => w.write_batch(&batch),
            Batched::Ipc(w) => w.write_batch(&batch),
            Batched::Csv(w) => w.write_batch(&batch),
        }
        .map_err(Error::polars(&self.path))
    }

    fn open(&self, schema: &Schema) -> Result<Batched> {
        let tmp = self.tmp_path();
        let file = File::create(&tmp).map_err(Error::io(&tmp))?;
        self.batched(file, schema).map_err(Error::polars(&self.path))
    }

    fn batched(&self, file: File, schema: &Schema) -> PolarsResult<Batched> {
        Ok(match self.format {
            Format::Parquet => {
                // Snappy, not zstd: on the 20 M-packet capture's 1.7 M flows × 138 columns,
                // zstd made the writer the bottleneck (14.8 s against 9.6 s, for a file 25 %
                // smaller); Snappy is also what most Parquet readers default to.
                let writer = ParquetWriter::new(file).with_compression(ParquetCompression::Snappy);
                Batched::Parquet(Box::new(writer.batched(schema)?))
            }
            Format::Ipc => {
                let arrow_schema = schema.to_arrow(CompatLevel::newest());
                let fields = polars_arrow::io::ipc::write::default_ipc_fields(arrow_schema.iter_values());
                Batched::Ipc(IpcWriter::new(file).batched(schema, fields)?)
            }
            Format::Csv => Batched::Csv(CsvWriter::new(file).batched(schema)?),
        })
    }

    /// The file written until it is complete: a failed run leaves no file under the
    /// final name that looks complete.
    fn tmp_path(&self) -> PathBuf {
        let mut name = self.path.file_name().map(|n| n.to_owned()).unwrap_or_default();
        name.push(".tmp");
        self.path.with_file_name(name)
    }

    /// Stops without a result: the unfinished file is removed.
    pub fn abandon(mut self) {
        if self.writer.take().is_some() {
            let _ = std::fs::remove_file(self.tmp_path());
        }
    }

    /// Finishes the file; `empty` supplies the schema when no batch was written.
    pub fn finish(mut self, empty: &DataFrame) -> Result<()> {
        if self.writer.is_none() {
            self.write(empty)?;
        }
        match self.writer.take().expect("written above") {
            Batched::Parquet(w) => w.finish().map(|_| ()),
            Batched::Ipc(mut w) => w.finish(),
            Batched::Csv(mut w) => w.finish(),
        }
        .map_err(Error::polars(&self.path))?;
        let tmp = self.tmp_path();
        std::fs::rename(&tmp, &self.path).map_err(Error::io(&self.path))
    }
}

/// Replaces every list column by its values as text, `[a,b,c]`.
fn lists_as_text(df: &DataFrame) -> PolarsResult<DataFrame> {
    let mut out = df.clone();
    for name in df.get_column_names_owned() {
        let column = df.column(&name)?;
        if !matches!(column.dtype(), DataType::List(_)) {
            continue;
        }
        let texts: Vec<Option<String>> = column
            .list()?
            .amortized_iter()
            .map(|row| {
                row.map(|values| {
                    let parts: Vec<String> = values.as_ref().iter().map(|v| v.to_string()).collect();
                    format!("[{}]", parts.join(","))
                })
            })
            .collect();
        out.replace(&name, Column::new(name.clone(), texts))?;
    }
    Ok(out)
}
