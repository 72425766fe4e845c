//! The flow table: assigns each packet to its open flow, starts new flows, and ends them
//! by idle timeout, active timeout and TCP close.
//!
//! Ended flows go to a [`FlowBatch`] as the scan advances, so memory follows the number of
//! open flows, not the input size. Whenever several flows end at once they are written in
//! (first packet time, key) order, so the output never depends on hash order.

use ahash::RandomState;
use hashbrown::HashMap;

use super::batch::FlowBatch;
use super::config::{FlowConfig, SECOND};
use super::fragments::{FragmentCounts, FragmentTable};
use super::key::FlowKey;
use super::record::{EndReason, Flow};
use crate::wire::decode::{PROTOCOL_TCP, PacketMeta};
use crate::wire::tcp;

pub struct FlowTable {
    config: FlowConfig,
    flows: HashMap<FlowKey, Flow, RandomState>,
    fragments: FragmentTable,
    /// Latest packet time seen: the table's clock.
    now_ns: i64,
    next_sweep_ns: i64,
    sweep_interval_ns: i64,
    flows_started: u64,
}

impl FlowTable {
    pub fn new(config: FlowConfig) -> FlowTable {
        // Sweeping finds flows whose timeout passed while their key stayed silent. Doing it
        // every eighth of the shortest timeout keeps memory near the open-flow count while
        // costing one pass over the table per interval of capture time.
        let shortest = [config.idle_timeout_ns, config.active_timeout_ns].into_iter().flatten().min();
        let interval = shortest.map_or(10 * SECOND, |t| (t / 8).clamp(SECOND, 60 * SECOND));
        FlowTable {
            config,
            flows: HashMap::with_hasher(RandomState::new()),
            fragments: FragmentTable::default(),
            now_ns: i64::MIN,
            next_sweep_ns: i64::MIN,
            sweep_interval_ns: interval as i64,
            flows_started: 0,
        }
    }

    pub fn config(&self) -> &FlowConfig {
        &self.config
    }

    /// Flows open now.
    pub fn open_flows(&self) -> usize {
        self.flows.len()
    }

    pub fn flows_started(&self) -> u64 {
        self.flows_started
    }

    pub fn fragment_counts(&self) -> FragmentCounts {
        self.fragments.counts
    }

    /// Puts one decoded packet in its flow. Flows it ends go to `out`.
    #[inline]
    pub fn add(&mut self, mut meta: PacketMeta, ts_ns: i64, wire_len: u32, input_index: u32, out: &mut FlowBatch) {
        if ts_ns > self.now_ns {
            self.now_ns = ts_ns;
            if ts_ns >= self.next_sweep_ns {
                self.sweep(out);
            }
        }
        self.fragments.resolve(&mut meta, ts_ns);
        let (key, sender_is_lo) = FlowKey::of(&meta);
        let config = &self.config;
        let flow = match self.flows.get_mut(&key) {
            Some(flow) => {
                if let Some(reason) = ends_before(flow, &meta, ts_ns, config) {
                    let new = Flow::new(key, sender_is_lo, ts_ns, meta.tunnel, input_index);
                    let old = std::mem::replace(flow, new);
                    out.push(old, reason);
                    self.flows_started += 1;
                }
                flow
            }
            None => {
                self.flows_started += 1;
                self.flows
                    .entry(key)
                    .or_insert_with(|| Flow::new(key, sender_is_lo, ts_ns, meta.tunnel, input_index))
            }
        };
        let keep = config.packets.keeps(flow.total_packets());
        flow.add(&meta, sender_is_lo, ts_ns, wire_len, keep);
        if config.tcp_close && meta.protocol == PROTOCOL_TCP && flow.closed.is_none() {
            if meta.tcp_flags & tcp::RST != 0 {
                flow.closed = Some(EndReason::TcpRst);
            } else if flow.fwd.fin && flow.bwd.fin {
                flow.closed = Some(EndReason::TcpFin);
            }
        }
    }

    /// Ends every flow whose time is up at the table's clock.
    pub fn sweep(&mut self, out: &mut FlowBatch) {
        let now = self.now_ns;
        self.next_sweep_ns = now.saturating_add(self.sweep_interval_ns);
        let config = &self.config;
        let mut ended: Vec<(Flow, EndReason)> =
            self.flows.extract_if(|_, flow| expired(flow, now, config).is_some()).map(|(_, flow)| {
                let reason = expired(&flow, now, config).expect("filtered on it");
                (flow, reason)
            }).collect();
        emit_sorted(&mut ended, out);
        self.fragments.expire(now);
    }

    /// Ends all open flows (the input is over).
    pub fn finish(&mut self, out: &mut FlowBatch) {
        let mut ended: Vec<(Flow, EndReason)> = self
            .flows
            .drain()
            .map(|(_, flow)| {
                let reason = flow.closed.unwrap_or(EndReason::EndOfInput);
                (flow, reason)
            })
            .collect();
        emit_sorted(&mut ended, out);
    }
}

fn emit_sorted(ended: &mut Vec<(Flow, EndReason)>, out: &mut FlowBatch) {
    ended.sort_unstable_by_key(|(f, _)| (f.first_ts_ns, f.key));
    for (flow, reason) in ended.drain(..) {
        out.push(flow, reason);
    }
}

/// Whether `flow` is over before a packet at `ts_ns` (which then starts a new flow).
#[inline]
fn ends_before(flow: &Flow, meta: &PacketMeta, ts_ns: i64, config: &FlowConfig) -> Option<EndReason> {
    if let Some(reason) = flow.closed {
        let bare_syn = meta.tcp_flags & (tcp::SYN | tcp::ACK) == tcp::SYN;
        if bare_syn || elapsed(flow.last_ts_ns, ts_ns) >= config.tcp_close_linger_ns {
            return Some(reason);
        }
        return None;
    }
    timed_out(flow, ts_ns, config)
}

/// Whether the clock at `now` has passed one of `flow`'s deadlines.
fn expired(flow: &Flow, now: i64, config: &FlowConfig) -> Option<EndReason> {
    match flow.closed {
        Some(reason) if elapsed(flow.last_ts_ns, now) >= config.tcp_close_linger_ns => Some(reason),
        Some(_) => None,
        None => timed_out(flow, now, config),
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
