//! A whole run: input files → records → decoded packets → flow table → batches of ended
//! flows handed to a sink, with every packet accounted for.

use std::path::PathBuf;
use std::sync::Arc;

use crate::Error;
use crate::capture::input::{InputFile, InputSet, MappedFile};
use crate::capture::{Format, Reader};
use crate::checkpoint;
use crate::codec::{Dec, Enc};
pub use crate::file_report::{DamagedStretch, FileReport, SizeChange};
use crate::flow::fragments::FragmentCounts;
use crate::flow::{FlowBatch, FlowConfig, ShardedTable};
use crate::pieces::{self, Item, Piece};
use crate::skip::{SkipCounts, SkipReason};
pub use crate::threads::thread_count;

/// Input read between checkpoints, at least, per byte of the last state. A state holds
/// every open flow with its packet arrays: on the 20 M-packet campus capture split in 10
/// files, one checkpoint after 1 GiB wrote a 700 MB state and cost 5.5 s of a 9.1 s run;
/// spaced by 8× its size, checkpoints cost about a sixth of the reading time at most.
pub const STATE_SPACING: u64 = 8;

/// Flows per batch handed to the sink (the store writes one part per batch or more).
pub const DEFAULT_BATCH_ROWS: usize = 65_536;
/// Per-packet entries per batch: long flows make large batches even with few rows. A batch
/// is held whole while it is gathered, turned into rows and encoded, so this bounds what
/// the flows ending together at the end of the input cost: on a 1,008 s capture at 20k
/// packets/s with 200 streams, one thread peaked at 448 MiB with 4 << 20 and 394 MiB with
/// 1 << 20. Campus captures' batches end on rows first (65,536 flows hold about 800k
/// entries there), so their parts are unchanged.
pub const DEFAULT_BATCH_PACKETS: usize = 1 << 20;

#[derive(Debug, Clone)]
pub struct ScanOptions {
    pub flow: FlowConfig,
    /// Threads at work (0 = one per core): pieces are decoded and the flow table's shards
    /// applied on a pool of this many ([`work_pool`](crate::threads::work_pool)), or on
    /// the caller's thread for one. The output does not depend on it.
    pub threads: usize,
    /// Stop at the first file with damaged input or an unsupported link type, instead of
    /// reporting it and going on.
    pub strict: bool,
    /// A batch handed to the sink is full at this many rows or per-packet entries
    /// ([`ScanOptions::batch_is_full`]).
    pub batch_rows: usize,
    pub batch_packets: usize,
    /// With [`scan_resumable`]: take a [`Checkpoint`] at the first file boundary after
    /// this many input bytes since the last one, or [`STATE_SPACING`] times the size of the
    /// last checkpoint's state if that is more. `None`: never.
    pub checkpoint_bytes: Option<u64>,
    /// Input bytes per piece a file is cut into for decoding ([`pieces`]); the output does
    /// not depend on it (tests use tiny pieces so that seams fall everywhere).
    pub piece_bytes: usize,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            flow: FlowConfig::default(),
            threads: 1,
            strict: false,
            batch_rows: DEFAULT_BATCH_ROWS,
            batch_packets: DEFAULT_BATCH_PACKETS,
            checkpoint_bytes: None,
            piece_bytes: pieces::PIECE_BYTES,
        }
    }
}

impl ScanOptions {
    /// Whether a batch of `rows` rows and `packets` per-packet entries is full.
    pub fn batch_is_full(&self, rows: usize, packets: usize) -> bool {
        rows >= self.batch_rows || packets >= self.batch_packets
    }
}

/// Totals of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanReport {
    pub files: Vec<FileReport>,
    /// Files inside input directories that were not captures.
    pub ignored: Vec<PathBuf>,
    /// Files still being written by a capture appliance (`*.tmp`), not read.
    pub in_progress: Vec<PathBuf>,
    pub packets_total: u64,
    pub packets_in_flows: u64,
    pub skipped: SkipCounts,
    pub flows: u64,
    /// Flows ended early to keep the flow table under `FlowConfig::max_flows`.
    pub flows_evicted: u64,
    pub fragments: FragmentCounts,
}

impl ScanReport {
    pub fn damaged_files(&self) -> impl Iterator<Item = &FileReport> {
        self.files.iter().filter(|f| f.damage.is_some())
    }
}

/// Progress of a run, for bars and logs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub packets: u64,
    pub flows: u64,
}

/// A point a run can go on from: every flow ended before it has been handed to the sink,
/// and `state` holds the rest (see [`checkpoint`](crate::checkpoint)).
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// Inputs fully read.
    pub files_done: usize,
    pub state: Vec<u8>,
}

/// Runs [`scan`] and keeps every flow in one batch: for inputs that fit in memory (tests,
/// phone sessions, notebooks); large runs hand batches to a sink instead.
pub fn scan_to_batch(inputs: &InputSet, options: &ScanOptions) -> Result<(FlowBatch, ScanReport), Error> {
    let mut all = FlowBatch::new();
    let report = scan::<Error>(
        inputs,
        options,
        |b: FlowBatch| {
            if all.is_empty() {
                all = b;
            } else {
                all.extend_from(&b);
            }
            Ok(())
        },
        |_| {},
    )?;
    Ok((all, report))
}

/// Reads every input in order through one flow table; flows continue across files.
/// `sink` receives full batches, its own to keep.
pub fn scan<E: From<Error>>(
    inputs: &InputSet,
    options: &ScanOptions,
    sink: impl FnMut(FlowBatch) -> Result<(), E>,
    progress: impl FnMut(Progress),
) -> Result<ScanReport, E> {
    let options = ScanOptions { checkpoint_bytes: None, ..options.clone() };
    scan_resumable(inputs, &options, None, sink, |_| Ok(()), progress)
}

/// [`scan`], taking a [`Checkpoint`] at file boundaries (every
/// [`ScanOptions::checkpoint_bytes`]) and going on from one when `resume_from` holds its
/// state. The flows handed to `sink` before a checkpoint plus those after a resumption
/// from it are exactly the flows of an uninterrupted run. The inputs must begin with the
/// files the checkpoint has read, unchanged.
pub fn scan_resumable<E: From<Error>>(
    inputs: &InputSet,
    options: &ScanOptions,
    resume_from: Option<&[u8]>,
    sink: impl FnMut(FlowBatch) -> Result<(), E>,
    checkpoint: impl FnMut(Checkpoint) -> Result<(), E>,
    progress: impl FnMut(Progress),
) -> Result<ScanReport, E> {
    let pool = crate::threads::work_pool(options.threads);
    scan_resumable_on(pool, inputs, options, resume_from, sink, checkpoint, progress)
}

/// [`scan_resumable`] on `pool` (`None`: on the caller's thread) in place of a pool of
/// [`ScanOptions::threads`] of its own: a caller that gives the pool work of its own, such
/// as encoding the batches, keeps the run on that many threads in all.
pub fn scan_resumable_on<E: From<Error>>(
    pool: Option<Arc<rayon::ThreadPool>>,
    inputs: &InputSet,
    options: &ScanOptions,
    resume_from: Option<&[u8]>,
    mut sink: impl FnMut(FlowBatch) -> Result<(), E>,
    mut checkpoint: impl FnMut(Checkpoint) -> Result<(), E>,
    mut progress: impl FnMut(Progress),
) -> Result<ScanReport, E> {
    // Batches of ended flows as the table hands them out, and those gathered for the
    // sink's next batch.
    let mut ready: Vec<FlowBatch> = Vec::new();
    let mut batch = Gathered::default();
    let mut report =
        ScanReport { ignored: inputs.ignored.clone(), in_progress: inputs.in_progress.clone(), ..Default::default() };
    let mut prog = Progress { bytes_total: inputs.files.iter().map(|f| f.len).sum(), ..Default::default() };
    let mut table = match resume_from {
        None => ShardedTable::on_pool(options.flow.clone(), pool),
        Some(state) => {
            let mut d = Dec::new(state);
            report.files = checkpoint::get_header(&mut d, inputs)?;
            let table = ShardedTable::restore_on_pool(options.flow.clone(), pool, &mut d)?;
            if !d.is_done() {
                return Err(d.corrupt().into());
            }
            for f in &report.files {
                report.packets_total += f.packets_total;
                report.skipped.merge(&f.skipped);
                prog.bytes_done += f.bytes;
            }
            table
        }
    };
    let mut bytes_since_checkpoint = 0;
    // A state holds every open flow with its packets: on a busy link it can be nearly as
    // large as the input read between checkpoints (see STATE_SPACING).
    // (A resumed run goes on from its state: the same schedule as the uninterrupted run.)
    let mut last_state_len = resume_from.map_or(0, |state| state.len() as u64);
    // Where the run starts (after the files of a checkpoint, when resumed).
    prog.packets = report.packets_total;
    progress(prog);

    // Pieces are decoded, their packets routed to their shards, on the threads that
    // apply the shards: the cores go to whichever side has work (see pieces.rs).
    let pool = table.pool();
    for (index, input) in inputs.files.iter().enumerate().skip(report.files.len()) {
        let each = |piece: Piece, file: &mut FileReport, prog: &mut Progress| {
            count_records(&piece, file);
            table.submit(piece.routed, &mut ready);
            if !ready.is_empty() {
                deliver(&mut ready, &mut batch, &mut sink, options)?;
            }
            prog.flows = table.flows_started();
            Ok::<(), E>(())
        };
        read_input((index as u32, input), options, pool.as_deref(), &mut report, &mut prog, &mut progress, each)?;
        bytes_since_checkpoint += input.len;
        let more = index + 1 < inputs.files.len();
        let due = options
            .checkpoint_bytes
            .is_some_and(|every| bytes_since_checkpoint >= every.max(STATE_SPACING * last_state_len));
        if more && due {
            bytes_since_checkpoint = 0;
            let mut e = Enc::default();
            checkpoint::put_header(&mut e, &report.files);
            table.save(&mut ready, &mut e);
            if let Some(e) = table.spill_error() {
                return Err(Error::from(e).into());
            }
            // Every flow ended so far goes to the sink before the checkpoint does.
            deliver_all(&mut ready, &mut batch, &mut sink, options)?;
            last_state_len = e.0.len() as u64;
            checkpoint(Checkpoint { files_done: report.files.len(), state: e.0 })?;
        }
    }
    while table.finish_step(&mut ready) {
        deliver(&mut ready, &mut batch, &mut sink, options)?;
    }
    if let Some(e) = table.spill_error() {
        return Err(Error::from(e).into());
    }
    deliver_all(&mut ready, &mut batch, &mut sink, options)?;
    report.packets_in_flows = report.packets_total - report.skipped.total();
    // Flows are started as windows are applied, so they are counted at the end.
    let started = table.flows_started_by_input();
    for (file, &n) in report.files.iter_mut().zip(&started) {
        file.flows = n;
    }
    report.flows = started.iter().sum();
    report.fragments = table.fragment_counts();
    report.flows_evicted = table.flows_evicted();
    Ok(report)
}

/// Reads input file `index` piece by piece, the loop of a whole run and of a shard
/// (handoff.rs): `each` takes every piece (and counts its records in the file's report),
/// the file's pages behind the walk are released, progress is reported, and the file's
/// report, checked (`--strict`, a size that changed), is added to `report`.
pub(crate) fn read_input<E: From<Error>>(
    (index, input): (u32, &InputFile),
    options: &ScanOptions,
    pool: Option<&rayon::ThreadPool>,
    report: &mut ScanReport,
    prog: &mut Progress,
    progress: &mut impl FnMut(Progress),
    mut each: impl FnMut(Piece, &mut FileReport, &mut Progress) -> Result<(), E>,
) -> Result<(), E> {
    let mapped = MappedFile::open(&input.path)?;
    let bytes = mapped.bytes();
    let mut file = FileReport {
        path: input.path.clone(),
        format: Format::detect(bytes),
        bytes: bytes.len() as u64,
        packets_total: 0,
        skipped: SkipCounts::default(),
        flows: 0,
        damage: None,
        damaged_stretches: Vec::new(),
        skipped_bytes: 0,
        unsupported_link_type: None,
        first_skip_offset: Default::default(),
        size_changed: None,
    };
    match Reader::new(bytes) {
        Err(damage) => {
            file.skipped_bytes = file.bytes;
            file.damage = Some(damage);
        }
        Ok(reader) => {
            let mut released = 0;
            pieces::walk(bytes, reader, options.piece_bytes, pool, index, |piece| {
                let done = piece.stopped_at.unwrap_or(bytes.len());
                each(piece, &mut file, prog)?;
                // Records behind the walk are done with (flows copy what they keep).
                mapped.release(released, done);
                released = done;
                prog.packets = report.packets_total + file.packets_total;
                progress(Progress { bytes_done: prog.bytes_done + done as u64, ..*prog });
                Ok::<(), E>(())
            })?;
        }
    }
    report.packets_total += file.packets_total;
    report.skipped.merge(&file.skipped);
    prog.bytes_done += input.len;
    prog.packets = report.packets_total;
    progress(*prog);
    // A capture appliance may still be writing a file it has already named as final.
    let after = std::fs::metadata(&input.path).ok().map(|m| m.len());
    if input.len != file.bytes || after != Some(file.bytes) {
        file.size_changed = Some(SizeChange { listed: input.len, read: file.bytes, after });
    }
    if options.strict
        && let Some((offset, what)) = file.first_problem()
    {
        return Err(Error::Strict { path: file.path, offset, what }.into());
    }
    report.files.push(file);
    Ok(())
}

/// Counts the records of a piece of `file`: all it read, and each that did not become a
/// packet.
pub(crate) fn count_records(piece: &Piece, file: &mut FileReport) {
    file.packets_total += piece.records();
    for (_, item) in &piece.others {
        count_other(item, file);
    }
}

/// Counts a record of `file` that did not become a packet.
fn count_other(item: &Item, file: &mut FileReport) {
    match *item {
        Item::Packet(_) | Item::Fragment(_) => unreachable!("packets are routed to the flow table"),
        Item::Skip { reason, offset, link_type } => {
            if reason == SkipReason::UnsupportedLinkType
                && let Some(link_type) = link_type
            {
                file.unsupported_link_type.get_or_insert((link_type, offset));
            }
            file.skip(reason, offset);
        }
        Item::Damage { ref damage, resumed_at } => {
            // A stretch that cannot be framed counts as one corrupt record.
            let offset = damage.offset;
            file.skip(SkipReason::CorruptRecord, offset);
            file.skipped_bytes += resumed_at.unwrap_or(file.bytes) - offset;
            file.damaged_stretches.push(DamagedStretch { offset, resumed_at });
            file.damage.get_or_insert_with(|| damage.clone());
        }
    }
}

/// Hands ended flows to the sink in batches of about the configured size: a large batch
/// from the table goes as it is, small ones are gathered first. Decisions depend on batch
/// sizes only, so the batches the sink sees are the same on every run.
pub(crate) fn deliver<E: From<Error>>(
    ready: &mut Vec<FlowBatch>,
    batch: &mut Gathered,
    sink: &mut impl FnMut(FlowBatch) -> Result<(), E>,
    options: &ScanOptions,
) -> Result<(), E> {
    for next in ready.drain(..) {
        if batch.is_empty() && options.batch_is_full(next.len(), next.packet_entries()) {
            sink(next)?;
            continue;
        }
        batch.push(next);
        if options.batch_is_full(batch.rows, batch.packets) {
            sink(batch.take())?;
        }
    }
    Ok(())
}

/// [`deliver`], then what is gathered as one last batch however small: every flow ended
/// so far is with the sink (before a checkpoint, at the end of a run).
pub(crate) fn deliver_all<E: From<Error>>(
    ready: &mut Vec<FlowBatch>,
    batch: &mut Gathered,
    sink: &mut impl FnMut(FlowBatch) -> Result<(), E>,
    options: &ScanOptions,
) -> Result<(), E> {
    deliver(ready, batch, sink, options)?;
    if !batch.is_empty() {
        sink(batch.take())?;
    }
    Ok(())
}

/// Batches gathered for the sink's next batch, joined once it is taken
/// ([`FlowBatch::concat`]).
#[derive(Default)]
pub(crate) struct Gathered {
    parts: Vec<FlowBatch>,
    rows: usize,
    packets: usize,
}

impl Gathered {
    fn is_empty(&self) -> bool {
        self.rows == 0
    }

    fn push(&mut self, b: FlowBatch) {
        if !b.is_empty() {
            self.rows += b.len();
            self.packets += b.packet_entries();
            self.parts.push(b);
        }
    }

    fn take(&mut self) -> FlowBatch {
        self.rows = 0;
        self.packets = 0;
        FlowBatch::concat(std::mem::take(&mut self.parts))
    }
}
