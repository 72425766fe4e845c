//! Ended flows in columns: one entry per flow for the scalar columns, and for the
//! per-packet columns one flat array plus offsets (Arrow's list layout), so a batch
//! turns into a DataFrame or a Parquet row group without per-flow allocations.

use super::record::{EndReason, Flow, PacketEntry};

/// Calls `$m!` with every column except `pkt_offsets`: one list for the operations that
/// treat all columns alike.
macro_rules! value_columns {
    ($m:ident) => {
        $m!(
            ip_version,
            protocol,
            src_addr,
            dst_addr,
            src_port,
            dst_port,
            vlan,
            first_ts_ns,
            last_ts_ns,
            fwd_packets,
            bwd_packets,
            fwd_bytes,
            bwd_bytes,
            fwd_wire_bytes,
            bwd_wire_bytes,
            end_reason,
            tunnel,
            input_index,
            pkt_ts_ns,
            pkt_dir,
            pkt_ip_len,
            pkt_l4_payload_len,
            pkt_tcp_flags,
            pkt_tcp_window
        )
    };
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlowBatch {
    pub ip_version: Vec<u8>,
    pub protocol: Vec<u8>,
    /// Initiator address (IPv4 in the first 4 bytes).
    pub src_addr: Vec<[u8; 16]>,
    pub dst_addr: Vec<[u8; 16]>,
    pub src_port: Vec<u16>,
    pub dst_port: Vec<u16>,
    pub vlan: Vec<u16>,
    pub first_ts_ns: Vec<i64>,
    pub last_ts_ns: Vec<i64>,
    pub fwd_packets: Vec<u64>,
    pub bwd_packets: Vec<u64>,
    pub fwd_bytes: Vec<u64>,
    pub bwd_bytes: Vec<u64>,
    pub fwd_wire_bytes: Vec<u64>,
    pub bwd_wire_bytes: Vec<u64>,
    pub end_reason: Vec<EndReason>,
    pub tunnel: Vec<u8>,
    pub input_index: Vec<u32>,
    /// `pkt_offsets[i]..pkt_offsets[i + 1]` are flow i's entries in the `pkt_*` arrays.
    pub pkt_offsets: Vec<u64>,
    pub pkt_ts_ns: Vec<i64>,
    pub pkt_dir: Vec<u8>,
    pub pkt_ip_len: Vec<u32>,
    pub pkt_l4_payload_len: Vec<u32>,
    pub pkt_tcp_flags: Vec<u8>,
    pub pkt_tcp_window: Vec<u16>,
}

impl FlowBatch {
    pub fn new() -> Self {
        FlowBatch { pkt_offsets: vec![0], ..Default::default() }
    }

    pub fn len(&self) -> usize {
        self.ip_version.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ip_version.is_empty()
    }

    /// Number of per-packet entries held.
    pub fn packet_entries(&self) -> usize {
        self.pkt_ts_ns.len()
    }

    /// Appends an ended flow.
    pub fn push(&mut self, flow: Flow, reason: EndReason) {
        if self.pkt_offsets.is_empty() {
            self.pkt_offsets.push(0);
        }
        let ((src, sport), (dst, dport)) = flow.endpoints();
        self.ip_version.push(flow.key.ip_version);
        self.protocol.push(flow.key.protocol);
        self.src_addr.push(src);
        self.dst_addr.push(dst);
        self.src_port.push(sport);
        self.dst_port.push(dport);
        self.vlan.push(flow.key.vlan);
        self.first_ts_ns.push(flow.first_ts_ns);
        self.last_ts_ns.push(flow.last_ts_ns);
        self.fwd_packets.push(flow.fwd.packets);
        self.bwd_packets.push(flow.bwd.packets);
        self.fwd_bytes.push(flow.fwd.bytes);
        self.bwd_bytes.push(flow.bwd.bytes);
        self.fwd_wire_bytes.push(flow.fwd.wire_bytes);
        self.bwd_wire_bytes.push(flow.bwd.wire_bytes);
        self.end_reason.push(reason);
        self.tunnel.push(flow.tunnel);
        self.input_index.push(flow.input_index);
        // Column by column: each is one sized copy loop, not a capacity check per value.
        let packets = &flow.packets;
        self.pkt_ts_ns.extend(packets.iter().map(|p| p.ts_ns));
        self.pkt_dir.extend(packets.iter().map(|p| p.dir));
        self.pkt_ip_len.extend(packets.iter().map(|p| p.ip_len));
        self.pkt_l4_payload_len.extend(packets.iter().map(|p| p.l4_payload_len));
        self.pkt_tcp_flags.extend(packets.iter().map(|p| p.tcp_flags));
        self.pkt_tcp_window.extend(packets.iter().map(|p| p.tcp_window));
        self.pkt_offsets.push(self.pkt_ts_ns.len() as u64);
    }

    /// Row `i`, owned.
    pub fn row(&self, i: usize) -> FlowRow {
        let packets = self
            .packet_range(i)
            .map(|p| PacketEntry {
                ts_ns: self.pkt_ts_ns[p],
                ip_len: self.pkt_ip_len[p],
                l4_payload_len: self.pkt_l4_payload_len[p],
                tcp_window: self.pkt_tcp_window[p],
                tcp_flags: self.pkt_tcp_flags[p],
                dir: self.pkt_dir[p],
            })
            .collect();
        FlowRow {
            ip_version: self.ip_version[i],
            protocol: self.protocol[i],
            src_addr: self.src_addr[i],
            src_port: self.src_port[i],
            dst_addr: self.dst_addr[i],
            dst_port: self.dst_port[i],
            vlan: self.vlan[i],
            first_ts_ns: self.first_ts_ns[i],
            last_ts_ns: self.last_ts_ns[i],
            fwd_packets: self.fwd_packets[i],
            bwd_packets: self.bwd_packets[i],
            fwd_bytes: self.fwd_bytes[i],
            bwd_bytes: self.bwd_bytes[i],
            fwd_wire_bytes: self.fwd_wire_bytes[i],
            bwd_wire_bytes: self.bwd_wire_bytes[i],
            end_reason: self.end_reason[i],
            tunnel: self.tunnel[i],
            input_index: self.input_index[i],
            packets,
        }
    }

    /// Every row, owned, in batch order.
    pub fn rows(&self) -> Vec<FlowRow> {
        (0..self.len()).map(|i| self.row(i)).collect()
    }

    /// The per-packet range of row `i`.
    pub fn packet_range(&self, i: usize) -> std::ops::Range<usize> {
        self.pkt_offsets[i] as usize..self.pkt_offsets[i + 1] as usize
    }

    /// Appends the rows of `other`.
    pub fn extend_from(&mut self, other: &FlowBatch) {
        if self.pkt_offsets.is_empty() {
            self.pkt_offsets.push(0);
        }
        let base = *self.pkt_offsets.last().expect("offsets start with 0");
        macro_rules! extend {
            ($($f:ident),*) => { $( self.$f.extend_from_slice(&other.$f); )* };
        }
        value_columns!(extend);
        self.pkt_offsets.extend(other.pkt_offsets.iter().skip(1).map(|o| o + base));
    }

    /// The rows of `parts` in order, in one batch whose columns are allocated once at their
    /// final size (a lone part is returned as it is): appending batch after batch to a
    /// growing one copies every column again at each doubling, into fresh memory.
    pub fn concat(mut parts: Vec<FlowBatch>) -> FlowBatch {
        if parts.len() == 1 {
            return parts.pop().expect("one part");
        }
        let mut out = FlowBatch::new();
        macro_rules! reserve {
            ($($f:ident),*) => { $( out.$f.reserve_exact(parts.iter().map(|p| p.$f.len()).sum()); )* };
        }
        value_columns!(reserve);
        out.pkt_offsets.reserve_exact(parts.iter().map(FlowBatch::len).sum());
        for p in &parts {
            out.extend_from(p);
        }
        out
    }

    /// Empties the batch, keeping its allocations.
    pub fn clear(&mut self) {
        macro_rules! clear {
            ($($f:ident),*) => { $( self.$f.clear(); )* };
        }
        value_columns!(clear);
        self.pkt_offsets.clear();
        self.pkt_offsets.push(0);
    }
}

/// One flow of a batch, owned, with its kept packets: for code that wants flows one by one,
/// and for comparing runs (rows sort by their fields in declaration order).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FlowRow {
    pub ip_version: u8,
    pub protocol: u8,
    pub src_addr: [u8; 16],
    pub src_port: u16,
    pub dst_addr: [u8; 16],
    pub dst_port: u16,
    pub vlan: u16,
    pub first_ts_ns: i64,
    pub last_ts_ns: i64,
    pub fwd_packets: u64,
    pub bwd_packets: u64,
    pub fwd_bytes: u64,
    pub bwd_bytes: u64,
    pub fwd_wire_bytes: u64,
    pub bwd_wire_bytes: u64,
    pub end_reason: EndReason,
    pub tunnel: u8,
    pub input_index: u32,
    pub packets: Vec<PacketEntry>,
}
