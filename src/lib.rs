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

pub mod cluster;
pub mod collect;
pub mod error;
pub mod evaluate;
pub mod features;
pub mod label;
pub mod mirage;
pub mod semi;
pub mod shards;
pub mod store;

use std::cell::RefCell;
use std::path::{Path, PathBuf};

pub use error::{Error, Result};
pub use flowmine_core as core;
use flowmine_core::capture::input::InputSet;
use flowmine_core::flow::sharded::enforced_max_flows;
use flowmine_core::scan::{Progress, ScanOptions, ScanReport, scan, scan_resumable_on};
use flowmine_core::threads::{thread_count, work_pool};
use flowmine_core::{FlowBatch, PacketLimit};
use polars::prelude::*;

use store::manifest::Parameters;
use store::rows::{RowContext, batch_to_rows};
use store::{Manifest, Resumed, StoreWriter, with_parts};

/// A `flows` run: which captures, how flows are cut, what label the rows get.
#[derive(Debug, Clone)]
pub struct FlowsJob {
    pub inputs: Vec<PathBuf>,
    pub options: ScanOptions,
    pub label: Option<String>,
}

/// What [`FlowsJob::resume_store`] did.
#[derive(Debug, Clone)]
pub enum Resumption {
    /// The store already had its manifest.
    AlreadyComplete(Box<Manifest>),
    /// The run went on after `inputs_done` inputs and finished the store.
    Finished { outcome: Box<StoreOutcome>, inputs_done: usize },
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
            threads: thread_count(self.options.threads),
            // What the sharded table enforces, not what was asked.
            max_flows: f.max_flows.map(|n| enforced_max_flows(n) as u64),
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
        let to_frame = |batch: FlowBatch| -> Result<(), Error> { sink(batch_to_rows(batch, &ctx)?) };
        scan(inputs, &self.options, to_frame, progress)
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
            None => batch_to_rows(FlowBatch::new(), &RowContext::default())?,
        };
        df.rechunk_mut();
        Ok((df, report))
    }

    /// Runs the scan into a flow store at `out` (part files, then the manifest).
    pub fn to_store(&self, out: &Path, overwrite: bool, progress: impl FnMut(Progress)) -> Result<StoreOutcome, Error> {
        // Inputs first: a run that cannot even find its inputs leaves an old store alone.
        let inputs = flowmine_core::collect_inputs(&self.inputs)?;
        let writer = StoreWriter::create(out, overwrite)?;
        self.write_store(&inputs, writer, None, progress)
    }

    /// Finishes the store of an interrupted run at `out` from its last checkpoint (or from
    /// the start when it took none), with the same flow parameters; the flows in the store
    /// are then exactly those of an uninterrupted run. A store that has its manifest is
    /// left as it is.
    pub fn resume_store(&self, out: &Path, progress: impl FnMut(Progress)) -> Result<Resumption, Error> {
        let inputs = flowmine_core::collect_inputs(&self.inputs)?;
        let (writer, point) = match StoreWriter::resume(out)? {
            Resumed::Complete(manifest) => return Ok(Resumption::AlreadyComplete(Box::new(manifest))),
            Resumed::From(writer, point) => (writer, point),
        };
        let inputs_done = point.as_ref().map_or(0, |(p, _)| p.inputs_done.len());
        if let Some((p, _)) = &point {
            let differences = self.parameters().differences(&p.parameters);
            if !differences.is_empty() {
                return Err(Error::ResumeParameters { store: out.to_owned(), what: differences.join(", ") });
            }
        }
        let state = point.map(|(_, state)| state);
        let outcome = self.write_store(&inputs, writer, state.as_deref(), progress).map_err(|e| match e {
            Error::Resume { source, .. } => Error::Resume { store: out.to_owned(), source },
            e => e,
        })?;
        Ok(Resumption::Finished { outcome: Box::new(outcome), inputs_done })
    }

    fn write_store(
        &self,
        inputs: &InputSet,
        mut writer: StoreWriter,
        resume_from: Option<&[u8]>,
        progress: impl FnMut(Progress),
    ) -> Result<StoreOutcome, Error> {
        let ctx = self.row_context(inputs);
        let parameters = self.parameters();
        let input_paths: Vec<PathBuf> = inputs.files.iter().map(|f| f.path.clone()).collect();
        // Turning rows into Parquet runs beside the scan, as jobs on its pool: encoding
        // nested lists and compressing them costs as much as scanning (store/parts.rs).
        let pool = work_pool(self.options.threads);
        let encode = |batch| Ok(batch_to_rows(batch, &ctx)?);
        let report = with_parts(&mut writer, pool.as_deref(), &encode, |parts| {
            let parts = RefCell::new(parts);
            scan_resumable_on(
                pool.clone(),
                inputs,
                &self.options,
                resume_from,
                |batch: FlowBatch| parts.borrow_mut().add(batch),
                |c| {
                    let inputs_done = &input_paths[..c.files_done];
                    parts.borrow_mut().after_all(|writer| writer.checkpoint(&parameters, inputs_done, &c.state))
                },
                progress,
            )
        })?;
        if writer.parts().is_empty() {
            // No flows: one empty part still carries the schema for readers.
            writer.write_part(&mut batch_to_rows(FlowBatch::new(), &RowContext::default())?)?;
        }
        let manifest = Manifest::new(self.parameters(), &report, writer.parts().to_vec());
        let manifest_path = writer.finish(&manifest)?;
        Ok(StoreOutcome { report, manifest, manifest_path })
    }
}
