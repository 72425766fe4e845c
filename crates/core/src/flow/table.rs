//! The sequential flow table: one [`FlowShard`] behind fragment tracking and a clock.
//! It assigns each packet to its open flow, starts new flows, and ends them by idle
//! timeout, active timeout and TCP close.
//!
//! The sharded engine ([`ShardedTable`](super::ShardedTable)) gives the same flows faster;
//! this one is the reference it is tested against, and the simplest way to feed a few
//! packets by hand. Ended flows go to a [`FlowBatch`] as time advances, so memory follows the
//! number of open flows, not the input size; flows ending together are written in
//! (first packet time, key) order, so the output never depends on hash order.

use ahash::RandomState;

use super::batch::FlowBatch;
use super::config::{FlowConfig, SECOND};
use super::fragments::{FragmentCounts, FragmentTable};
use super::packet::key_hasher;
use super::record::{EndReason, Flow};
use super::shard::{FlowShard, emit_sorted};
use crate::Error;
use crate::codec::{Dec, Enc};
use crate::wire::decode::PacketMeta;

/// How often (in capture time) open flows are checked for timeouts. Every eighth of the
/// shortest timeout keeps memory near the open-flow count for one pass over the table
/// per interval.
pub fn sweep_interval_ns(config: &FlowConfig) -> i64 {
    let shortest = [config.idle_timeout_ns, config.active_timeout_ns].into_iter().flatten().min();
    shortest.map_or(10 * SECOND, |t| (t / 8).clamp(SECOND, 60 * SECOND)) as i64
}

/// The table's clock: the latest packet time seen, and when the next sweep is due.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    pub now_ns: i64,
    next_sweep_ns: i64,
    interval_ns: i64,
}

impl Clock {
    pub fn new(config: &FlowConfig) -> Clock {
        Clock { now_ns: i64::MIN, next_sweep_ns: i64::MIN, interval_ns: sweep_interval_ns(config) }
    }

    /// Writes the clock's state (for a checkpoint).
    pub fn save(&self, e: &mut Enc) {
        e.i64(self.now_ns);
        e.i64(self.next_sweep_ns);
    }

    /// Reads what [`save`](Self::save) wrote; the interval comes from the configuration.
    pub fn load(d: &mut Dec, config: &FlowConfig) -> Result<Clock, Error> {
        Ok(Clock { now_ns: d.i64()?, next_sweep_ns: d.i64()?, interval_ns: sweep_interval_ns(config) })
    }

    /// The earliest packet time that makes a sweep due: a packet sweeps when its time is
    /// past the clock's and at least the next sweep's ([`advance`](Self::advance)).
    /// `None`: the clock is at the end of time, and nothing sweeps.
    pub fn sweep_threshold(&self) -> Option<i64> {
        Some(self.next_sweep_ns.max(self.now_ns.checked_add(1)?))
    }

    /// Where in a stretch the next sweep falls, given the running maximum of its packet
    /// times: the first packet at or past the threshold (every packet before it is
    /// below). `max_ts.len()` when none sweeps.
    pub fn next_sweep_in(&self, max_ts: &[i64]) -> usize {
        self.sweep_threshold().map_or(max_ts.len(), |t| max_ts.partition_point(|&m| m < t))
    }

    /// Advances to the time of a packet that sweeps (at least [`sweep_threshold`](Self::sweep_threshold)).
    pub fn sweep_at(&mut self, ts_ns: i64) {
        debug_assert!(self.sweep_threshold().is_some_and(|t| ts_ns >= t));
        self.now_ns = ts_ns;
        self.next_sweep_ns = self.next_multiple(ts_ns);
    }

    /// The next sweep after one at `ts_ns`: the next multiple of the interval (see
    /// [`advance`](Self::advance)).
    fn next_multiple(&self, ts_ns: i64) -> i64 {
        ts_ns.div_euclid(self.interval_ns).saturating_add(1).saturating_mul(self.interval_ns)
    }

    /// Advances to the latest of packet times none of which sweeps.
    pub fn pass(&mut self, max_ts_ns: i64) {
        self.now_ns = self.now_ns.max(max_ts_ns);
    }

    /// Advances to a packet's time; true when a sweep is due before that packet.
    #[inline]
    pub fn advance(&mut self, ts_ns: i64) -> bool {
        if ts_ns <= self.now_ns {
            return false;
        }
        self.now_ns = ts_ns;
        if ts_ns < self.next_sweep_ns {
            return false;
        }
        // The next sweep is due at the next multiple of the interval, not one interval
        // after this packet: sweep times then depend on the capture times alone, not on
        // where reading started, so a run over a later part of the input (a shard of a
        // dump set, `handoff`) sweeps at the same points as a run over all of it.
        self.next_sweep_ns = self.next_multiple(ts_ns);
        true
    }

    /// When the next sweep is due (the first packet at or after it sweeps).
    pub fn next_sweep_ns(&self) -> i64 {
        self.next_sweep_ns
    }
}

pub struct FlowTable {
    config: FlowConfig,
    shard: FlowShard,
    fragments: FragmentTable,
    clock: Clock,
    hasher: RandomState,
    ended: Vec<(Flow, EndReason)>,
}

impl FlowTable {
    pub fn new(config: FlowConfig) -> FlowTable {
        FlowTable::with_hasher(config, key_hasher())
    }

    /// A table hashing keys with `hasher`: the flows and their order do not depend on it
    /// (tests check that with random seeds).
    pub fn with_hasher(config: FlowConfig, hasher: RandomState) -> FlowTable {
        FlowTable {
            clock: Clock::new(&config),
            shard: FlowShard::with_max_open(config.max_flows),
            config,
            fragments: FragmentTable::default(),
            hasher,
            ended: Vec::new(),
        }
    }

    pub fn config(&self) -> &FlowConfig {
        &self.config
    }

    /// Flows open now.
    pub fn open_flows(&self) -> usize {
        self.shard.open_flows()
    }

    pub fn flows_started(&self) -> u64 {
        self.shard.started_by_input().iter().sum()
    }

    /// The first I/O error of the spill file (see `flow::spill`): flows written since may
    /// lack entries.
    pub fn spill_error(&self) -> Option<&super::spill::SpillFailure> {
        self.shard.spill_error()
    }

    /// Flows ended early to stay under `FlowConfig::max_flows`.
    pub fn flows_evicted(&self) -> u64 {
        self.shard.evicted()
    }

    pub fn fragment_counts(&self) -> FragmentCounts {
        self.fragments.counts
    }

    /// Puts one decoded packet in its flow. Flows it ends go to `out`.
    #[inline]
    pub fn add(&mut self, mut meta: PacketMeta, ts_ns: i64, wire_len: u32, input_index: u32, out: &mut FlowBatch) {
        if self.clock.advance(ts_ns) {
            self.sweep(out);
        }
        let packet = self.fragments.packet(&mut meta, ts_ns, wire_len, input_index, &self.hasher);
        self.shard.add(&packet, &self.config, &mut self.ended);
        emit_sorted(&mut self.ended, out);
    }

    /// Ends every flow whose time is up at the table's clock.
    pub fn sweep(&mut self, out: &mut FlowBatch) {
        let now = self.clock.now_ns;
        self.shard.sweep(now, &self.config, &mut self.ended);
        emit_sorted(&mut self.ended, out);
        self.fragments.expire(now);
    }

    /// Ends all open flows (the input is over).
    pub fn finish(&mut self, out: &mut FlowBatch) {
        self.shard.finish(&mut self.ended);
        emit_sorted(&mut self.ended, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::config::PacketLimit;
    use crate::wire::decode::{Fragment, FragmentId};
    use crate::wire::protocol::{PROTOCOL_TCP, PROTOCOL_UDP};

    const CLIENT: u8 = 10;
    const SERVER: u8 = 20;

    /// A TCP packet between CLIENT:40000 and SERVER:443.
    fn tcp(from_client: bool, flags: u8) -> PacketMeta {
        let (s, d, sp, dp) = if from_client { (CLIENT, SERVER, 40000, 443) } else { (SERVER, CLIENT, 443, 40000) };
        let mut m = PacketMeta {
            ip_version: 4,
            protocol: PROTOCOL_TCP,
            src: [0; 16],
            dst: [0; 16],
            src_port: sp,
            dst_port: dp,
            vlan: 0,
            ip_len: 52,
            l4_payload_len: 0,
            tcp_flags: flags,
            tcp_window: 512,
            fragment: Fragment::None,
            tunnel: 0,
        };
        m.src[0] = s;
        m.dst[0] = d;
        m
    }

    fn udp(from_client: bool) -> PacketMeta {
        PacketMeta { protocol: PROTOCOL_UDP, tcp_flags: 0, tcp_window: 0, ..tcp(from_client, 0) }
    }

    /// Feeds (seconds, packet) pairs through a table and returns the ended flows.
    fn run(config: FlowConfig, packets: &[(f64, PacketMeta)]) -> FlowBatch {
        let mut table = FlowTable::new(config);
        let mut out = FlowBatch::new();
        for &(t, meta) in packets {
            table.add(meta, (t * 1e9) as i64, meta.ip_len + 14, 0, &mut out);
        }
        table.finish(&mut out);
        out
    }

    fn reasons(b: &FlowBatch) -> Vec<&'static str> {
        b.end_reason.iter().map(|r| r.name()).collect()
    }

    #[test]
    fn initiator_and_directions() {
        let out = run(FlowConfig::unbounded(), &[(1.0, udp(false)), (1.5, udp(true)), (2.0, udp(true))]);
        assert_eq!(out.len(), 1);
        // The server spoke first, so it is the initiator.
        assert_eq!((out.src_addr[0][0], out.src_port[0]), (SERVER, 443));
        assert_eq!((out.fwd_packets[0], out.bwd_packets[0]), (1, 2));
        assert_eq!(out.pkt_dir, vec![0, 1, 1]);
        assert_eq!((out.fwd_bytes[0], out.bwd_wire_bytes[0]), (52, 132));
        assert_eq!((out.first_ts_ns[0], out.last_ts_ns[0]), (1_000_000_000, 2_000_000_000));
        assert_eq!(reasons(&out), ["end_of_input"]);
    }

    #[test]
    fn idle_timeout_starts_a_new_flow() {
        let config = FlowConfig { idle_timeout_ns: Some(10 * SECOND), ..FlowConfig::unbounded() };
        let out = run(config, &[(0.0, udp(true)), (9.0, udp(false)), (30.0, udp(false)), (31.0, udp(true))]);
        assert_eq!(reasons(&out), ["idle", "end_of_input"]);
        assert_eq!((out.fwd_packets[0], out.bwd_packets[0]), (1, 1));
        // The second flow's initiator is the sender of its own first packet.
        assert_eq!(out.src_addr[1][0], SERVER);
        assert_eq!((out.fwd_packets[1], out.bwd_packets[1]), (1, 1));
    }

    #[test]
    fn active_timeout_cuts_long_flows() {
        let config = FlowConfig { active_timeout_ns: Some(5 * SECOND), ..FlowConfig::unbounded() };
        let packets: Vec<(f64, PacketMeta)> = (0..12).map(|i| (f64::from(i), udp(i % 2 == 0))).collect();
        let out = run(config, &packets);
        assert_eq!(reasons(&out), ["active", "active", "end_of_input"]);
        assert_eq!(out.pkt_offsets, vec![0, 5, 10, 12]);
    }

    #[test]
    fn sweep_ends_silent_flows_as_time_advances() {
        let config = FlowConfig { idle_timeout_ns: Some(2 * SECOND), ..FlowConfig::unbounded() };
        let mut table = FlowTable::new(config);
        let mut out = FlowBatch::new();
        table.add(udp(true), 0, 60, 0, &mut out);
        let mut other = udp(true);
        other.src_port = 1;
        // Time moves on through another key: the first flow is ended without a packet of its own.
        for t in 1..=10 {
            table.add(other, t * SECOND as i64, 60, 0, &mut out);
        }
        assert_eq!(reasons(&out), ["idle"]);
        assert_eq!(table.open_flows(), 1);
    }

    #[test]
    fn fin_both_ways_closes_and_the_last_ack_lingers_in() {
        use crate::wire::tcp::{ACK, FIN, SYN};
        let packets = [
            (0.0, tcp(true, SYN)),
            (0.1, tcp(false, SYN | ACK)),
            (0.2, tcp(true, ACK)),
            (1.0, tcp(true, FIN | ACK)),
            (1.1, tcp(false, FIN | ACK)),
            (1.2, tcp(true, ACK)), // the last ACK belongs to the closed flow
            (1.3, tcp(true, SYN)), // port reuse: a new connection
            (1.4, tcp(false, SYN | ACK)),
        ];
        let out = run(FlowConfig { tcp_close: true, ..FlowConfig::unbounded() }, &packets);
        assert_eq!(reasons(&out), ["tcp_fin", "end_of_input"]);
        assert_eq!(out.pkt_offsets, vec![0, 6, 8]);
    }

    #[test]
    fn rst_closes_and_late_packets_start_a_new_flow() {
        use crate::wire::tcp::{ACK, RST};
        let packets = [(0.0, tcp(true, ACK)), (0.5, tcp(false, RST)), (0.6, tcp(false, RST)), (5.0, tcp(true, ACK))];
        let out = run(FlowConfig { tcp_close: true, ..FlowConfig::unbounded() }, &packets);
        assert_eq!(reasons(&out), ["tcp_rst", "end_of_input"]);
        assert_eq!(out.pkt_offsets, vec![0, 3, 4]);
    }

    #[test]
    fn tcp_close_off_keeps_one_flow() {
        use crate::wire::tcp::{ACK, RST, SYN};
        let packets = [(0.0, tcp(true, SYN)), (0.5, tcp(false, RST)), (5.0, tcp(true, SYN)), (6.0, tcp(true, ACK))];
        let out = run(FlowConfig::unbounded(), &packets);
        assert_eq!(out.len(), 1);
        assert_eq!(out.fwd_packets[0] + out.bwd_packets[0], 4);
    }

    #[test]
    fn packet_limit_keeps_counters_whole() {
        let config = FlowConfig { packets: PacketLimit::First(2), ..FlowConfig::unbounded() };
        let packets: Vec<(f64, PacketMeta)> = (0..5).map(|i| (f64::from(i), udp(true))).collect();
        let out = run(config, &packets);
        assert_eq!(out.fwd_packets[0], 5);
        assert_eq!(out.fwd_bytes[0], 5 * 52);
        assert_eq!(out.pkt_ts_ns, vec![0, 1_000_000_000]);
        let none = run(FlowConfig { packets: PacketLimit::First(0), ..FlowConfig::unbounded() }, &packets);
        assert!(none.pkt_ts_ns.is_empty());
        assert_eq!(none.pkt_offsets, vec![0, 0]);
    }

    #[test]
    fn later_fragments_join_their_first_fragment() {
        let id = FragmentId {
            ip_version: 4,
            protocol: PROTOCOL_UDP,
            src: udp(true).src,
            dst: udp(true).dst,
            id: 7,
            vlan: 0,
        };
        let first = PacketMeta { fragment: Fragment::First(id), ..udp(true) };
        let later = PacketMeta { fragment: Fragment::Later(id), src_port: 0, dst_port: 0, ..udp(true) };
        let mut table = FlowTable::new(FlowConfig::unbounded());
        let mut out = FlowBatch::new();
        table.add(first, 0, 60, 0, &mut out);
        table.add(later, 1, 60, 0, &mut out);
        // A later fragment of an unknown datagram keys with ports 0.
        table.add(PacketMeta { fragment: Fragment::Later(FragmentId { id: 8, ..id }), ..later }, 2, 60, 0, &mut out);
        table.finish(&mut out);
        assert_eq!(out.len(), 2);
        assert_eq!((out.src_port[0], out.fwd_packets[0]), (40000, 2));
        assert_eq!((out.src_port[1], out.fwd_packets[1]), (0, 1));
        assert_eq!((table.fragment_counts().joined, table.fragment_counts().unmatched), (1, 1));
    }
}
