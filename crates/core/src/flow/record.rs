//! One flow while it is open: counters for the whole flow, per-packet columns for the
//! packets the [`PacketLimit`](super::PacketLimit) keeps.

use super::key::{Direction, FlowKey};
use super::packet::FlowPacket;
use crate::Error;
use crate::codec::{Dec, Enc};
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
    /// Ended early to keep the flow table under its cap (`FlowConfig::max_flows`): the
    /// least recently seen flows go first.
    Evicted,
}

impl EndReason {
    pub const ALL: [EndReason; 6] = [
        EndReason::Idle,
        EndReason::Active,
        EndReason::TcpFin,
        EndReason::TcpRst,
        EndReason::EndOfInput,
        EndReason::Evicted,
    ];

    pub fn name(self) -> &'static str {
        match self {
            EndReason::Idle => "idle",
            EndReason::Active => "active",
            EndReason::TcpFin => "tcp_fin",
            EndReason::TcpRst => "tcp_rst",
            EndReason::EndOfInput => "end_of_input",
            EndReason::Evicted => "evicted",
        }
    }
}

/// One kept packet of a flow. The flow holds these row-wise (one allocation per flow, not
/// one per column); [`FlowBatch`](super::FlowBatch) turns them into columns when the flow ends.
///
/// Packed to 4-byte alignment: 20 bytes instead of 24. Open flows hold every kept packet
/// until they end, so this is most of the engine's memory (14 M entries at the end of the
/// 20 M-packet campus capture).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(C, packed(4))]
pub struct PacketEntry {
    pub ts_ns: i64,
    pub ip_len: u32,
    pub l4_payload_len: u32,
    pub tcp_window: u16,
    pub tcp_flags: u8,
    /// 0 = from the initiator, 1 = towards it.
    pub dir: u8,
}

/// Room for a short flow's packets from the first allocation on. Most flows are short
/// (DNS: 2 packets): on the 20 M-packet campus capture, a first capacity of 8 held
/// 1.32 GB at peak, 4 held 1.23 GB, 2 held 1.18 GB with more growing; 4 it is.
const INITIAL_PACKET_CAPACITY: usize = 4;

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
    /// The key's hash in its flow table (kept so the table never rehashes keys).
    pub hash: u64,
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
    /// The kept packets, in arrival order: those in the spill file (`spilled`) first, then
    /// these.
    pub packets: Vec<PacketEntry>,
    /// Segments of the shard's spill file holding the flow's earlier entries, in order
    /// (see `flow::spill`); empty once the flow has ended.
    pub spilled: Vec<(u64, u32)>,
}

impl Flow {
    pub fn new(key: FlowKey, sender_is_lo: bool, ts_ns: i64, tunnel: u8, input_index: u32) -> Flow {
        Flow {
            key,
            hash: 0,
            initiator_is_lo: sender_is_lo,
            first_ts_ns: ts_ns,
            last_ts_ns: ts_ns,
            fwd: DirectionCounters::default(),
            bwd: DirectionCounters::default(),
            tunnel,
            input_index,
            closed: None,
            packets: Vec::new(),
            spilled: Vec::new(),
        }
    }

    pub fn total_packets(&self) -> u64 {
        self.fwd.packets + self.bwd.packets
    }

    /// Adds a packet; `keep` says whether its per-packet entry is stored.
    #[inline]
    pub fn add(&mut self, p: &FlowPacket, keep: bool) {
        let dir = if p.sender_is_lo == self.initiator_is_lo { Direction::Forward } else { Direction::Backward };
        let c = match dir {
            Direction::Forward => &mut self.fwd,
            Direction::Backward => &mut self.bwd,
        };
        c.packets += 1;
        c.bytes += u64::from(p.ip_len);
        c.wire_bytes += u64::from(p.wire_len);
        if p.tcp_flags & tcp::FIN != 0 {
            c.fin = true;
        }
        self.last_ts_ns = self.last_ts_ns.max(p.ts_ns);
        if keep {
            let (len, capacity) = (self.packets.len(), self.packets.capacity());
            if len == capacity {
                // Grown by half, not doubled: a flow's last growth leaves at most a third
                // of its room empty, where doubling leaves half.
                self.packets.reserve_exact((capacity / 2).max(INITIAL_PACKET_CAPACITY));
            }
            self.packets.push(PacketEntry {
                ts_ns: p.ts_ns,
                ip_len: p.ip_len,
                l4_payload_len: p.l4_payload_len,
                tcp_window: p.tcp_window,
                tcp_flags: p.tcp_flags,
                dir: dir as u8,
            });
        }
    }

    /// (address, port) of the initiator and of the responder.
    pub fn endpoints(&self) -> (([u8; 16], u16), ([u8; 16], u16)) {
        let lo = (self.key.lo_addr, self.key.lo_port);
        let hi = (self.key.hi_addr, self.key.hi_port);
        if self.initiator_is_lo { (lo, hi) } else { (hi, lo) }
    }

    /// Writes the flow (layout in `formats/checkpoint.md`).
    pub fn save(&self, e: &mut Enc) {
        debug_assert!(self.spilled.is_empty(), "a flow is joined before it is written");
        let k = &self.key;
        e.u16(k.vlan);
        e.u8(k.ip_version);
        e.u8(k.protocol);
        e.array(&k.lo_addr);
        e.u16(k.lo_port);
        e.array(&k.hi_addr);
        e.u16(k.hi_port);
        e.bool(self.initiator_is_lo);
        e.i64(self.first_ts_ns);
        e.i64(self.last_ts_ns);
        for c in [&self.fwd, &self.bwd] {
            e.u64(c.packets);
            e.u64(c.bytes);
            e.u64(c.wire_bytes);
            e.bool(c.fin);
        }
        e.u8(self.tunnel);
        e.u32(self.input_index);
        e.u8(self.closed.map_or(0, |r| r as u8 + 1));
        e.u64(self.packets.len() as u64);
        for p in &self.packets {
            e.i64(p.ts_ns);
            e.u32(p.ip_len);
            e.u32(p.l4_payload_len);
            e.u16(p.tcp_window);
            e.u8(p.tcp_flags);
            e.u8(p.dir);
        }
    }

    /// Reads what [`save`](Self::save) wrote; the `hash` is left for the table to set.
    pub fn load(d: &mut Dec) -> Result<Flow, Error> {
        let key = FlowKey {
            vlan: d.u16()?,
            ip_version: d.u8()?,
            protocol: d.u8()?,
            lo_addr: d.array()?,
            lo_port: d.u16()?,
            hi_addr: d.array()?,
            hi_port: d.u16()?,
        };
        let initiator_is_lo = d.bool()?;
        let first_ts_ns = d.i64()?;
        let last_ts_ns = d.i64()?;
        let mut counters = [DirectionCounters::default(); 2];
        for c in &mut counters {
            *c = DirectionCounters { packets: d.u64()?, bytes: d.u64()?, wire_bytes: d.u64()?, fin: d.bool()? };
        }
        let tunnel = d.u8()?;
        let input_index = d.u32()?;
        let closed = match d.u8()? {
            0 => None,
            n => Some(*EndReason::ALL.get(usize::from(n) - 1).ok_or(d.corrupt())?),
        };
        let n = d.count(20)?;
        let mut packets = Vec::with_capacity(n);
        for _ in 0..n {
            packets.push(PacketEntry {
                ts_ns: d.i64()?,
                ip_len: d.u32()?,
                l4_payload_len: d.u32()?,
                tcp_window: d.u16()?,
                tcp_flags: d.u8()?,
                dir: d.u8()?,
            });
        }
        let [fwd, bwd] = counters;
        Ok(Flow {
            key,
            hash: 0,
            initiator_is_lo,
            first_ts_ns,
            last_ts_ns,
            fwd,
            bwd,
            tunnel,
            input_index,
            closed,
            packets,
            spilled: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flow_survives_the_round_trip() {
        let key = FlowKey {
            vlan: 7,
            ip_version: 6,
            protocol: 17,
            lo_addr: [1; 16],
            lo_port: 53,
            hi_addr: [2; 16],
            hi_port: 40000,
        };
        let mut flow = Flow::new(key, false, -5, 3, 9);
        flow.hash = 0;
        flow.last_ts_ns = 77;
        flow.fwd = DirectionCounters { packets: 2, bytes: 300, wire_bytes: 328, fin: true };
        flow.closed = Some(EndReason::TcpRst);
        flow.packets = vec![
            PacketEntry { ts_ns: -5, ip_len: 100, l4_payload_len: 60, tcp_window: 9, tcp_flags: 0x12, dir: 0 },
            PacketEntry { ts_ns: 77, ip_len: 200, l4_payload_len: 0, tcp_window: 1, tcp_flags: 0x04, dir: 1 },
        ];
        let mut e = Enc::default();
        flow.save(&mut e);
        let mut d = Dec::new(&e.0);
        assert_eq!(Flow::load(&mut d).unwrap(), flow);
        assert!(d.is_done());
        // Cut anywhere, it is an error, never a panic.
        for cut in 0..e.0.len() {
            assert!(Flow::load(&mut Dec::new(&e.0[..cut])).is_err());
        }
    }
}
