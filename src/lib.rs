//! flowmine: packet captures → labelled bi-directional flow datasets.
//!
//! The engine lives in [`flowmine_core`] (re-exported here as [`core`]); this crate adds
//! the Parquet flow [`store`], Polars [`frame`]s and the calls the `flowmine` binary makes,
//! so a notebook or another program can do everything the command line does:
//!
//! ```no_run
//! use flowmine::{FlowsJob, core::ScanOptions};
//! let job = FlowsJob::new(vec!["testdata/pcaps/messaging/signal.pcap".into()], ScanOptions::default());
//! let (flows, report) = job.to_frame().unwrap();
//! println!("{} flows from {} packets", flows.height(), report.packets_total);
//! ```

pub mod evaluate;
pub mod features;
pub mod frame;
pub mod label;
pub mod mirage;
pub mod store;

use std::path::{Path, PathBuf};

pub use flowmine_core as core;
use flowmine_core::capture::input::{InputError, InputSet};
use flowmine_core::scan::{Progress, ScanError, ScanOptions, ScanReport, scan};
use flowmine_core::{FlowBatch, PacketLimit};
use polars::prelude::*;

use frame::{RowContext, batch_to_frame};
use store::manifest::Parameters;
use store::{Manifest, StoreError, StoreWriter};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Polars(#[from] PolarsError),
    /// Unusable input in strict mode; the store is left without a manifest.
    #[error("{0}")]
    Strict(String),
    /// The thread writing the store stopped (its own error says why).
    #[error("the store writer stopped")]
    WriterStopped,
}

impl From<ScanError<Error>> for Error {
    fn from(e: ScanError<Error>) -> Self {
        match e {
            ScanError::Input(e) => Error::Input(e),
            ScanError::Sink(e) => e,
            strict @ ScanError::Strict { .. } => Error::Strict(strict.to_string()),
        }
    }
}

/// A `flows` run: which captures, how flows are cut, what label the rows get.
#[derive(Debug, Clone)]
pub struct FlowsJob {
    pub inputs: Vec<PathBuf>,
    pub options: ScanOptions,
    pub label: Option<String>,
}

/// What a finished store run produced.
#[derive(Debug, Clone)]
pub struct StoreOutcome {
    pub report: ScanReport,
    pub manifest: Manifest,
    pub manifest_path: PathBuf,
}

impl FlowsJob {
    pub fn new(inputs: Vec<PathBuf>, options: ScanOptions) -> FlowsJob {
        FlowsJob { inputs, options, label: None }
    }

    pub fn parameters(&self) -> Parameters {
        let secs = |ns: Option<u64>| ns.map(|t| t as f64 / 1e9);
        let f = &self.options.flow;
        Parameters {
            idle_timeout_s: secs(f.idle_timeout_ns),
            active_timeout_s: secs(f.active_timeout_ns),
            tcp_close: f.tcp_close,
            tcp_close_linger_s: f.tcp_close_linger_ns as f64 / 1e9,
            packets: match f.packets {
                PacketLimit::All => "all".to_owned(),
                PacketLimit::First(n) => n.to_string(),
            },
            label: self.label.clone(),
            threads: match self.options.threads {
                0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
                n => n,
            },
        }
    }

    /// Runs the scan, handing each batch of ended flows (as a DataFrame) to `sink`.
    pub fn run(
        &self,
        sink: impl FnMut(DataFrame) -> Result<(), Error>,
        progress: impl FnMut(Progress),
    ) -> Result<ScanReport, Error> {
        self.run_inputs(&flowmine_core::collect_inputs(&self.inputs)?, sink, progress)
    }

    fn row_context(&self, inputs: &InputSet) -> RowContext {
        RowContext { label: self.label.clone(), input_paths: inputs.files.iter().map(|f| f.path.clone()).collect() }
    }

    fn run_inputs(
        &self,
        inputs: &InputSet,
        mut sink: impl FnMut(DataFrame) -> Result<(), Error>,
        progress: impl FnMut(Progress),
    ) -> Result<ScanReport, Error> {
        let ctx = self.row_context(inputs);
        let to_frame = |batch: &FlowBatch| -> Result<(), Error> { sink(batch_to_frame(batch, &ctx)?) };
        Ok(scan(inputs, &self.options, to_frame, progress)?)
    }

    /// Runs the scan and returns every flow in one DataFrame.
    pub fn to_frame(&self) -> Result<(DataFrame, ScanReport), Error> {
        let mut all: Option<DataFrame> = None;
        let report = self.run(
            |df| {
                match &mut all {
                    None => all = Some(df),
                    Some(acc) => {
                        acc.vstack_mut_owned(df)?;
                    }
                }
                Ok(())
            },
            |_| {},
        )?;
        let mut df = match all {
            Some(df) => df,
            None => batch_to_frame(&FlowBatch::new(), &RowContext::default())?,
        };
        df.rechunk_mut();
        Ok((df, report))
    }

    /// Runs the scan into a flow store at `out` (part files, then the manifest).
    pub fn to_store(&self, out: &Path, overwrite: bool, progress: impl FnMut(Progress)) -> Result<StoreOutcome, Error> {
        // Inputs first: a run that cannot even find its inputs leaves an old store alone.
        let inputs = flowmine_core::collect_inputs(&self.inputs)?;
        let mut writer = StoreWriter::create(out, overwrite)?;
        let ctx = self.row_context(&inputs);
        // Turning rows into Parquet runs on a thread of its own, beside the scan: encoding
        // nested lists and compressing them costs as much as a third of a run. Batches
        // arrive in order, so the parts are the same as when written in line.
        let (to_writer, batches) = std::sync::mpsc::sync_channel::<FlowBatch>(2);
        let (scanned, written) = std::thread::scope(|scope| {
            let writing = scope.spawn(|| -> Result<(), Error> {
                for batch in batches {
                    writer.write_part(&mut batch_to_frame(&batch, &ctx)?)?;
                }
                Ok(())
            });
            let scanned = scan(
                &inputs,
                &self.options,
                |b: &FlowBatch| to_writer.send(b.clone()).map_err(|_| Error::WriterStopped),
                progress,
            );
            drop(to_writer);
            (scanned, writing.join().expect("the store writer does not panic"))
        });
        // A writer error is the cause of a scan that stopped for want of a writer.
        written?;
        let report = scanned?;
        if writer.parts().is_empty() {
            // No flows: one empty part still carries the schema for readers.
            writer.write_part(&mut batch_to_frame(&FlowBatch::new(), &RowContext::default())?)?;
        }
        let manifest = Manifest::new(self.parameters(), &report, writer.parts().to_vec());
        let manifest_path = writer.finish(&manifest)?;
        Ok(StoreOutcome { report, manifest, manifest_path })
    }
}
