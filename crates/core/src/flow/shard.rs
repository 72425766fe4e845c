//! One flow table over a slice of the key space: packets of one key always reach the same
//! shard, in input order, so each shard can run on its own thread.
//!
//! The rules for starting, continuing and ending flows live here, once; the sequential
//! [`FlowTable`](super::FlowTable) and the sharded engine both use them.

use ahash::RandomState;

use super::batch::FlowBatch;
use super::config::FlowConfig;
use super::key::FlowKey;
use super::open::OpenFlows;
use super::packet::FlowPacket;
use super::prefetch::prefetch;
use super::record::{EndReason, Flow};
use super::spill::{Spill, SpillFailure};
use crate::Error;
use crate::codec::{Dec, Enc};
use crate::wire::protocol::PROTOCOL_TCP;
use crate::wire::tcp;

/// Open flows of one shard.
#[derive(Default)]
pub struct FlowShard {
    flows: OpenFlows,
    /// Flows started, by input file index, and in all.
    started_by_input: Vec<u64>,
    started: u64,
    /// The most open flows this shard holds (its share of `FlowConfig::max_flows`).
    max_open: Option<usize>,
    /// Flows ended early to stay under `max_open` (closed flows that were only lingering
    /// keep their own end reason and are not counted).
    evicted: u64,
    /// Scratch for choosing whom to evict: (last packet time, key) of every open flow.
    ages: Vec<(i64, FlowKey)>,
    /// Where long-lived flows' entries go (see `flow::spill`); a flow leaving the shard
    /// takes them back first.
    spill: Spill,
}

impl FlowShard {
    /// A shard that holds at most `max_open` open flows (at least one).
    pub fn with_max_open(max_open: Option<usize>) -> FlowShard {
        FlowShard { max_open: max_open.map(|n| n.max(1)), ..FlowShard::default() }
    }

    /// Flows ended early to keep the shard under its cap.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    pub fn open_flows(&self) -> usize {
        self.flows.len()
    }

    /// Flows started in all.
    pub fn started(&self) -> u64 {
        self.started
    }

    /// Flows started, by input file index (shorter than the file list when the last
    /// files started none).
    pub fn started_by_input(&self) -> &[u64] {
        &self.started_by_input
    }

    /// The first I/O error of the shard's spill file: the flows it touched lack entries.
    pub fn spill_error(&self) -> Option<&SpillFailure> {
        self.spill.error()
    }

    /// Puts a packet in its flow; flows it ends go to `ended`.
    #[inline]
    pub fn add(&mut self, p: &FlowPacket, config: &FlowConfig, ended: &mut Vec<(Flow, EndReason)>) {
        let before = ended.len();
        let new_flow = || {
            let mut flow = Flow::new(p.key, p.sender_is_lo, p.ts_ns, p.tunnel, p.input_index);
            flow.hash = p.hash;
            flow
        };
        let flow = match self.flows.find_mut(p.hash, &p.key) {
            Some(flow) => {
                if let Some(reason) = ends_before(flow, p.tcp_flags, p.ts_ns, config) {
                    ended.push((std::mem::replace(flow, new_flow()), reason));
                    count_start(&mut self.started_by_input, p.input_index);
                    self.started += 1;
                }
                flow
            }
            None => {
                if self.max_open.is_some_and(|max| self.flows.len() >= max) {
                    self.evict_oldest(ended);
                }
                count_start(&mut self.started_by_input, p.input_index);
                self.started += 1;
                self.flows.insert(new_flow())
            }
        };
        let keep = config.packets.keeps(flow.total_packets());
        flow.add(p, keep);
        if keep && flow.packets.len() >= config.spill_after {
            self.spill.spill(flow);
        }
        if config.tcp_close && p.key.protocol == PROTOCOL_TCP && flow.closed.is_none() {
            if p.tcp_flags & tcp::RST != 0 {
                flow.closed = Some(EndReason::TcpRst);
            } else if flow.fwd.fin && flow.bwd.fin {
                flow.closed = Some(EndReason::TcpFin);
            }
        }
        if ended.len() > before {
            self.spill.rejoin(&mut ended[before..]);
        }
    }

    /// Ends the least recently seen eighth of the open flows (at least one), ties broken by
    /// key so the choice never depends on hash order. Evicting in bulk keeps the cost of
    /// finding them (one pass over the table) at a few steps per new flow.
    #[cold]
    fn evict_oldest(&mut self, ended: &mut Vec<(Flow, EndReason)>) {
        let n = (self.flows.len() / 8).max(1);
        self.ages.clear();
        self.ages.extend(self.flows.iter().map(|f| (f.last_ts_ns, f.key)));
        let (_, &mut cutoff, _) = self.ages.select_nth_unstable(n - 1);
        let evicted = &mut self.evicted;
        self.flows.extract_if(
            |f| (f.last_ts_ns, f.key) <= cutoff,
            |flow| {
                // A closed flow still lingering has ended already: its own reason stands.
                let reason = flow.closed.unwrap_or(EndReason::Evicted);
                *evicted += u64::from(reason == EndReason::Evicted);
                ended.push((flow, reason));
            },
        );
    }

    /// Ends every flow whose time is up at `now`.
    pub fn sweep(&mut self, now: i64, config: &FlowConfig, ended: &mut Vec<(Flow, EndReason)>) {
        let before = ended.len();
        self.flows.extract_if(
            |flow| expired(flow, now, config).is_some(),
            |flow| {
                let reason = expired(&flow, now, config).expect("filtered on it");
                ended.push((flow, reason));
            },
        );
        self.spill.rejoin(&mut ended[before..]);
    }

    /// Ends the open flow of `key` if the table's rules end it before a packet at `ts_ns`
    /// with `tcp_flags`: `None` when no flow of `key` is open, else whether it ended.
    /// (Joining shards of a dump set: a packet the shard saw ends a flow carried in.)
    pub fn end_before(
        &mut self,
        key: &FlowKey,
        hash: u64,
        tcp_flags: u8,
        ts_ns: i64,
        config: &FlowConfig,
        ended: &mut Vec<(Flow, EndReason)>,
    ) -> Option<bool> {
        let open = self.flows.find_mut(hash, key)?;
        let Some(reason) = ends_before(open, tcp_flags, ts_ns, config) else { return Some(false) };
        let mut flow = self.flows.remove(hash, key).expect("found just now");
        self.spill.join(&mut flow);
        ended.push((flow, reason));
        Some(true)
    }

    /// Puts an open flow (whose `hash` is set) in the table; no flow of its key may be open.
    pub fn insert_open(&mut self, flow: Flow) {
        self.flows.insert(flow);
    }

    /// Ends all open flows (the input is over).
    pub fn finish(&mut self, ended: &mut Vec<(Flow, EndReason)>) {
        let before = ended.len();
        ended.extend(self.flows.drain().map(|flow| {
            let reason = flow.closed.unwrap_or(EndReason::EndOfInput);
            (flow, reason)
        }));
        self.spill.rejoin(&mut ended[before..]);
    }
}

impl FlowShard {
    /// Writes the shard's state: counters, then every open flow with all its entries
    /// (spilled ones are taken back into memory first; the flows spill again as they grow).
    pub fn save(&mut self, e: &mut Enc) {
        for flow in self.flows.iter_mut() {
            self.spill.join(flow);
        }
        e.u64(self.started_by_input.len() as u64);
        for &n in &self.started_by_input {
            e.u64(n);
        }
        e.u64(self.evicted);
        e.u64(self.flows.len() as u64);
        for flow in self.flows.iter() {
            flow.save(e);
        }
    }

    /// Reads what [`save`](Self::save) wrote, hashing keys with `hasher`.
    pub fn load(d: &mut Dec, max_open: Option<usize>, hasher: &RandomState) -> Result<FlowShard, Error> {
        let mut shard = FlowShard::with_max_open(max_open);
        let n = d.count(8)?;
        for _ in 0..n {
            shard.started_by_input.push(d.u64()?);
        }
        shard.started = shard.started_by_input.iter().sum();
        shard.evicted = d.u64()?;
        let n = d.count(100)?;
        for _ in 0..n {
            let mut flow = Flow::load(d)?;
            flow.hash = hasher.hash_one(flow.key);
            shard.flows.insert(flow);
        }
        Ok(shard)
    }
}

/// Counts a flow started by a packet of input file `input_index`.
fn count_start(started_by_input: &mut Vec<u64>, input_index: u32) {
    let i = input_index as usize;
    if started_by_input.len() <= i {
        started_by_input.resize(i + 1, 0);
    }
    started_by_input[i] += 1;
}

/// Whether `flow` is over before a packet at `ts_ns` (which then starts a new flow).
#[inline]
fn ends_before(flow: &Flow, tcp_flags: u8, ts_ns: i64, config: &FlowConfig) -> Option<EndReason> {
    // The linger never outlasts the timeouts: a closed flow ends at whichever comes first.
    if let Some(reason) = flow.closed {
        let bare_syn = tcp_flags & (tcp::SYN | tcp::ACK) == tcp::SYN;
        if bare_syn || elapsed(flow.last_ts_ns, ts_ns) >= config.tcp_close_linger_ns {
            return Some(reason);
        }
    }
    timed_out(flow, ts_ns, config).map(|timeout| flow.closed.unwrap_or(timeout))
}

/// Whether the clock at `now` has passed one of `flow`'s deadlines.
fn expired(flow: &Flow, now: i64, config: &FlowConfig) -> Option<EndReason> {
    match flow.closed {
        Some(reason) if elapsed(flow.last_ts_ns, now) >= config.tcp_close_linger_ns => Some(reason),
        closed => timed_out(flow, now, config).map(|timeout| closed.unwrap_or(timeout)),
    }
}

fn timed_out(flow: &Flow, at: i64, config: &FlowConfig) -> Option<EndReason> {
    if config.idle_timeout_ns.is_some_and(|t| elapsed(flow.last_ts_ns, at) >= t) {
        return Some(EndReason::Idle);
    }
    if config.active_timeout_ns.is_some_and(|t| elapsed(flow.first_ts_ns, at) >= t) {
        return Some(EndReason::Active);
    }
    None
}

/// Nanoseconds from `from` to `to`; 0 when time went backwards.
#[inline]
fn elapsed(from: i64, to: i64) -> u64 {
    u64::try_from(to.saturating_sub(from)).unwrap_or(0)
}

/// How many flows ahead [`emit_sorted`] asks for a flow's packets.
const EMIT_AHEAD: usize = 4;

/// Writes ended flows to `out` in (first packet time, key) order, so the output never
/// depends on hash order or on which shard ended what.
pub fn emit_sorted(ended: &mut Vec<(Flow, EndReason)>, out: &mut FlowBatch) {
    ended.sort_unstable_by_key(|(f, _)| (f.first_ts_ns, f.key));
    let mut flows = ended.drain(..);
    loop {
        // Each flow's packets are somewhere else on the heap: ask for them a few flows ahead.
        if let Some((ahead, _)) = flows.as_slice().get(EMIT_AHEAD) {
            prefetch(ahead.packets.as_ptr());
        }
        let Some((flow, reason)) = flows.next() else { break };
        out.push(flow, reason);
    }
}
