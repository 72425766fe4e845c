//! The flow table split into shards by key hash, each shard taking its packets stretch by
//! stretch, in input order, on whichever thread is free: no thread handles every packet.
//!
//! The threads that decode a stretch of input route each packet to its shard as they go
//! ([`Routed`]). One short step per stretch, in input order ([`ShardedTable::submit`]),
//! finds where sweeps and window ends fall — from the stretch's running maximum of packet
//! times and its packet count, at the same points of the input as the sequential
//! [`FlowTable`](super::FlowTable) sweeps — and matches IP fragments, which needs input
//! order across shards. Each shard then applies its own packets and those points; a shard
//! is owned by one task at a time, which takes its stretches in order. Every decision
//! about a flow depends only on that flow's own packets and on the sweep times: the flows
//! are the same for any number of threads.
//!
//! Each shard writes the flows it ended at each point (a window end or a sweep) as rows
//! sorted by (first packet time, key); the rows are gathered point by point, shard by
//! shard, and shards are fixed by a seeded hash of the key: the output rows, in order,
//! depend neither on the thread count nor on how the input was cut into stretches.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, MutexGuard};

use ahash::RandomState;
use rayon::prelude::*;

use super::batch::FlowBatch;
use super::config::FlowConfig;
use super::fragments::{FragmentCounts, FragmentTable};
use super::packet::{FlowPacket, key_hasher};
use super::prefetch::prefetch;
use super::record::{EndReason, Flow};
use super::shard::{FlowShard, emit_sorted};
use super::spill::SpillFailure;
use super::table::Clock;
use crate::Error;
use crate::codec::{Dec, Enc};
use crate::wire::decode::{Fragment, PacketMeta};

/// Shards: enough to spread work evenly over threads.
pub const SHARDS: usize = 64;
/// Packets between the points where rows are handed out, at most (about 20 MB of them).
/// Each shard gets about 4 000 packets between two points, enough to spread the cost of
/// sorting its ended flows thin: on the 20M campus capture with 2 threads, 2^18 ran in
/// 0.90 of the time of 2^17 (paired, n=5), 2^16 and 2^15 slower, 2^19 no faster.
pub const WINDOW_PACKETS: usize = 1 << 18;
/// Packets of a stretch built by [`ShardedTable::add`] before it is handed over.
const STRETCH_PACKETS: usize = 1 << 16;

/// The shard of a key's hash.
#[inline]
pub fn shard_of(hash: u64) -> usize {
    // Bits the shard's own table does not use to place the key: hashbrown takes its
    // bucket from the low bits and its tag from the top 7.
    (hash >> 32) as usize % SHARDS
}

/// One shard's packets of a stretch, with their positions in the stretch.
#[derive(Default, Debug)]
struct Bucket {
    packets: Vec<FlowPacket>,
    at: Vec<u32>,
}

/// An IP fragment of a stretch, matched to its first fragment in input order before it
/// has a key.
#[derive(Debug)]
pub struct PendingFragment {
    pub at: u32,
    pub meta: PacketMeta,
    pub ts_ns: i64,
    pub wire_len: u32,
    pub input_index: u32,
}

/// The packets of one stretch of input, routed to their shards by the thread that decoded
/// them. Positions count the stretch's packets (fragments included) from 0.
#[derive(Debug)]
pub struct Routed {
    buckets: Vec<Bucket>,
    fragments: Vec<PendingFragment>,
    /// The running maximum of the packet times: where a sweep falls is a search in it.
    max_ts: Vec<i64>,
}

impl Default for Routed {
    fn default() -> Self {
        Routed { buckets: (0..SHARDS).map(|_| Bucket::default()).collect(), fragments: Vec::new(), max_ts: Vec::new() }
    }
}

impl Routed {
    pub fn new() -> Routed {
        Routed::default()
    }

    /// Makes room for about `packets` more packets, spread over the shards as hashes
    /// spread them (a heavy flow's bucket still grows as it must): decoding a piece into
    /// buckets grown from empty copied each of them about twice over.
    pub fn reserve(&mut self, packets: usize) {
        let mean = packets / SHARDS;
        // A bucket's count is binomial: mean + 4 standard deviations is rarely passed.
        let per_bucket = mean + 4 * mean.isqrt() + 8;
        for b in &mut self.buckets {
            b.packets.reserve(per_bucket);
            b.at.reserve(per_bucket);
        }
        self.max_ts.reserve(packets);
    }

    /// Packets so far (fragments included).
    pub fn len(&self) -> usize {
        self.max_ts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.max_ts.is_empty()
    }

    #[inline]
    fn next_at(&mut self, ts_ns: i64) -> u32 {
        let at = self.max_ts.len() as u32;
        let max = self.max_ts.last().map_or(ts_ns, |&m| m.max(ts_ns));
        self.max_ts.push(max);
        at
    }

    /// Adds a packet made by [`FlowPacket::new`] with [`key_hasher`] from a packet that is
    /// not an IP fragment.
    #[inline]
    pub fn push(&mut self, packet: FlowPacket) {
        let at = self.next_at(packet.ts_ns);
        let bucket = &mut self.buckets[shard_of(packet.hash)];
        bucket.packets.push(packet);
        bucket.at.push(at);
        // A piece is written in 64 interleaved streams: ask for the bucket's next places
        // now, for the packet that will fill them.
        prefetch(bucket.packets.as_ptr().wrapping_add(bucket.packets.len()));
        prefetch(bucket.at.as_ptr().wrapping_add(bucket.at.len()));
    }

    /// Adds an IP fragment (its key is known once it is matched to its first fragment).
    pub fn push_fragment(&mut self, meta: PacketMeta, ts_ns: i64, wire_len: u32, input_index: u32) {
        let at = self.next_at(ts_ns);
        self.fragments.push(PendingFragment { at, meta, ts_ns, wire_len, input_index });
    }

    /// Adds a decoded packet, fragment or not.
    #[inline]
    pub fn push_meta(&mut self, meta: &PacketMeta, ts_ns: i64, wire_len: u32, input_index: u32, hasher: &RandomState) {
        if matches!(meta.fragment, Fragment::None) {
            self.push(FlowPacket::new(meta, ts_ns, wire_len, input_index, hasher));
        } else {
            self.push_fragment(*meta, ts_ns, wire_len, input_index);
        }
    }

    /// The running maximum of the packet times, by position.
    pub fn max_ts(&self) -> &[i64] {
        &self.max_ts
    }

    /// Takes the fragments out (in input order), for a caller that matches them itself;
    /// their positions stay taken.
    pub fn take_fragments(&mut self) -> Vec<PendingFragment> {
        std::mem::take(&mut self.fragments)
    }

    /// Puts `packet` (made by [`FlowPacket::new`] with [`key_hasher`]) at position `at`,
    /// which no packet holds: a fragment's, once it is matched.
    pub fn insert(&mut self, at: u32, packet: FlowPacket) {
        let bucket = &mut self.buckets[shard_of(packet.hash)];
        let i = bucket.at.partition_point(|&a| a < at);
        bucket.at.insert(i, at);
        bucket.packets.insert(i, packet);
    }

    /// Keeps the packets that `keep` keeps: for shard `s`, `keep(&mut states[s], position,
    /// packet)` for each of its packets in input order. Shards are taken side by side on
    /// `pool` (one after another without one). A packet not kept leaves its position
    /// empty: for the flow table, its time still counts.
    pub fn retain<S: Send>(
        &mut self,
        states: &mut [S],
        pool: Option<&rayon::ThreadPool>,
        keep: impl Fn(&mut S, u32, &FlowPacket) -> bool + Sync,
    ) {
        assert_eq!(states.len(), SHARDS, "a state per shard");
        let each = |(bucket, state): (&mut Bucket, &mut S)| {
            let mut kept = 0;
            for i in 0..bucket.packets.len() {
                if keep(state, bucket.at[i], &bucket.packets[i]) {
                    bucket.packets[kept] = bucket.packets[i];
                    bucket.at[kept] = bucket.at[i];
                    kept += 1;
                }
            }
            bucket.packets.truncate(kept);
            bucket.at.truncate(kept);
        };
        match pool {
            Some(pool) => pool.install(|| self.buckets.par_iter_mut().zip(states.par_iter_mut()).for_each(each)),
            None => self.buckets.iter_mut().zip(states.iter_mut()).for_each(each),
        }
    }

    /// The packets that are not fragments, with their positions (in shard order, then
    /// input order), and the fragments.
    pub fn parts(&self) -> (impl Iterator<Item = (u32, &FlowPacket)>, &[PendingFragment]) {
        let packets = self.buckets.iter().flat_map(|b| b.at.iter().copied().zip(&b.packets));
        (packets, &self.fragments)
    }
}

/// A point of a stretch where rows are handed out, before the packet at its position.
#[derive(Debug, Clone, Copy)]
enum Point {
    /// The end of a window: the flows ended so far go out.
    WindowEnd,
    /// A sweep at this clock: the flows ended so far go out, then those it ends.
    Sweep(i64),
}

#[derive(Default)]
struct Shard {
    table: FlowShard,
    ended: Vec<(Flow, EndReason)>,
}

/// Rows of one shard at one point: (the point's output slot, rows).
type Rows = Vec<(u32, FlowBatch)>;

impl Shard {
    /// Applies a stretch's packets of this shard and its points, writing the rows of each
    /// point that ended flows.
    fn apply(&mut self, bucket: &Bucket, points: &[(u32, Point)], config: &FlowConfig) -> Rows {
        let mut rows = Vec::new();
        let mut slot = 0;
        let mut i = 0;
        for &(at, point) in points {
            let n = bucket.at[i..].partition_point(|&a| a < at);
            for p in &bucket.packets[i..i + n] {
                self.table.add(p, config, &mut self.ended);
            }
            i += n;
            self.emit(&mut slot, &mut rows);
            if let Point::Sweep(now) = point {
                self.table.sweep(now, config, &mut self.ended);
                self.emit(&mut slot, &mut rows);
            }
        }
        for p in &bucket.packets[i..] {
            self.table.add(p, config, &mut self.ended);
        }
        rows
    }

    fn emit(&mut self, slot: &mut u32, rows: &mut Rows) {
        if !self.ended.is_empty() {
            let mut batch = FlowBatch::new();
            emit_sorted(&mut self.ended, &mut batch);
            rows.push((*slot, batch));
        }
        *slot += 1;
    }
}

/// One stretch for one shard.
struct Job {
    stretch: u64,
    bucket: Bucket,
    points: Arc<[(u32, Point)]>,
}

/// What a shard hands back for a stretch.
struct Done {
    stretch: u64,
    shard: usize,
    rows: Rows,
}

/// A shard, the stretches waiting for it, and whether a task owns it now.
#[derive(Default)]
struct Owner {
    shard: Mutex<Shard>,
    queue: Mutex<(VecDeque<Job>, bool)>,
}

/// What the shard tasks share.
struct Shared {
    config: FlowConfig,
    owners: Vec<Owner>,
    started: AtomicU64,
    done: Sender<Done>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().expect("a shard task does not panic")
}

impl Shared {
    /// Applies `job` at once (one thread) or queues it for its shard's owner.
    fn hand(self: &Arc<Self>, s: usize, job: Job, pool: Option<&rayon::ThreadPool>) {
        let Some(pool) = pool else {
            return self.run(s, job);
        };
        let mut queue = lock(&self.owners[s].queue);
        queue.0.push_back(job);
        if !std::mem::replace(&mut queue.1, true) {
            let shared = Arc::clone(self);
            pool.spawn(move || shared.own(s));
        }
    }

    /// Owns shard `s` until its queue is empty, applying its stretches in order.
    fn own(&self, s: usize) {
        loop {
            let job = {
                let mut queue = lock(&self.owners[s].queue);
                match queue.0.pop_front() {
                    Some(job) => job,
                    None => {
                        queue.1 = false;
                        return;
                    }
                }
            };
            self.run(s, job);
        }
    }

    fn run(&self, s: usize, job: Job) {
        let mut shard = lock(&self.owners[s].shard);
        let before = shard.table.started();
        let rows = shard.apply(&job.bucket, &job.points, &self.config);
        self.started.fetch_add(shard.table.started() - before, Ordering::Relaxed);
        drop(shard);
        // The receiver lives as long as the table that owns this.
        let _ = self.done.send(Done { stretch: job.stretch, shard: s, rows });
    }

    fn shards(&self) -> impl Iterator<Item = MutexGuard<'_, Shard>> {
        self.owners.iter().map(|o| lock(&o.shard))
    }
}

/// A stretch's answers so far: how many shards answered, and their rows as (slot, shard,
/// rows).
#[derive(Default)]
struct Answers(usize, Vec<(u32, usize, FlowBatch)>);

/// Rows of stretches handed over, gathered until every shard has answered.
#[derive(Default)]
struct Gathering {
    /// Stretches handed over, and gathered (in order).
    submitted: u64,
    gathered: u64,
    /// Per stretch not yet gathered: the answers so far.
    answers: BTreeMap<u64, Answers>,
}

impl Gathering {
    fn take(&mut self, d: Done) {
        let entry = self.answers.entry(d.stretch).or_default();
        entry.0 += 1;
        entry.1.extend(d.rows.into_iter().map(|(slot, rows)| (slot, d.shard, rows)));
    }

    /// Moves the rows of every fully answered stretch, in order, to `out`.
    fn hand_out(&mut self, out: &mut Vec<FlowBatch>) {
        while let Some(entry) = self.answers.first_entry() {
            if *entry.key() != self.gathered || entry.get().0 < SHARDS {
                return;
            }
            let Answers(_, mut rows) = entry.remove();
            rows.sort_unstable_by_key(|&(slot, shard, _)| (slot, shard));
            out.extend(rows.into_iter().map(|(_, _, b)| b));
            self.gathered += 1;
        }
    }

    fn in_flight(&self) -> u64 {
        self.submitted - self.gathered
    }
}

pub struct ShardedTable {
    shared: Arc<Shared>,
    done: Receiver<Done>,
    pool: Option<Arc<rayon::ThreadPool>>,
    gathering: Gathering,
    /// The stretch [`add`](Self::add) builds.
    building: Routed,
    fragments: FragmentTable,
    clock: Clock,
    hasher: RandomState,
    /// Packets since the last point.
    queued: usize,
    window_packets: usize,
    /// Shards ended so far, once the input is over.
    finished_shards: usize,
    /// Threads in all: shards ended at once when the input is over, and stretches in
    /// flight per thread.
    threads: usize,
}

/// Each shard holds its share of the cap, so what is evicted does not depend on the
/// thread count.
fn max_open_per_shard(config: &FlowConfig) -> Option<usize> {
    config.max_flows.map(|n| n.div_ceil(SHARDS))
}

/// The cap on open flows a sharded table enforces for `FlowConfig::max_flows = n`: every
/// shard holds up to its share, rounded up, so `n` rounded up to a multiple of [`SHARDS`].
pub fn enforced_max_flows(n: usize) -> usize {
    n.div_ceil(SHARDS).saturating_mul(SHARDS)
}

impl ShardedTable {
    /// A table working on `threads` threads in all: with one, everything runs on the
    /// caller's thread; with more, shards are applied on a pool of that many threads (which
    /// decoding can share: [`pool`](Self::pool)) while the caller hands stretches over.
    pub fn new(config: FlowConfig, threads: usize) -> ShardedTable {
        Self::with_window(config, threads, WINDOW_PACKETS)
    }

    /// Like `new`, its shards applied on `pool` (`None`: the caller's thread), which the
    /// caller may give other work too ([`threads::work_pool`](crate::threads::work_pool)).
    pub fn on_pool(config: FlowConfig, pool: Option<Arc<rayon::ThreadPool>>) -> ShardedTable {
        let (tables, clock) = Self::empty(&config);
        Self::assemble(config, pool, WINDOW_PACKETS, tables, FragmentTable::default(), clock)
    }

    /// Like `new`, with windows of `window_packets` packets (tests use tiny ones so
    /// window ends fall everywhere).
    pub fn with_window(config: FlowConfig, threads: usize, window_packets: usize) -> ShardedTable {
        let (tables, clock) = Self::empty(&config);
        let pool = crate::threads::work_pool(threads);
        Self::assemble(config, pool, window_packets, tables, FragmentTable::default(), clock)
    }

    fn empty(config: &FlowConfig) -> (Vec<FlowShard>, Clock) {
        let max_open = max_open_per_shard(config);
        ((0..SHARDS).map(|_| FlowShard::with_max_open(max_open)).collect(), Clock::new(config))
    }

    /// A table that goes on from a state [`save`](Self::save)d by a table of the same
    /// configuration (any thread count).
    pub fn restore(config: FlowConfig, threads: usize, d: &mut Dec) -> Result<ShardedTable, Error> {
        Self::restore_on_pool(config, crate::threads::work_pool(threads), d)
    }

    /// [`restore`](Self::restore), its shards applied on `pool` (see [`on_pool`](Self::on_pool)).
    pub fn restore_on_pool(
        config: FlowConfig,
        pool: Option<Arc<rayon::ThreadPool>>,
        d: &mut Dec,
    ) -> Result<ShardedTable, Error> {
        let clock = Clock::load(d, &config)?;
        let fragments = FragmentTable::load(d)?;
        let max_open = max_open_per_shard(&config);
        let hasher = key_hasher();
        let tables = (0..SHARDS).map(|_| FlowShard::load(d, max_open, &hasher)).collect::<Result<_, _>>()?;
        Ok(Self::assemble(config, pool, WINDOW_PACKETS, tables, fragments, clock))
    }

    fn assemble(
        config: FlowConfig,
        pool: Option<Arc<rayon::ThreadPool>>,
        window_packets: usize,
        tables: Vec<FlowShard>,
        fragments: FragmentTable,
        clock: Clock,
    ) -> ShardedTable {
        let threads = pool.as_ref().map_or(1, |p| p.current_num_threads());
        let owners: Vec<Owner> = tables
            .into_iter()
            .map(|table| Owner { shard: Mutex::new(Shard { table, ended: Vec::new() }), ..Owner::default() })
            .collect();
        let started = owners.iter().map(|o| lock(&o.shard).table.started()).sum();
        let (done_tx, done) = channel();
        let shared = Arc::new(Shared { config, owners, started: AtomicU64::new(started), done: done_tx });
        ShardedTable {
            shared,
            done,
            pool,
            gathering: Gathering::default(),
            building: Routed::new(),
            fragments,
            clock,
            hasher: key_hasher(),
            queued: 0,
            window_packets: window_packets.max(1),
            finished_shards: 0,
            threads,
        }
    }

    /// The threads shards are applied on (`None`: the caller's thread); decoding may run
    /// on them too.
    pub fn pool(&self) -> Option<Arc<rayon::ThreadPool>> {
        self.pool.clone()
    }

    /// Flows started so far (stretches applied so far).
    pub fn flows_started(&self) -> u64 {
        self.shared.started.load(Ordering::Relaxed)
    }

    /// Flows started, by input file index; complete after [`finish`](Self::finish).
    pub fn flows_started_by_input(&self) -> Vec<u64> {
        let mut total = Vec::new();
        for s in self.shared.shards() {
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

    /// Flows ended early to stay under `FlowConfig::max_flows`; complete after
    /// [`finish`](Self::finish).
    pub fn flows_evicted(&self) -> u64 {
        self.shared.shards().map(|s| s.table.evicted()).sum()
    }

    pub fn fragment_counts(&self) -> FragmentCounts {
        self.fragments.counts
    }

    /// Queues one decoded packet. Flows ended by it or by earlier packets appear in `out`
    /// (as batches, in order) at a later call.
    #[inline]
    pub fn add(&mut self, meta: PacketMeta, ts_ns: i64, wire_len: u32, input_index: u32, out: &mut Vec<FlowBatch>) {
        self.building.push_meta(&meta, ts_ns, wire_len, input_index, &self.hasher);
        if self.building.len() >= STRETCH_PACKETS {
            self.flush(out);
        }
    }

    fn flush(&mut self, out: &mut Vec<FlowBatch>) {
        if !self.building.is_empty() {
            let stretch = std::mem::take(&mut self.building);
            self.plan_and_hand(stretch, out);
        }
    }

    /// Hands over the next stretch of input. Rows of flows ended in earlier stretches
    /// appear in `out`, in order, as their shards are done with them.
    pub fn submit(&mut self, stretch: Routed, out: &mut Vec<FlowBatch>) {
        self.flush(out);
        self.plan_and_hand(stretch, out);
    }

    fn plan_and_hand(&mut self, mut stretch: Routed, out: &mut Vec<FlowBatch>) {
        let points = self.plan(&mut stretch);
        self.hand(stretch.buckets, points, out);
    }

    /// Finds where, in `stretch`, windows end and sweeps fall, exactly where the
    /// sequential table's clock would have them, and matches the stretch's fragments in
    /// input order (their packets join their shards' buckets).
    fn plan(&mut self, stretch: &mut Routed) -> Vec<(u32, Point)> {
        let n = stretch.len();
        let mut points = Vec::new();
        let mut pos = 0; // where the packets counted in `queued` end
        let mut fragments = std::mem::take(&mut stretch.fragments).into_iter().peekable();
        loop {
            let sweep = self.clock.next_sweep_in(&stretch.max_ts);
            let window = pos + (self.window_packets - self.queued);
            let fragment = fragments.peek().map_or(usize::MAX, |f| f.at as usize);
            if window <= n && window <= sweep && window <= fragment {
                points.push((window as u32, Point::WindowEnd));
                (pos, self.queued) = (window, 0);
            } else if sweep < n && sweep <= fragment {
                let now = stretch.max_ts[sweep];
                self.clock.sweep_at(now);
                self.fragments.expire(now);
                points.push((sweep as u32, Point::Sweep(now)));
                (pos, self.queued) = (sweep, 0);
            } else if fragment < n {
                let mut f = fragments.next().expect("peeked");
                self.fragments.resolve(&mut f.meta, f.ts_ns);
                let packet = FlowPacket::new(&f.meta, f.ts_ns, f.wire_len, f.input_index, &self.hasher);
                stretch.insert(f.at, packet);
            } else {
                break;
            }
        }
        self.queued += n - pos;
        if let Some(&max) = stretch.max_ts.last() {
            self.clock.pass(max);
        }
        points
    }

    /// Hands each shard its bucket and the points, then takes what has come back.
    fn hand(&mut self, buckets: Vec<Bucket>, points: Vec<(u32, Point)>, out: &mut Vec<FlowBatch>) {
        let stretch = self.gathering.submitted;
        self.gathering.submitted += 1;
        let points: Arc<[(u32, Point)]> = points.into();
        for (s, bucket) in buckets.into_iter().enumerate() {
            self.shared.hand(s, Job { stretch, bucket, points: Arc::clone(&points) }, self.pool.as_deref());
        }
        // Enough stretches in flight to keep every thread busy, few enough to bound memory.
        let most = 2 * self.threads as u64;
        while self.gathering.in_flight() > most {
            self.wait_one(out);
        }
        while let Ok(d) = self.done.try_recv() {
            self.gathering.take(d);
        }
        self.gathering.hand_out(out);
    }

    fn wait_one(&mut self, out: &mut Vec<FlowBatch>) {
        let d = self.done.recv().expect("the table holds a sender");
        self.gathering.take(d);
        self.gathering.hand_out(out);
    }

    /// Hands out the rows of flows ended so far at a point of its own (as the end of a
    /// window), then waits until every shard is idle.
    fn settle(&mut self, out: &mut Vec<FlowBatch>) {
        self.flush(out);
        if self.queued > 0 {
            self.queued = 0;
            let empty = (0..SHARDS).map(|_| Bucket::default()).collect();
            self.hand(empty, vec![(0, Point::WindowEnd)], out);
        }
        while self.gathering.in_flight() > 0 {
            self.wait_one(out);
        }
    }

    /// Hands out the rows of flows ended so far and writes the table's state: the clock,
    /// the fragment table, every shard's counters and open flows. A table
    /// [`restore`](Self::restore)d from it ends the same flows as this one would.
    pub fn save(&mut self, out: &mut Vec<FlowBatch>, e: &mut Enc) {
        self.settle(out);
        self.clock.save(e);
        self.fragments.save(e);
        for mut s in self.shared.shards() {
            s.table.save(e);
        }
    }

    /// The first I/O error of a shard's spill file (see `flow::spill`): when there is one,
    /// flows written since may lack entries, and the run must fail with it.
    pub fn spill_error(&self) -> Option<SpillFailure> {
        self.shared.shards().find_map(|s| s.table.spill_error().cloned())
    }

    /// Ends all open flows (the input is over) and writes every ended flow to `out`.
    pub fn finish(&mut self, out: &mut Vec<FlowBatch>) {
        while self.finish_step(out) {}
    }

    /// Ends the open flows of the next few shards (the input is over), on all threads;
    /// `false` once every shard is done and every row is in `out`. Taking the rows from
    /// `out` between steps keeps only a few shards' rows in memory.
    pub fn finish_step(&mut self, out: &mut Vec<FlowBatch>) -> bool {
        if self.finished_shards == 0 {
            self.settle(out);
        }
        if self.finished_shards == SHARDS {
            return false;
        }
        let next = (self.finished_shards + self.threads).min(SHARDS);
        let owners = &self.shared.owners[self.finished_shards..next];
        let end = |o: &Owner| {
            let mut shard = lock(&o.shard);
            let shard = &mut *shard;
            shard.table.finish(&mut shard.ended);
            let mut rows = FlowBatch::new();
            emit_sorted(&mut shard.ended, &mut rows);
            rows
        };
        let rows: Vec<FlowBatch> = match &self.pool {
            Some(pool) => pool.install(|| owners.par_iter().map(end).collect()),
            None => owners.iter().map(end).collect(),
        };
        out.extend(rows.into_iter().filter(|b| !b.is_empty()));
        self.finished_shards = next;
        true
    }
}
