//! The flow table split into shards by key hash, so shards can be updated in parallel.
//!
//! Packets are resolved (fragments) and hashed in input order, then queued to their
//! shard; a window of queued packets is applied shard by shard on the rayon pool. Every
//! decision about a flow depends only on that flow's own packets and on the sweep times,
//! and sweeps happen at the same points of the input as in the sequential
//! [`FlowTable`](super::FlowTable): the flows are the same for any number of threads.
//! Ended flows are collected at window ends — points fixed by the input alone — and
//! written in (first packet time, key) order, so the output rows are too.

use ahash::RandomState;
use rayon::prelude::*;

use super::batch::FlowBatch;
use super::config::FlowConfig;
use super::fragments::{FragmentCounts, FragmentTable};
use super::record::{EndReason, Flow};
use super::shard::{FlowPacket, FlowShard, emit_sorted, key_hasher};
use super::table::Clock;
use crate::wire::decode::PacketMeta;

/// Shards: enough to spread work evenly over threads, few enough that a window still
/// gives each shard a useful run of packets.
pub const SHARDS: usize = 64;
/// Packets queued before the shards are updated (about 20 MB of queued packets).
pub const WINDOW_PACKETS: usize = 1 << 17;

#[derive(Default)]
struct Shard {
    table: FlowShard,
    inbox: Vec<FlowPacket>,
    ended: Vec<(Flow, EndReason)>,
    out: FlowBatch,
}

impl Shard {
    /// Moves the flows ended so far into `out`, as columns.
    fn emit(&mut self) {
        emit_sorted(&mut self.ended, &mut self.out);
    }
}

pub struct ShardedTable {
    config: FlowConfig,
    /// The threads shards are updated on (a pool of its own, so `--threads` is exact).
    pool: rayon::ThreadPool,
    shards: Vec<Shard>,
    fragments: FragmentTable,
    clock: Clock,
    hasher: RandomState,
    queued: usize,
    window_packets: usize,
}

#[inline]
fn shard_of(hash: u64) -> usize {
    // Bits the shard's own table does not use to place the key: hashbrown takes its
    // bucket from the low bits and its tag from the top 7.
    (hash >> 32) as usize % SHARDS
}

impl ShardedTable {
    /// A table updating its shards on `threads` threads (0 = one per core).
    pub fn new(config: FlowConfig, threads: usize) -> ShardedTable {
        Self::with_window(config, threads, WINDOW_PACKETS)
    }

    /// Like `new`, with windows of `window_packets` packets (tests use tiny ones so
    /// window ends fall everywhere).
    pub fn with_window(config: FlowConfig, threads: usize, window_packets: usize) -> ShardedTable {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("flowmine-shard-{i}"))
            .build()
            .expect("threads can be started");
        ShardedTable {
            pool,
            clock: Clock::new(&config),
            config,
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            fragments: FragmentTable::default(),
            hasher: key_hasher(),
            queued: 0,
            window_packets: window_packets.max(1),
        }
    }

    pub fn open_flows(&self) -> usize {
        self.shards.iter().map(|s| s.table.open_flows()).sum()
    }

    /// Flows started so far (only counts applied windows).
    pub fn flows_started(&self) -> u64 {
        self.shards.iter().flat_map(|s| s.table.started_by_input()).sum()
    }

    /// Flows started so far, by input file index (only counts applied windows).
    pub fn flows_started_by_input(&self) -> Vec<u64> {
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

    pub fn fragment_counts(&self) -> FragmentCounts {
        self.fragments.counts
    }

    /// Queues one decoded packet. Flows ended by it or by earlier packets may appear in
    /// `out` now or at a later call.
    #[inline]
    pub fn add(&mut self, mut meta: PacketMeta, ts_ns: i64, wire_len: u32, input_index: u32, out: &mut FlowBatch) {
        if self.clock.advance(ts_ns) {
            self.apply_window();
            self.sweep();
            self.collect(out);
        }
        self.fragments.resolve(&mut meta, ts_ns);
        let packet = FlowPacket::new(&meta, ts_ns, wire_len, input_index, &self.hasher);
        self.shards[shard_of(packet.hash)].inbox.push(packet);
        self.queued += 1;
        if self.queued >= self.window_packets {
            self.apply_window();
            self.collect(out);
        }
    }

    /// Ends all open flows (the input is over) and writes every ended flow to `out`.
    pub fn finish(&mut self, out: &mut FlowBatch) {
        self.apply_window();
        let shards = &mut self.shards;
        self.pool.install(|| {
            shards.par_iter_mut().for_each(|s| {
                s.table.finish(&mut s.ended);
                s.emit();
            })
        });
        self.collect(out);
    }

    fn apply_window(&mut self) {
        if self.queued == 0 {
            return;
        }
        let (config, shards) = (&self.config, &mut self.shards);
        self.pool.install(|| {
            shards.par_iter_mut().for_each(|s| {
                for p in s.inbox.drain(..) {
                    s.table.add(&p, config, &mut s.ended);
                }
                s.emit();
            })
        });
        self.queued = 0;
    }

    fn sweep(&mut self) {
        let now = self.clock.now_ns;
        let (config, shards) = (&self.config, &mut self.shards);
        self.pool.install(|| {
            shards.par_iter_mut().for_each(|s| {
                s.table.sweep(now, config, &mut s.ended);
                s.emit();
            })
        });
        self.fragments.expire(now);
    }

    fn collect(&mut self, out: &mut FlowBatch) {
        for s in &mut self.shards {
            out.extend_from(&s.out);
            s.out.clear();
        }
    }
}
