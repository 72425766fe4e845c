//! The flow table split into shards by key hash, so shards can be updated in parallel,
//! and fed by a pipeline, so reading and decoding overlap with the table updates.
//!
//! The caller's thread resolves fragments, hashes keys and queues each packet to its
//! shard, in input order. A full window of queued packets goes to the shard thread, which
//! applies it shard by shard on a rayon pool while the caller decodes the next window.
//! Every decision about a flow depends only on that flow's own packets and on the sweep
//! times, and sweeps happen at the same points of the input as in the sequential
//! [`FlowTable`](super::FlowTable): the flows are the same for any number of threads.
//!
//! Each shard turns its ended flows into columns itself, sorted by (first packet time,
//! key). The caller takes a window's rows just before it hands over the next window —
//! points fixed by the input alone — shard by shard, and shards are fixed by a seeded
//! hash of the key: the output rows, in order, do not depend on the thread count either.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use ahash::RandomState;
use rayon::prelude::*;

use super::batch::FlowBatch;
use super::config::FlowConfig;
use super::fragments::{FragmentCounts, FragmentTable};
use super::packet::{FlowPacket, key_hasher};
use super::record::{EndReason, Flow};
use super::shard::{FlowShard, emit_sorted};
use super::table::Clock;
use crate::codec::{Dec, Enc, StateError};
use crate::wire::decode::PacketMeta;

/// Shards: enough to spread work evenly over threads.
pub const SHARDS: usize = 64;
/// Packets queued before they are applied (about 20 MB of queued packets). Each shard
/// gets about 4 000 packets a window, enough to spread its fixed costs (a task, sorting
/// its ended flows) thin: on the 20M campus capture with 2 threads, 2^18 ran in 0.90 of
/// the time of 2^17 (paired, n=5), 2^16 and 2^15 slower, 2^19 no faster.
pub const WINDOW_PACKETS: usize = 1 << 18;

#[derive(Default)]
struct Shard {
    table: FlowShard,
    /// The packets of the window being applied.
    inbox: Vec<FlowPacket>,
    ended: Vec<(Flow, EndReason)>,
    out: FlowBatch,
}

/// What the shard thread is asked to do.
enum Work {
    /// Apply these queued packets (one inbox per shard).
    Window(Vec<Vec<FlowPacket>>),
    /// End the flows whose time is up at this clock.
    Sweep(i64),
    /// End all flows of these shards (a few at a time, so only a few shards' rows are
    /// held at once when the input is over).
    FinishShards(std::ops::Range<usize>),
    /// Write every shard's state (for a checkpoint).
    Save,
}

/// What it hands back: the rows of the flows ended (a batch per shard that ended any),
/// and the emptied inboxes for reuse.
struct Done {
    rows: Vec<FlowBatch>,
    inboxes: Vec<Vec<FlowPacket>>,
    /// The shards' state, for [`Work::Save`].
    saved: Option<Vec<u8>>,
}

/// The shards and the rules to apply work to them, wherever they run.
struct Shards {
    config: FlowConfig,
    shards: Vec<Shard>,
    pool: Option<rayon::ThreadPool>,
    started: Arc<AtomicU64>,
}

impl Shards {
    fn apply(&mut self, work: &mut Work) -> Vec<FlowBatch> {
        let config = &self.config;
        let started_before: u64 = self.flows_started();
        match work {
            Work::Window(inboxes) => {
                // The inboxes are lent to the shards and handed back empty, for reuse.
                for (s, inbox) in self.shards.iter_mut().zip(inboxes.iter_mut()) {
                    std::mem::swap(&mut s.inbox, inbox);
                }
                for_each_shard(self.pool.as_ref(), &mut self.shards, |s| {
                    for p in s.inbox.drain(..) {
                        s.table.add(&p, config, &mut s.ended);
                    }
                    emit_sorted(&mut s.ended, &mut s.out);
                });
                for (s, inbox) in self.shards.iter_mut().zip(inboxes.iter_mut()) {
                    std::mem::swap(&mut s.inbox, inbox);
                }
            }
            Work::Sweep(now) => {
                let now = *now;
                for_each_shard(self.pool.as_ref(), &mut self.shards, |s| {
                    s.table.sweep(now, config, &mut s.ended);
                    emit_sorted(&mut s.ended, &mut s.out);
                });
            }
            Work::FinishShards(range) => {
                for_each_shard_with_caller(self.pool.as_ref(), &mut self.shards[range.clone()], |s| {
                    s.table.finish(&mut s.ended);
                    emit_sorted(&mut s.ended, &mut s.out);
                });
            }
            Work::Save => {}
        }
        self.started.fetch_add(self.flows_started() - started_before, Ordering::Relaxed);
        // Moved, not copied: the shards' batches go out as they are, in shard order.
        self.shards.iter_mut().filter(|s| !s.out.is_empty()).map(|s| std::mem::take(&mut s.out)).collect()
    }

    fn flows_started(&self) -> u64 {
        self.shards.iter().flat_map(|s| s.table.started_by_input()).sum()
    }

    fn flows_evicted(&self) -> u64 {
        self.shards.iter().map(|s| s.table.evicted()).sum()
    }

    fn save(&self) -> Vec<u8> {
        let mut e = Enc::default();
        for s in &self.shards {
            s.table.save(&mut e);
        }
        e.0
    }

    fn started_by_input(&self) -> Vec<u64> {
        let mut total = Vec::new();
        for s in &self.shards {
            let counts = s.table.started_by_input();
            if total.len() < counts.len() {
                total.resize(counts.len(), 0);
            }
            for (t, c) in total.iter_mut().zip(counts) {
                *t += c;
            }
        }
        total
    }
}

fn for_each_shard(pool: Option<&rayon::ThreadPool>, shards: &mut [Shard], f: impl Fn(&mut Shard) + Sync + Send) {
    match pool {
        Some(pool) => pool.install(|| shards.par_iter_mut().for_each(&f)),
        None => shards.iter_mut().for_each(f),
    }
}

/// Like [`for_each_shard`], with the calling thread taking a share: at the end of input
/// the thread that read and decoded packets has nothing else to do.
fn for_each_shard_with_caller(
    pool: Option<&rayon::ThreadPool>,
    shards: &mut [Shard],
    f: impl Fn(&mut Shard) + Sync + Send,
) {
    match pool {
        Some(pool) => {
            let (here, there) = shards.split_at_mut(shards.len() / (pool.current_num_threads() + 1));
            pool.in_place_scope(|scope| {
                scope.spawn(|_| there.par_iter_mut().for_each(&f));
                here.iter_mut().for_each(&f);
            });
        }
        None => shards.iter_mut().for_each(f),
    }
}

/// Where the shards live: on the caller's thread (one thread) or on a shard thread.
enum Runner {
    Inline(Shards),
    Pipelined(ShardThread),
}

/// The shard thread and the two channels to it; at most one piece of work in flight.
struct ShardThread {
    /// `None` once closed: closing it ends the thread, which hands the shards back.
    work: Option<SyncSender<Work>>,
    done: Receiver<Done>,
    thread: Option<JoinHandle<Shards>>,
    waiting: bool,
}

impl ShardThread {
    /// Takes the answer to the work in flight, if any: its rows go to `out`, its emptied
    /// inboxes to `spare`.
    fn take_done(&mut self, out: &mut Vec<FlowBatch>, spare: &mut Option<Vec<Vec<FlowPacket>>>) -> Option<Vec<u8>> {
        if std::mem::take(&mut self.waiting) {
            let d = self.done.recv().expect("the shard thread answers");
            out.extend(d.rows);
            if !d.inboxes.is_empty() {
                *spare = Some(d.inboxes);
            }
            return d.saved;
        }
        None
    }

    fn send(&mut self, work: Work) {
        self.work.as_ref().expect("the shard thread is running").send(work).expect("the shard thread is running");
        self.waiting = true;
    }

    /// Ends the thread and takes the shards back (`None` when already stopped).
    fn stop(&mut self) -> Option<std::thread::Result<Shards>> {
        self.work = None;
        self.thread.take().map(JoinHandle::join)
    }
}

pub struct ShardedTable {
    runner: Runner,
    inboxes: Vec<Vec<FlowPacket>>,
    spare: Option<Vec<Vec<FlowPacket>>>,
    fragments: FragmentTable,
    clock: Clock,
    hasher: RandomState,
    queued: usize,
    window_packets: usize,
    started: Arc<AtomicU64>,
    started_by_input: Option<Vec<u64>>,
    /// Flows evicted to stay under the cap, once the input is over.
    evicted: Option<u64>,
    /// Shards ended so far, once the input is over.
    finished_shards: usize,
    /// Threads in all: shards ended at once when the input is over.
    threads: usize,
}

#[inline]
fn shard_of(hash: u64) -> usize {
    // Bits the shard's own table does not use to place the key: hashbrown takes its
    // bucket from the low bits and its tag from the top 7.
    (hash >> 32) as usize % SHARDS
}

/// Each shard holds its share of the cap, so what is evicted does not depend on the
/// thread count.
fn max_open_per_shard(config: &FlowConfig) -> Option<usize> {
    config.max_flows.map(|n| n.div_ceil(SHARDS))
}

fn empty_inboxes() -> Vec<Vec<FlowPacket>> {
    (0..SHARDS).map(|_| Vec::new()).collect()
}

impl ShardedTable {
    /// A table working on `threads` threads in all: with one, everything runs on the
    /// caller's thread; with more, the caller reads and queues while `threads - 1` threads
    /// update the shards.
    pub fn new(config: FlowConfig, threads: usize) -> ShardedTable {
        Self::with_window(config, threads, WINDOW_PACKETS)
    }

    /// Like `new`, with windows of `window_packets` packets (tests use tiny ones so
    /// window ends fall everywhere).
    pub fn with_window(config: FlowConfig, threads: usize, window_packets: usize) -> ShardedTable {
        let max_open = max_open_per_shard(&config);
        let tables = (0..SHARDS).map(|_| FlowShard::with_max_open(max_open)).collect();
        let clock = Clock::new(&config);
        Self::assemble(config, threads, window_packets, tables, FragmentTable::default(), clock)
    }

    /// A table that goes on from a state [`save`](Self::save)d by a table of the same
    /// configuration (any thread count).
    pub fn restore(config: FlowConfig, threads: usize, d: &mut Dec) -> Result<ShardedTable, StateError> {
        let clock = Clock::load(d, &config)?;
        let fragments = FragmentTable::load(d)?;
        let max_open = max_open_per_shard(&config);
        let hasher = key_hasher();
        let tables = (0..SHARDS).map(|_| FlowShard::load(d, max_open, &hasher)).collect::<Result<_, _>>()?;
        Ok(Self::assemble(config, threads, WINDOW_PACKETS, tables, fragments, clock))
    }

    /// Applies every queued packet, hands the rows of the flows ended so far to `out`,
    /// and writes the table's state: the clock, the fragment table, every shard's counters
    /// and open flows. A table [`restore`](Self::restore)d from it ends the same flows as
    /// this one would.
    pub fn save(&mut self, out: &mut Vec<FlowBatch>, e: &mut Enc) {
        self.submit_window(out);
        self.clock.save(e);
        self.fragments.save(e);
        let saved = match &mut self.runner {
            Runner::Inline(shards) => shards.save(),
            Runner::Pipelined(t) => {
                t.take_done(out, &mut self.spare);
                t.send(Work::Save);
                t.take_done(out, &mut self.spare).expect("the shard thread answers a save")
            }
        };
        e.0.extend_from_slice(&saved);
    }

    fn assemble(
        config: FlowConfig,
        threads: usize,
        window_packets: usize,
        tables: Vec<FlowShard>,
        fragments: FragmentTable,
        clock: Clock,
    ) -> ShardedTable {
        let threads = crate::threads::thread_count(threads);
        let mut shards = Shards {
            config,
            shards: tables.into_iter().map(|table| Shard { table, ..Shard::default() }).collect(),
            pool: None,
            started: Arc::new(AtomicU64::new(0)),
        };
        let started = Arc::clone(&shards.started);
        started.store(shards.flows_started(), Ordering::Relaxed);
        let runner = if threads <= 1 {
            Runner::Inline(shards)
        } else {
            shards.pool = Some(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads - 1)
                    .thread_name(|i| format!("flowmine-shard-{i}"))
                    .build()
                    .expect("threads can be started"),
            );
            // One window in flight: the caller prepares the next while this one is applied.
            let (work_tx, work_rx) = sync_channel::<Work>(1);
            let (done_tx, done_rx) = sync_channel::<Done>(1);
            let thread = std::thread::Builder::new()
                .name("flowmine-shards".into())
                .spawn(move || {
                    let mut shards = shards;
                    for mut work in work_rx {
                        let rows = shards.apply(&mut work);
                        let saved = matches!(work, Work::Save).then(|| shards.save());
                        let inboxes = match work {
                            Work::Window(inboxes) => inboxes,
                            _ => Vec::new(),
                        };
                        if done_tx.send(Done { rows, inboxes, saved }).is_err() {
                            break;
                        }
                    }
                    shards
                })
                .expect("threads can be started");
            Runner::Pipelined(ShardThread { work: Some(work_tx), done: done_rx, thread: Some(thread), waiting: false })
        };
        ShardedTable {
            runner,
            inboxes: empty_inboxes(),
            spare: None,
            fragments,
            clock,
            hasher: key_hasher(),
            queued: 0,
            window_packets: window_packets.max(1),
            started,
            started_by_input: None,
            evicted: None,
            finished_shards: 0,
            threads,
        }
    }

    /// Flows started so far (windows applied so far).
    pub fn flows_started(&self) -> u64 {
        self.started.load(Ordering::Relaxed)
    }

    /// Flows started, by input file index; complete after [`finish`](Self::finish).
    pub fn flows_started_by_input(&self) -> Vec<u64> {
        match (&self.started_by_input, &self.runner) {
            (Some(counts), _) => counts.clone(),
            (None, Runner::Inline(shards)) => shards.started_by_input(),
            (None, Runner::Pipelined(_)) => Vec::new(),
        }
    }

    /// Flows ended early to stay under `FlowConfig::max_flows`; complete after
    /// [`finish`](Self::finish).
    pub fn flows_evicted(&self) -> u64 {
        match (self.evicted, &self.runner) {
            (Some(n), _) => n,
            (None, Runner::Inline(shards)) => shards.flows_evicted(),
            (None, Runner::Pipelined(_)) => 0,
        }
    }

    pub fn fragment_counts(&self) -> FragmentCounts {
        self.fragments.counts
    }

    /// Queues one decoded packet. Flows ended by it or by earlier packets appear in `out`
    /// (as batches, in order) at a later call.
    #[inline]
    pub fn add(&mut self, mut meta: PacketMeta, ts_ns: i64, wire_len: u32, input_index: u32, out: &mut Vec<FlowBatch>) {
        self.tick(ts_ns, out);
        let packet = self.fragments.packet(&mut meta, ts_ns, wire_len, input_index, &self.hasher);
        self.queue(packet, out);
    }

    /// Queues a packet made by [`FlowPacket::new`] with [`key_hasher`] from a packet that
    /// is not an IP fragment (fragments go through [`add`](Self::add)): decoding and
    /// hashing can then happen on other threads.
    #[inline]
    pub fn add_packet(&mut self, packet: FlowPacket, out: &mut Vec<FlowBatch>) {
        self.tick(packet.ts_ns, out);
        self.queue(packet, out);
    }

    /// Advances the clock to the time of a packet that goes elsewhere (a shard of a dump
    /// set keeps some packets aside, `handoff`), sweeping when a sweep is due.
    pub fn advance(&mut self, ts_ns: i64, out: &mut Vec<FlowBatch>) {
        self.tick(ts_ns, out);
    }

    /// Advances the clock to a packet's time, sweeping when a sweep is due.
    #[inline]
    fn tick(&mut self, ts_ns: i64, out: &mut Vec<FlowBatch>) {
        if self.clock.advance(ts_ns) {
            self.submit_window(out);
            self.submit(Work::Sweep(self.clock.now_ns), out);
            self.fragments.expire(self.clock.now_ns);
        }
    }

    #[inline]
    fn queue(&mut self, packet: FlowPacket, out: &mut Vec<FlowBatch>) {
        self.inboxes[shard_of(packet.hash)].push(packet);
        self.queued += 1;
        if self.queued >= self.window_packets {
            self.submit_window(out);
        }
    }

    /// Ends all open flows (the input is over) and writes every ended flow to `out`.
    pub fn finish(&mut self, out: &mut Vec<FlowBatch>) {
        while self.finish_step(out) {}
    }

    /// Ends the open flows of the next few shards (the input is over); `false` once every shard
    /// is done and every row is in `out`. Taking the rows from `out` between steps keeps
    /// only a few shards' rows in memory.
    pub fn finish_step(&mut self, out: &mut Vec<FlowBatch>) -> bool {
        if self.finished_shards == 0 {
            self.submit_window(out);
        }
        if self.finished_shards < SHARDS {
            let next = (self.finished_shards + self.threads).min(SHARDS);
            self.submit(Work::FinishShards(self.finished_shards..next), out);
            self.finished_shards = next;
            return true;
        }
        if self.started_by_input.is_some() {
            return false;
        }
        match &mut self.runner {
            Runner::Inline(shards) => {
                self.started_by_input = Some(shards.started_by_input());
                self.evicted = Some(shards.flows_evicted());
            }
            Runner::Pipelined(t) => {
                t.take_done(out, &mut self.spare);
                let shards = t.stop().expect("finished once").expect("the shard thread does not panic");
                self.started_by_input = Some(shards.started_by_input());
                self.evicted = Some(shards.flows_evicted());
            }
        }
        true
    }

    fn submit_window(&mut self, out: &mut Vec<FlowBatch>) {
        if self.queued == 0 {
            return;
        }
        let next = self.spare.take().unwrap_or_else(empty_inboxes);
        let window = std::mem::replace(&mut self.inboxes, next);
        self.queued = 0;
        self.submit(Work::Window(window), out);
    }

    /// Hands `work` over. The previous work's rows go to `out` first, so rows always
    /// arrive at the same points of the input.
    fn submit(&mut self, mut work: Work, out: &mut Vec<FlowBatch>) {
        match &mut self.runner {
            Runner::Inline(shards) => {
                out.extend(shards.apply(&mut work));
                if let Work::Window(inboxes) = work {
                    self.spare = Some(inboxes);
                }
            }
            Runner::Pipelined(t) => {
                t.take_done(out, &mut self.spare);
                t.send(work);
            }
        }
    }
}

impl Drop for ShardedTable {
    fn drop(&mut self) {
        if let Runner::Pipelined(t) = &mut self.runner {
            let _ = t.stop();
        }
    }
}
