//! Flows ↔ app sockets: a flow is the app's when its endpoints are a socket's and its time
//! span overlaps the socket's lifetime, moved onto the capture's clock.
//!
//! TCP needs the whole 5-tuple. UDP needs the local endpoint only: while a socket holds a
//! local UDP port, every datagram to or from that port is the socket's, whoever the peer
//! (peers of unconnected sockets are seen only when a sendto/recvfrom names them).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::flow::FlowBatch;

use super::sockets::{AppSocket, PROTOCOL_TCP, PROTOCOL_UDP, SocketTable};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchConfig {
    /// capture clock = phone clock + offset.
    pub offset_ns: i64,
    /// Widens each socket's lifetime on both sides: syscalls and packets are not simultaneous.
    pub tolerance_ns: i64,
    /// The phone's addresses; when empty, those seen as sockets' local addresses. They stand
    /// in for a socket's local address when the log shows only its port.
    pub phone_addrs: Vec<IpAddr>,
}

/// A flow address as an `IpAddr`.
pub fn flow_addr(ip_version: u8, addr: &[u8; 16]) -> IpAddr {
    if ip_version == 4 {
        IpAddr::V4(Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]))
    } else {
        let v6 = Ipv6Addr::from(*addr);
        v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)
    }
}

/// The phone addresses to use: given ones, else every specific local address in the table.
pub fn phone_addrs(config: &MatchConfig, table: &SocketTable) -> Vec<IpAddr> {
    if !config.phone_addrs.is_empty() {
        return config.phone_addrs.clone();
    }
    let mut addrs: Vec<IpAddr> = table.sockets.iter().filter_map(|s| s.local.and_then(|l| l.addr)).collect();
    addrs.sort();
    addrs.dedup();
    addrs
}

/// Whether `(addr, port)` can be the socket's local endpoint.
pub fn is_local(socket: &AppSocket, addr: IpAddr, port: u16, phones: &[IpAddr]) -> bool {
    let Some(local) = socket.local else { return false };
    if local.port == 0 || local.port != port {
        return false;
    }
    match local.addr {
        Some(a) => a == addr,
        None => phones.is_empty() || phones.contains(&addr),
    }
}

/// Whether a flow from `local` to `(addr, port)` fits the socket's peer.
fn is_remote(socket: &AppSocket, addr: IpAddr, port: u16) -> bool {
    socket.protocol == PROTOCOL_UDP || socket.remotes.first().is_some_and(|r| r.addr == addr && r.port == port)
}

/// For each flow of `batch`, the index in `table.sockets` of the app socket it belongs to.
/// When several fit, the one whose lifetime overlaps the flow most wins.
pub fn match_flows(batch: &FlowBatch, table: &SocketTable, config: &MatchConfig) -> Vec<Option<usize>> {
    let phones = phone_addrs(config, table);
    let mut by_port: HashMap<(u8, u16), Vec<usize>> = HashMap::new();
    for (i, s) in table.sockets.iter().enumerate() {
        if let Some(l) = s.local.filter(|l| l.port != 0)
            && (s.protocol == PROTOCOL_TCP || s.protocol == PROTOCOL_UDP)
        {
            by_port.entry((s.protocol, l.port)).or_default().push(i);
        }
    }
    (0..batch.len())
        .map(|row| {
            let v = batch.ip_version[row];
            let a = (flow_addr(v, &batch.src_addr[row]), batch.src_port[row]);
            let b = (flow_addr(v, &batch.dst_addr[row]), batch.dst_port[row]);
            let (first, last) = (batch.first_ts_ns[row], batch.last_ts_ns[row]);
            let mut best: Option<(i64, usize)> = None;
            for (local, remote) in [(a, b), (b, a)] {
                let Some(candidates) = by_port.get(&(batch.protocol[row], local.1)) else { continue };
                for &i in candidates {
                    let s = &table.sockets[i];
                    if !is_local(s, local.0, local.1, &phones) || !is_remote(s, remote.0, remote.1) {
                        continue;
                    }
                    let start = s.first_ts_ns.saturating_add(config.offset_ns).saturating_sub(config.tolerance_ns);
                    let end = s.last_ts_ns.saturating_add(config.offset_ns).saturating_add(config.tolerance_ns);
                    let overlap = end.min(last) - start.max(first);
                    if overlap >= 0 && best.is_none_or(|(o, _)| overlap > o) {
                        best = Some((overlap, i));
                    }
                }
            }
            best.map(|(_, i)| i)
        })
        .collect()
}
