//! One flow while it is open: counters for the whole flow, per-packet columns for the
//! packets the [`PacketLimit`](super::PacketLimit) keeps.

use super::key::{Direction, FlowKey};
use crate::wire::decode::PacketMeta;
use crate::wire::tcp;

/// Why a flow ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EndReason {
    /// No packet for the idle timeout.
    Idle,
    /// The flow lasted the active timeout.
    Active,
    /// FIN seen from both sides.
    TcpFin,
    /// RST seen.
    TcpRst,
    /// The input ended with the flow still open.
    EndOfInput,
}

impl EndReason {
    pub fn name(self) -> &'static str {
        match self {
            EndReason::Idle => "idle",
            EndReason::Active => "active",
            EndReason::TcpFin => "tcp_fin",
            EndReason::TcpRst => "tcp_rst",
            EndReason::EndOfInput => "end_of_input",
        }
    }
}

/// The per-packet arrays of a flow, in arrival order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PacketColumns {
    pub ts_ns: Vec<i64>,
    /// 0 = from the initiator, 1 = towards it.
    pub dir: Vec<u8>,
    pub ip_len: Vec<u32>,
    pub l4_payload_len: Vec<u32>,
    pub tcp_flags: Vec<u8>,
    pub tcp_window: Vec<u16>,
}

impl PacketColumns {
    pub fn len(&self) -> usize {
        self.ts_ns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ts_ns.is_empty()
    }

    fn push(&mut self, ts_ns: i64, dir: Direction, meta: &PacketMeta) {
        self.ts_ns.push(ts_ns);
        self.dir.push(dir as u8);
        self.ip_len.push(meta.ip_len);
        self.l4_payload_len.push(meta.l4_payload_len);
        self.tcp_flags.push(meta.tcp_flags);
        self.tcp_window.push(meta.tcp_window);
    }
}

/// Counters of one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirectionCounters {
    pub packets: u64,
    /// Sum of IP total lengths.
    pub bytes: u64,
    /// Sum of original frame lengths.
    pub wire_bytes: u64,
    pub fin: bool,
}

/// A flow, open or ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    pub key: FlowKey,
    /// Whether the initiator is the key's `lo` endpoint.
    pub initiator_is_lo: bool,
    pub first_ts_ns: i64,
    pub last_ts_ns: i64,
    pub fwd: DirectionCounters,
    pub bwd: DirectionCounters,
    /// Tunnel bits of the first packet (see `wire::decode::tunnel`).
    pub tunnel: u8,
    /// Index of the input file holding the first packet.
    pub input_index: u32,
    /// Set once a TCP close is seen: the flow lingers, then ends for this reason.
    pub closed: Option<EndReason>,
    pub packets: PacketColumns,
}

impl Flow {
    pub fn new(key: FlowKey, sender_is_lo: bool, ts_ns: i64, tunnel: u8, input_index: u32) -> Flow {
        Flow {
            key,
            initiator_is_lo: sender_is_lo,
            first_ts_ns: ts_ns,
            last_ts_ns: ts_ns,
            fwd: DirectionCounters::default(),
            bwd: DirectionCounters::default(),
            tunnel,
            input_index,
            closed: None,
            packets: PacketColumns::default(),
        }
    }

    pub fn total_packets(&self) -> u64 {
        self.fwd.packets + self.bwd.packets
    }

    /// Adds a packet; `keep` says whether its per-packet entry is stored.
    #[inline]
    pub fn add(&mut self, meta: &PacketMeta, sender_is_lo: bool, ts_ns: i64, wire_len: u32, keep: bool) {
        let dir = if sender_is_lo == self.initiator_is_lo { Direction::Forward } else { Direction::Backward };
        let c = match dir {
            Direction::Forward => &mut self.fwd,
            Direction::Backward => &mut self.bwd,
        };
        c.packets += 1;
        c.bytes += u64::from(meta.ip_len);
        c.wire_bytes += u64::from(wire_len);
        if meta.tcp_flags & tcp::FIN != 0 {
            c.fin = true;
        }
        self.last_ts_ns = self.last_ts_ns.max(ts_ns);
        if keep {
            self.packets.push(ts_ns, dir, meta);
        }
    }

    /// (address, port) of the initiator and of the responder.
    pub fn endpoints(&self) -> (([u8; 16], u16), ([u8; 16], u16)) {
        let lo = (self.key.lo_addr, self.key.lo_port);
        let hi = (self.key.hi_addr, self.key.hi_port);
        if self.initiator_is_lo { (lo, hi) } else { (hi, lo) }
    }
}
