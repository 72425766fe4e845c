//! Shards of a dump set that join exactly: a run over consecutive files of the input
//! ([`scan_shard`]) writes the flows it is sure of, and hands what it cannot decide alone
//! to a [`Joiner`], which goes through the shards in input order and gives the flows of
//! one run over all files — the same rows, the same counters. The layout is
//! `formats/shards.md`.
//!
//! A shard starts with an empty flow table, so what it cannot know is what was open when
//! it started: flows of earlier files that its packets may continue, and first fragments
//! whose later fragments it holds. Flows end only by their own packets and by sweeps, and
//! sweeps fall at multiples of the sweep interval of capture time (`flow::table::Clock`),
//! so a key the shard first sees once the idle timeout has passed since the shard began
//! (plus the fragment timeout) cannot continue anything: every flow open at the start has
//! ended by then, by the table's own idle rule. Such keys go through the shard's table as
//! in a single run. Keys seen earlier are *pending*: their packets are written to a
//! journal, interleaved with the sweeps, until an idle gap in the key's own packets ends
//! whatever flow they were in. The joiner replays each journal through the flow table's
//! rules (`FlowShard`) on top of the flows carried from the earlier shards, then adds the
//! flows the shard left open.
//!
//! Pending and settled are per key, and a key's packets all go to one flow-table shard:
//! each piece's packets are sorted into journal and table shard by shard, side by side on
//! the run's pool, and the entries are put back in input order, so the journal is byte for
//! byte the one a walk of the packets in input order writes. Only the sweeps and the
//! fragments (one fragment table for all keys) are taken in input order on one thread.
//!
//! Every step the joiner takes on the strength of that reasoning is checked (a flow that
//! must end at a packet does end by the table's rules); when one does not hold (time going
//! backwards across a boundary, say), joining stops with [`Error::NotExact`] rather
//! than give flows a single run would not. With the idle timeout off no key is ever
//! settled: shards journal every packet and the joiner does the flow work of one run.
//! `max_flows` ends flows by the table's global size, which no shard knows: refused.

use std::ops::Range;
use std::sync::Arc;

use ahash::RandomState;
use hashbrown::{HashMap, HashSet, HashTable};

use crate::Error;
use crate::capture::input::InputSet;
use crate::codec::{Dec, Enc};
use crate::flow::config::FlowConfig;
use crate::flow::fragments::{FRAGMENT_TIMEOUT_NS, FragmentCounts, FragmentTable};
use crate::flow::key::FlowKey;
use crate::flow::packet::{FlowPacket, key_hasher};
use crate::flow::record::{EndReason, Flow};
use crate::flow::shard::{FlowShard, emit_sorted};
use crate::flow::sharded::{PendingFragment, Routed, SHARDS, shard_of};
use crate::flow::table::{Clock, sweep_interval_ns};
use crate::flow::{FlowBatch, ShardedTable};
use crate::pieces::Piece;
use crate::scan::{
    FileReport, Gathered, Progress, ScanOptions, ScanReport, count_records, deliver, deliver_all, read_input,
};
use crate::threads::work_pool;
use crate::wire::decode::{Fragment, FragmentId, PacketMeta};

/// First bytes of a shard's hand-off (the digit is the layout version).
pub const TAIL_MAGIC: &[u8; 8] = b"FMHAND01";

/// The files of shard `k` (0-based) of `n`: consecutive files, cut where the bytes read
/// so far pass k/n of the total, so shards are about equally large. Shards past the last
/// file are empty.
pub fn plan(inputs: &InputSet, n: usize) -> Vec<Range<usize>> {
    let files = inputs.files.len();
    let total: u128 = inputs.files.iter().map(|f| u128::from(f.len)).sum();
    let mut cuts = vec![0];
    let (mut file, mut before) = (0, 0u128);
    for k in 1..n {
        let target = total * k as u128 / n as u128;
        while file < files && before < target {
            before += u128::from(inputs.files[file].len);
            file += 1;
        }
        // Every shard gets a file while there are files for all.
        let lo = (cuts[k - 1] + 1).min(files);
        let cut = file.clamp(lo, files.saturating_sub(n - k).max(lo));
        cuts.push(cut);
    }
    cuts.push(files);
    cuts.windows(2).map(|w| w[0]..w[1]).collect()
}

/// What a shard run produced besides its flows: its report (files of the shard only;
/// `flows` per file is left at 0: the joiner counts rows) and its hand-off tail.
pub struct ShardRun {
    pub report: ScanReport,
    pub tail: Vec<u8>,
}

/// Runs the files `range` of `inputs` as a shard: flows sure to be those of a single run
/// go to `sink`, the journal of pending keys to `journal` (in pieces, in order), and the
/// rest is in the returned tail. Input indices are those of the whole list.
pub fn scan_shard<E: From<Error>>(
    inputs: &InputSet,
    options: &ScanOptions,
    range: Range<usize>,
    sink: impl FnMut(FlowBatch) -> Result<(), E>,
    journal: impl FnMut(&[u8]) -> Result<(), E>,
    progress: impl FnMut(Progress),
) -> Result<ShardRun, E> {
    scan_shard_on(work_pool(options.threads), inputs, options, range, sink, journal, progress)
}

/// [`scan_shard`] with decoding, sorting packets into journal and table, and the flow
/// table's shards on `pool`, which the caller may give other work too (the store's
/// encoding). What stays on the caller's thread, beside the pool, is per piece: its
/// sweeps and fragments, and putting the journal's entries in order (a pool of one
/// thread fewer ran 1.27x as long on two cores, when the whole packet loop was there).
pub fn scan_shard_on<E: From<Error>>(
    pool: Option<Arc<rayon::ThreadPool>>,
    inputs: &InputSet,
    options: &ScanOptions,
    range: Range<usize>,
    mut sink: impl FnMut(FlowBatch) -> Result<(), E>,
    mut journal: impl FnMut(&[u8]) -> Result<(), E>,
    mut progress: impl FnMut(Progress),
) -> Result<ShardRun, E> {
    assert!(options.flow.max_flows.is_none(), "shards cannot keep a global cap on open flows");
    // Ended flows, and those gathered into the sink's next batch: batches of the size a
    // whole run hands over (a batch per window point made a part of ~100 rows).
    let mut ready: Vec<FlowBatch> = Vec::new();
    let mut batch = Gathered::default();
    let mut report =
        ScanReport { ignored: inputs.ignored.clone(), in_progress: inputs.in_progress.clone(), ..Default::default() };
    let files = &inputs.files[range.clone()];
    let mut prog = Progress { bytes_total: files.iter().map(|f| f.len).sum(), ..Default::default() };
    let mut shard = Shard::new(options, pool.clone());
    progress(prog);
    for (index, input) in inputs.files.iter().enumerate().take(range.end).skip(range.start) {
        let index = index as u32;
        let each = |piece: Piece, file: &mut FileReport, _: &mut Progress| {
            count_records(&piece, file);
            shard.piece(piece.routed, &mut ready);
            if !ready.is_empty() {
                deliver(&mut ready, &mut batch, &mut sink, options)?;
            }
            if shard.journal.0.len() >= 1 << 20 {
                journal(&std::mem::take(&mut shard.journal.0))?;
            }
            Ok::<(), E>(())
        };
        read_input((index, input), options, pool.as_deref(), &mut report, &mut prog, &mut progress, each)?;
    }
    journal(&std::mem::take(&mut shard.journal.0))?;
    report.packets_in_flows = report.packets_total - report.skipped.total();
    let (tail, mut rows) = shard.finish(&report.files)?;
    deliver_all(&mut rows, &mut batch, &mut sink, options)?;
    Ok(ShardRun { report, tail })
}

/// Keys with their latest packet time, found by the hash the flow table gives the key
/// ([`FlowPacket::hash`]): a packet's key is hashed once, when it is decoded.
#[derive(Default)]
struct Pending(HashTable<(u64, FlowKey, i64)>);

impl Pending {
    fn get_mut(&mut self, hash: u64, key: &FlowKey) -> Option<&mut i64> {
        self.0.find_mut(hash, |(_, k, _)| k == key).map(|(.., latest)| latest)
    }

    /// Adds `key`, which is not here.
    fn insert(&mut self, hash: u64, key: FlowKey, ts_ns: i64) {
        self.0.insert_unique(hash, (hash, key, ts_ns), |&(h, ..)| h);
    }

    fn remove(&mut self, hash: u64, key: &FlowKey) {
        if let Ok(entry) = self.0.find_entry(hash, |(_, k, _)| k == key) {
            entry.remove();
        }
    }
}

/// Journal entries.
const SWEEP: u8 = 0;
const PACKET: u8 = 1;
const SETTLE: u8 = 2;
const LATER_FRAGMENT: u8 = 3;

/// A shard run's state besides its flow table.
struct Shard {
    config: FlowConfig,
    table: ShardedTable,
    /// Resolves fragments before packets are sorted into pending and settled keys.
    fragments: FragmentTable,
    /// The same clock as the table's: its sweeps go to the journal.
    clock: Clock,
    interval_ns: i64,
    hasher: RandomState,
    /// Time of the shard's first packet.
    start: Option<i64>,
    /// What the run knows of the keys of each flow-table shard (a key's packets all go to
    /// one), so that the shards' packets are sorted side by side.
    keys: Vec<Keys>,
    /// Datagrams whose later fragments may have a first fragment in an earlier shard.
    uncertain: HashSet<FragmentId, RandomState>,
    journal: Enc,
    /// Why the shard cannot be joined exactly, if it cannot.
    inexact: Option<String>,
}

/// The keys of one flow-table shard, and its journal entries of the piece at hand.
#[derive(Default)]
struct Keys {
    /// Keys first seen before `start + window`, not settled yet: their latest packet time.
    pending: Pending,
    /// Keys first seen just after the window, with the time: a flow carried in that no
    /// sweep has ended yet must end there.
    boundary: HashMap<FlowKey, i64, RandomState>,
    /// The piece's entries, and where each starts in them, with its position.
    entries: Enc,
    marks: Vec<(u32, usize)>,
    /// Keys of later fragments journaled whole (see [`Shard::fragment`]), in input order:
    /// (position, hash, key, time). `touched` of them are applied.
    touches: Vec<(u32, u64, FlowKey, i64)>,
    touched: usize,
}

/// When a packet's key is sure to be a single run's (see the module's notes).
#[derive(Clone, Copy)]
struct Rules {
    start: i64,
    /// How long after `start` a flow carried in may go on (`None`: for ever).
    window_ns: Option<i64>,
    idle_ns: Option<u64>,
    interval_ns: i64,
}

impl Rules {
    fn in_window(&self, ts_ns: i64) -> bool {
        self.window_ns.is_none_or(|w| ts_ns < self.start.saturating_add(w))
    }
}

impl Keys {
    /// Sends the packet at `at` to the journal (its key is pending) or keeps it for the
    /// table (true).
    fn keyed(&mut self, at: u32, p: &FlowPacket, rules: &Rules) -> bool {
        self.touch_before(at);
        let in_window = rules.in_window(p.ts_ns);
        match self.pending.get_mut(p.hash, &p.key) {
            Some(latest) => {
                let gap = p.ts_ns.saturating_sub(*latest);
                if !in_window && rules.idle_ns.is_some_and(|idle| gap >= 0 && gap as u64 >= idle) {
                    // Whatever flow the key was in ends before this packet, in any run.
                    self.entry(at, SETTLE, p);
                    self.pending.remove(p.hash, &p.key);
                    true
                } else {
                    *latest = (*latest).max(p.ts_ns);
                    self.entry(at, PACKET, p);
                    false
                }
            }
            None if in_window => {
                self.pending.insert(p.hash, p.key, p.ts_ns);
                self.entry(at, PACKET, p);
                false
            }
            None => {
                let window = rules.window_ns.expect("outside the window, so there is one");
                if p.ts_ns < rules.start.saturating_add(window).saturating_add(2 * rules.interval_ns) {
                    self.boundary.entry(p.key).or_insert(p.ts_ns);
                }
                true
            }
        }
    }

    fn entry(&mut self, at: u32, tag: u8, p: &FlowPacket) {
        self.marks.push((at, self.entries.0.len()));
        put_packet(&mut self.entries, tag, p);
    }

    /// Applies the touches of positions before `at`.
    fn touch_before(&mut self, at: u32) {
        while let Some(&(pos, hash, key, ts_ns)) = self.touches.get(self.touched)
            && pos < at
        {
            match self.pending.get_mut(hash, &key) {
                Some(latest) => *latest = (*latest).max(ts_ns),
                None => self.pending.insert(hash, key, ts_ns),
            }
            self.touched += 1;
        }
    }

    /// Applies the piece's last touches and forgets its entries.
    fn end_piece(&mut self) {
        self.touch_before(u32::MAX);
        self.touches.clear();
        self.touched = 0;
        self.entries.0.clear();
        self.marks.clear();
    }
}

impl Shard {
    fn new(options: &ScanOptions, pool: Option<Arc<rayon::ThreadPool>>) -> Shard {
        let config = options.flow.clone();
        Shard {
            table: ShardedTable::on_pool(config.clone(), pool),
            fragments: FragmentTable::default(),
            clock: Clock::new(&config),
            interval_ns: sweep_interval_ns(&config),
            hasher: key_hasher(),
            start: None,
            keys: (0..SHARDS).map(|_| Keys::default()).collect(),
            uncertain: HashSet::default(),
            journal: Enc::default(),
            inexact: None,
            config,
        }
    }

    /// How long after the shard's start a flow carried in may still go on: the idle
    /// timeout, plus the fragment timeout (a later fragment may join a carried flow that
    /// long after the start). `None`: for ever (no idle timeout).
    fn window_ns(&self) -> Option<i64> {
        self.config.idle_timeout_ns.map(|idle| (idle as i64).saturating_add(FRAGMENT_TIMEOUT_NS))
    }

    fn rules(&self) -> Rules {
        Rules {
            start: self.start.expect("set by the first packet"),
            window_ns: self.window_ns(),
            idle_ns: self.config.idle_timeout_ns,
            interval_ns: self.interval_ns,
        }
    }

    /// Takes a piece's packets: sweeps and fragments in input order here, then each
    /// flow-table shard's packets sorted into journal and table side by side on the pool,
    /// the journal entries put back in input order, and the kept packets handed to the
    /// table as one stretch (a journaled packet's position stays, empty: its time counts).
    fn piece(&mut self, mut routed: Routed, ready: &mut Vec<FlowBatch>) {
        let n = routed.len();
        if n == 0 {
            return;
        }
        self.start.get_or_insert(routed.max_ts()[0]);
        let mut sweeps = Vec::new();
        let mut fragments = Keys::default();
        let mut pending = routed.take_fragments().into_iter().peekable();
        loop {
            // A packet's sweep comes before the packet (as a walk's clock has it).
            let sweep = self.clock.next_sweep_in(routed.max_ts());
            let fragment = pending.peek().map_or(n, |f| f.at as usize);
            if sweep < n && sweep <= fragment {
                let now = routed.max_ts()[sweep];
                self.clock.sweep_at(now);
                self.fragments.expire(now);
                sweeps.push((sweep as u32, now));
            } else if fragment < n {
                let f = pending.next().expect("peeked");
                self.fragment(f, &mut routed, &mut fragments);
            } else {
                break;
            }
        }
        if let Some(&max) = routed.max_ts().last() {
            self.clock.pass(max);
        }
        let rules = self.rules();
        let pool = self.table.pool();
        routed.retain(&mut self.keys, pool.as_deref(), |keys, at, p| keys.keyed(at, p, &rules));
        self.put_entries(&sweeps, &fragments);
        self.keys.iter_mut().for_each(Keys::end_piece);
        self.table.submit(routed, ready);
    }

    /// Matches a fragment at its position: a later fragment whose first may be in an
    /// earlier shard goes to the journal whole (an entry of `journaled`); any other is
    /// keyed and put back among the packets.
    fn fragment(&mut self, f: PendingFragment, routed: &mut Routed, journaled: &mut Keys) {
        let PendingFragment { at, meta, ts_ns, wire_len, input_index } = f;
        let mut resolved = meta;
        let joined = self.fragments.counts.joined;
        self.fragments.resolve(&mut resolved, ts_ns);
        if let Fragment::Later(id) = meta.fragment
            && self.fragments.counts.joined == joined
            && (ts_ns < self.start.expect("set by the piece").saturating_add(FRAGMENT_TIMEOUT_NS)
                || self.uncertain.contains(&id))
        {
            // Its first fragment may be in an earlier shard: the joiner resolves it.
            self.fragments.counts.unmatched -= 1;
            self.uncertain.insert(id);
            if !self.rules().in_window(ts_ns) {
                self.inexact.get_or_insert_with(|| {
                    format!("fragments of one IP datagram (id {}) go on past {} s into the shard", id.id, ts_ns)
                });
            }
            journaled.marks.push((at, journaled.entries.0.len()));
            put_later_fragment(&mut journaled.entries, &meta, ts_ns, wire_len, input_index);
            // Whichever flow it joins, the key it has here must be replayed too.
            let (key, _) = FlowKey::of(&resolved);
            let hash = self.hasher.hash_one(key);
            self.keys[shard_of(hash)].touches.push((at, hash, key, ts_ns));
            return;
        }
        routed.insert(at, FlowPacket::new(&resolved, ts_ns, wire_len, input_index, &self.hasher));
    }

    /// Writes the piece's journal entries in input order: at each position its sweep
    /// first, then the record's own entry.
    fn put_entries(&mut self, sweeps: &[(u32, i64)], fragments: &Keys) {
        // (position, sweep before entry, source: a shard's keys or the fragments, mark)
        let sources: Vec<&Keys> = self.keys.iter().chain([fragments]).collect();
        let mut order: Vec<(u32, bool, u8, u32)> =
            sweeps.iter().enumerate().map(|(i, &(at, _))| (at, false, 0, i as u32)).collect();
        for (s, keys) in sources.iter().enumerate() {
            order.extend(keys.marks.iter().enumerate().map(|(i, &(at, _))| (at, true, s as u8, i as u32)));
        }
        order.sort_unstable();
        for (_, entry, s, i) in order {
            let i = i as usize;
            if !entry {
                self.journal.u8(SWEEP);
                self.journal.i64(sweeps[i].1);
                continue;
            }
            let keys = sources[s as usize];
            let end = keys.marks.get(i + 1).map_or(keys.entries.0.len(), |m| m.1);
            self.journal.0.extend_from_slice(&keys.entries.0[keys.marks[i].1..end]);
        }
    }

    /// Writes the tail: the start, the clock, the fragment table, the flows left open
    /// (taken out of the table unended), the boundary keys, the file reports.
    fn finish(mut self, files: &[FileReport]) -> Result<(Vec<u8>, Vec<FlowBatch>), Error> {
        let mut rows = Vec::new();
        let mut state = Enc::default();
        self.table.save(&mut rows, &mut state);
        if let Some(e) = self.table.spill_error() {
            return Err(e.into());
        }
        let open = open_flows(&state.0, &self.config);
        let mut e = Enc::default();
        e.array(TAIL_MAGIC);
        match self.start {
            None => e.u8(0),
            Some(t) => {
                e.u8(1);
                e.i64(t);
            }
        }
        self.clock.save(&mut e);
        self.fragments.save(&mut e);
        e.u64(open.len() as u64);
        for flow in &open {
            flow.save(&mut e);
        }
        let mut boundary: Vec<(FlowKey, i64)> = self.keys.into_iter().flat_map(|k| k.boundary).collect();
        boundary.sort_unstable();
        e.u64(boundary.len() as u64);
        for (key, ts) in &boundary {
            put_key(&mut e, key);
            e.i64(*ts);
        }
        e.u64(files.len() as u64);
        for f in files {
            f.save(&mut e);
        }
        match &self.inexact {
            None => e.u8(0),
            Some(why) => {
                e.u8(1);
                e.bytes(why.as_bytes());
            }
        }
        Ok((e.0, rows))
    }
}

/// The open flows of a saved [`ShardedTable`] state, in a fixed order.
fn open_flows(state: &[u8], config: &FlowConfig) -> Vec<Flow> {
    let mut d = Dec::new(state);
    let hasher = key_hasher();
    let read = |d: &mut Dec| -> Result<Vec<Flow>, Error> {
        Clock::load(d, config)?;
        FragmentTable::load(d)?;
        let mut open = Vec::new();
        for _ in 0..crate::flow::sharded::SHARDS {
            let mut shard = FlowShard::load(d, None, &hasher)?;
            let mut ended = Vec::new();
            shard.finish(&mut ended);
            open.extend(ended.into_iter().map(|(f, _)| f));
        }
        Ok(open)
    };
    let mut open = read(&mut d).expect("a state this process just wrote");
    open.sort_unstable_by_key(|f| (f.first_ts_ns, f.key));
    open
}

fn put_key(e: &mut Enc, k: &FlowKey) {
    e.u16(k.vlan);
    e.u8(k.ip_version);
    e.u8(k.protocol);
    e.array(&k.lo_addr);
    e.u16(k.lo_port);
    e.array(&k.hi_addr);
    e.u16(k.hi_port);
}

fn get_key(d: &mut Dec) -> Result<FlowKey, Error> {
    Ok(FlowKey {
        vlan: d.u16()?,
        ip_version: d.u8()?,
        protocol: d.u8()?,
        lo_addr: d.array()?,
        lo_port: d.u16()?,
        hi_addr: d.array()?,
        hi_port: d.u16()?,
    })
}

fn put_packet(e: &mut Enc, tag: u8, p: &FlowPacket) {
    e.u8(tag);
    put_key(e, &p.key);
    e.bool(p.sender_is_lo);
    e.i64(p.ts_ns);
    e.u32(p.wire_len);
    e.u32(p.input_index);
    e.u32(p.ip_len);
    e.u32(p.l4_payload_len);
    e.u16(p.tcp_window);
    e.u8(p.tcp_flags);
    e.u8(p.tunnel);
}

fn get_packet(d: &mut Dec, hasher: &RandomState) -> Result<FlowPacket, Error> {
    let key = get_key(d)?;
    Ok(FlowPacket {
        key,
        hash: hasher.hash_one(key),
        sender_is_lo: d.bool()?,
        ts_ns: d.i64()?,
        wire_len: d.u32()?,
        input_index: d.u32()?,
        ip_len: d.u32()?,
        l4_payload_len: d.u32()?,
        tcp_window: d.u16()?,
        tcp_flags: d.u8()?,
        tunnel: d.u8()?,
    })
}

fn put_fragment_id(e: &mut Enc, id: &FragmentId) {
    e.u8(id.ip_version);
    e.u8(id.protocol);
    e.array(&id.src);
    e.array(&id.dst);
    e.u32(id.id);
    e.u16(id.vlan);
}

fn put_later_fragment(e: &mut Enc, m: &PacketMeta, ts_ns: i64, wire_len: u32, input_index: u32) {
    let Fragment::Later(id) = m.fragment else { unreachable!("only later fragments are journaled") };
    e.u8(LATER_FRAGMENT);
    put_fragment_id(e, &id);
    e.u8(m.ip_version);
    e.u8(m.protocol);
    e.array(&m.src);
    e.array(&m.dst);
    e.u16(m.src_port);
    e.u16(m.dst_port);
    e.u16(m.vlan);
    e.u32(m.ip_len);
    e.u32(m.l4_payload_len);
    e.u8(m.tcp_flags);
    e.u16(m.tcp_window);
    e.u8(m.tunnel);
    e.i64(ts_ns);
    e.u32(wire_len);
    e.u32(input_index);
}

fn get_later_fragment(d: &mut Dec) -> Result<(PacketMeta, i64, u32, u32), Error> {
    let id = FragmentId {
        ip_version: d.u8()?,
        protocol: d.u8()?,
        src: d.array()?,
        dst: d.array()?,
        id: d.u32()?,
        vlan: d.u16()?,
    };
    let meta = PacketMeta {
        ip_version: d.u8()?,
        protocol: d.u8()?,
        src: d.array()?,
        dst: d.array()?,
        src_port: d.u16()?,
        dst_port: d.u16()?,
        vlan: d.u16()?,
        ip_len: d.u32()?,
        l4_payload_len: d.u32()?,
        tcp_flags: d.u8()?,
        tcp_window: d.u16()?,
        fragment: Fragment::Later(id),
        tunnel: d.u8()?,
    };
    Ok((meta, d.i64()?, d.u32()?, d.u32()?))
}

/// Joins shards in input order into the flows of one run.
pub struct Joiner {
    config: FlowConfig,
    /// The flows open at the last boundary, carried on.
    table: FlowShard,
    fragments: FragmentTable,
    clock: Clock,
    hasher: RandomState,
    ended: Vec<(Flow, EndReason)>,
}

impl Joiner {
    pub fn new(config: FlowConfig) -> Joiner {
        Joiner {
            clock: Clock::new(&config),
            table: FlowShard::default(),
            fragments: FragmentTable::default(),
            hasher: key_hasher(),
            ended: Vec::new(),
            config,
        }
    }

    /// Joins the next shard: its journal is replayed on the flows carried so far, then
    /// the flows it left open are carried on. Flows this ends go to `out`; the shard's
    /// file reports are returned.
    pub fn join(&mut self, journal: &[u8], tail: &[u8], out: &mut FlowBatch) -> Result<Vec<FileReport>, Error> {
        let mut t = Dec::new(tail);
        if t.take(TAIL_MAGIC.len()).ok() != Some(&TAIL_MAGIC[..]) {
            return Err(Error::NotAState);
        }
        let start = match t.u8()? {
            0 => None,
            1 => Some(t.i64()?),
            _ => return Err(t.corrupt()),
        };
        let end_clock = Clock::load(&mut t, &self.config)?;
        let local_fragments = FragmentTable::load(&mut t)?;
        let n = t.count(100)?;
        let mut open = Vec::with_capacity(n);
        for _ in 0..n {
            let mut flow = Flow::load(&mut t)?;
            flow.hash = self.hasher.hash_one(flow.key);
            open.push(flow);
        }
        let n = t.count(48)?;
        let mut boundary = Vec::with_capacity(n);
        for _ in 0..n {
            boundary.push((get_key(&mut t)?, t.i64()?));
        }
        let n = t.count(1)?;
        let mut files = Vec::with_capacity(n);
        for _ in 0..n {
            files.push(FileReport::load(&mut t)?);
        }
        let inexact = match t.u8()? {
            0 => None,
            1 => Some(String::from_utf8_lossy(t.bytes()?).into_owned()),
            _ => return Err(t.corrupt()),
        };
        if !t.is_done() {
            return Err(t.corrupt());
        }
        if let Some(why) = inexact {
            return Err(Error::NotExact(why));
        }
        let Some(start) = start else {
            // No packets: nothing happened.
            return Ok(files);
        };

        // The shard swept at its first packet; the single run swept there only if due.
        let mut global = self.clock;
        let first_sweep_due = global.advance(start);
        let mut local = Clock::new(&self.config);
        local.advance(start);
        if global.next_sweep_ns() != local.next_sweep_ns() {
            return Err(Error::NotExact(format!(
                "the shard's first packet ({start} ns) is earlier than packets before it ({} ns), across a sweep",
                self.clock.now_ns
            )));
        }
        self.replay(journal, first_sweep_due)?;
        self.clock = end_clock;
        self.fragments.absorb(local_fragments);
        for (key, ts) in boundary {
            self.end_carried(&key, 0, ts)?;
        }
        for flow in open {
            let first_flags = flow.packets.first().map_or(0, |p| p.tcp_flags);
            self.end_carried(&flow.key, first_flags, flow.first_ts_ns)?;
            self.table.insert_open(flow);
        }
        emit_sorted(&mut self.ended, out);
        Ok(files)
    }

    /// Ends the carried flow of `key`, if one is open, before the shard's packet at
    /// `ts_ns`: it must end there by the table's rules.
    fn end_carried(&mut self, key: &FlowKey, tcp_flags: u8, ts_ns: i64) -> Result<(), Error> {
        let hash = self.hasher.hash_one(key);
        match self.table.end_before(key, hash, tcp_flags, ts_ns, &self.config, &mut self.ended) {
            Some(false) => Err(Error::NotExact(format!(
                "a flow open at the shard's start would go on at {ts_ns} ns, after the shard settled its key"
            ))),
            _ => Ok(()),
        }
    }

    fn replay(&mut self, journal: &[u8], first_sweep_due: bool) -> Result<(), Error> {
        let mut d = Dec::new(journal);
        let mut first = true;
        while !d.is_done() {
            match d.u8()? {
                SWEEP => {
                    let now = d.i64()?;
                    if std::mem::take(&mut first) && !first_sweep_due {
                        continue;
                    }
                    self.table.sweep(now, &self.config, &mut self.ended);
                    self.fragments.expire(now);
                }
                PACKET => {
                    let p = get_packet(&mut d, &self.hasher)?;
                    self.table.add(&p, &self.config, &mut self.ended);
                }
                SETTLE => {
                    let p = get_packet(&mut d, &self.hasher)?;
                    if self.table.end_before(&p.key, p.hash, p.tcp_flags, p.ts_ns, &self.config, &mut self.ended)
                        == Some(false)
                    {
                        return Err(Error::NotExact(format!(
                            "a flow would go on at {} ns, where the shard found an idle gap",
                            p.ts_ns
                        )));
                    }
                }
                LATER_FRAGMENT => {
                    let (mut meta, ts_ns, wire_len, input_index) = get_later_fragment(&mut d)?;
                    self.fragments.resolve(&mut meta, ts_ns);
                    let p = FlowPacket::new(&meta, ts_ns, wire_len, input_index, &self.hasher);
                    self.table.add(&p, &self.config, &mut self.ended);
                }
                _ => return Err(d.corrupt()),
            }
        }
        Ok(())
    }

    /// Ends every flow still open (the last shard is joined) into `out`.
    pub fn finish(&mut self, out: &mut FlowBatch) -> Result<(), Error> {
        self.table.finish(&mut self.ended);
        emit_sorted(&mut self.ended, out);
        match self.table.spill_error() {
            Some(e) => Err(e.clone().into()),
            None => Ok(()),
        }
    }

    /// Fragment counts over all shards joined so far.
    pub fn fragment_counts(&self) -> FragmentCounts {
        self.fragments.counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::protocol::PROTOCOL_ICMP;

    const S: i64 = 1_000_000_000;

    /// An ICMP packet (ports 0, as an unmatched later fragment is keyed) at `ts_ns`.
    fn icmp(ts_ns: i64) -> FlowPacket {
        let (key, sender_is_lo) = FlowKey::between(0, 4, PROTOCOL_ICMP, ([10; 16], 0), ([20; 16], 0));
        FlowPacket {
            key,
            hash: key_hasher().hash_one(key),
            ts_ns,
            wire_len: 60,
            input_index: 1,
            ip_len: 46,
            l4_payload_len: 38,
            tcp_window: 0,
            tcp_flags: 0,
            tunnel: 0,
            sender_is_lo,
        }
    }

    /// A key touched by a journaled later fragment is pending from the fragment's position
    /// on: before it the key's packets go to the table, after it to the journal until an
    /// idle gap settles it; a touch after the piece's last packet still counts.
    #[test]
    fn a_touch_makes_its_key_pending_from_its_position_on() {
        let rules = Rules { start: 0, window_ns: Some(10 * S), idle_ns: Some(5 * S as u64), interval_ns: S };
        let p = icmp(0);
        let touches = vec![(5, p.hash, p.key, 21 * S), (11, p.hash, p.key, 40 * S)];
        let mut keys = Keys { touches, ..Keys::default() };
        assert!(keys.keyed(3, &icmp(20 * S), &rules), "not pending yet: to the table");
        assert!(!keys.keyed(7, &icmp(22 * S), &rules), "pending since the touch: journaled");
        assert!(keys.keyed(9, &icmp(30 * S), &rules), "an idle gap settles it: to the table");
        let tags: Vec<(u32, u8)> = keys.marks.iter().map(|&(at, i)| (at, keys.entries.0[i])).collect();
        assert_eq!(tags, [(7, PACKET), (9, SETTLE)]);
        assert!(keys.pending.get_mut(p.hash, &p.key).is_none(), "settled");
        keys.end_piece();
        assert_eq!(keys.pending.get_mut(p.hash, &p.key).copied(), Some(40 * S), "the last touch applied");
        assert!(keys.marks.is_empty() && keys.entries.0.is_empty() && keys.touches.is_empty());
    }
}
