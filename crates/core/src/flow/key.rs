//! The canonical bi-flow key: both directions of a conversation hash to the same key.

use crate::wire::decode::PacketMeta;

/// Which way a packet goes relative to the flow's initiator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Direction {
    /// From the initiator (the sender of the flow's first packet): "forward", "upstream".
    Forward = 0,
    Backward = 1,
}

/// (vlan, ip version, protocol, unordered pair of (address, port)).
/// The pair is stored ordered (`lo` ≤ `hi`), so the key does not depend on direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    pub vlan: u16,
    pub ip_version: u8,
    pub protocol: u8,
    pub lo_addr: [u8; 16],
    pub lo_port: u16,
    pub hi_addr: [u8; 16],
    pub hi_port: u16,
}

impl FlowKey {
    /// The key of a packet, and whether its sender is the `lo` endpoint.
    #[inline]
    pub fn of(meta: &PacketMeta) -> (FlowKey, bool) {
        Self::between(meta.vlan, meta.ip_version, meta.protocol, (meta.src, meta.src_port), (meta.dst, meta.dst_port))
    }

    /// The key of a conversation from `src` to `dst` (address, port), and whether `src` is
    /// the `lo` endpoint.
    #[inline]
    pub fn between(
        vlan: u16,
        ip_version: u8,
        protocol: u8,
        src: ([u8; 16], u16),
        dst: ([u8; 16], u16),
    ) -> (FlowKey, bool) {
        let src_is_lo = src <= dst;
        let ((lo_addr, lo_port), (hi_addr, hi_port)) = if src_is_lo { (src, dst) } else { (dst, src) };
        (FlowKey { vlan, ip_version, protocol, lo_addr, lo_port, hi_addr, hi_port }, src_is_lo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::decode::Fragment;

    fn meta(src: u8, sport: u16, dst: u8, dport: u16) -> PacketMeta {
        let mut m = PacketMeta {
            ip_version: 4,
            protocol: 6,
            src: [0; 16],
            dst: [0; 16],
            src_port: sport,
            dst_port: dport,
            vlan: 7,
            ip_len: 40,
            l4_payload_len: 0,
            tcp_flags: 0,
            tcp_window: 0,
            fragment: Fragment::None,
            tunnel: 0,
        };
        m.src[3] = src;
        m.dst[3] = dst;
        m
    }

    #[test]
    fn both_directions_share_a_key() {
        let (a, a_lo) = FlowKey::of(&meta(9, 40000, 1, 443));
        let (b, b_lo) = FlowKey::of(&meta(1, 443, 9, 40000));
        assert_eq!(a, b);
        assert_ne!(a_lo, b_lo);
        assert_eq!((a.lo_port, a.hi_port, a.vlan), (443, 40000, 7));
    }

    #[test]
    fn same_address_orders_by_port() {
        let (k, lo) = FlowKey::of(&meta(1, 5000, 1, 53));
        assert!(!lo);
        assert_eq!((k.lo_port, k.hi_port), (53, 5000));
    }
}
