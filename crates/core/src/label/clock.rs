//! The phone-to-capture clock offset, from matched pairs: a TCP socket's `connect` entry and
//! the SYN that opens its flow; a UDP socket's first send to a peer and the flow's first
//! datagram. The median of the differences is robust to a few wrong pairs.

use crate::flow::FlowBatch;
use crate::wire::tcp;

use super::matcher::{MatchConfig, flow_addr, is_local, phone_addrs};
use super::sockets::{PROTOCOL_TCP, SocketTable};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetEstimate {
    /// capture clock − phone clock, the median over the pairs.
    pub offset_ns: i64,
    pub pairs: usize,
    /// The smallest and largest difference of a pair: their spread bounds the estimate's error.
    pub min_ns: i64,
    pub max_ns: i64,
}

/// Pairs every socket event that sends a flow's first packet with that flow (the one of the
/// same endpoints, started by the phone, nearest in time), and takes the median difference.
/// `None` when no pair is found. `config.offset_ns` and `tolerance_ns` are not used.
pub fn estimate_offset(batch: &FlowBatch, table: &SocketTable, config: &MatchConfig) -> Option<OffsetEstimate> {
    let phones = phone_addrs(config, table);
    let mut diffs: Vec<i64> = Vec::new();
    for s in &table.sockets {
        let starts: Vec<(std::net::IpAddr, u16, i64)> = if s.protocol == PROTOCOL_TCP {
            match (s.connect_ts_ns, s.remotes.first()) {
                (Some(t), Some(r)) => vec![(r.addr, r.port, t)],
                _ => Vec::new(),
            }
        } else {
            s.remotes.iter().filter_map(|r| Some((r.addr, r.port, r.first_send_ts_ns?))).collect()
        };
        for (addr, port, t) in starts {
            let nearest = (0..batch.len())
                .filter(|&row| {
                    let v = batch.ip_version[row];
                    batch.protocol[row] == s.protocol
                        && is_local(s, flow_addr(v, &batch.src_addr[row]), batch.src_port[row], &phones)
                        && flow_addr(v, &batch.dst_addr[row]) == addr
                        && batch.dst_port[row] == port
                        && (s.protocol != PROTOCOL_TCP || opens_with_syn(batch, row))
                })
                .map(|row| batch.first_ts_ns[row] - t)
                .min_by_key(|d| d.unsigned_abs());
            diffs.extend(nearest);
        }
    }
    if diffs.is_empty() {
        return None;
    }
    diffs.sort_unstable();
    let n = diffs.len();
    let offset_ns = if n % 2 == 1 { diffs[n / 2] } else { diffs[n / 2 - 1] + (diffs[n / 2] - diffs[n / 2 - 1]) / 2 };
    Some(OffsetEstimate { offset_ns, pairs: n, min_ns: diffs[0], max_ns: diffs[n - 1] })
}

/// Whether the flow's first packet is a bare SYN (true as well when per-packet entries were
/// not kept: the initiator is then the best evidence there is).
fn opens_with_syn(batch: &FlowBatch, row: usize) -> bool {
    let range = batch.packet_range(row);
    range.is_empty() || batch.pkt_tcp_flags[range.start] & (tcp::SYN | tcp::ACK) == tcp::SYN
}
