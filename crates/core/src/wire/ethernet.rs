//! Ethernet II header and the EtherType numbers the decoder follows.

use super::{Result, split_header};
use zerocopy::byteorder::network_endian::U16;
use zerocopy::{FromBytes, Immutable, KnownLayout, Unaligned};

pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
pub const ETHERTYPE_VLAN: u16 = 0x8100;
pub const ETHERTYPE_QINQ: u16 = 0x88a8;
/// Pre-standard QinQ tag still emitted by some switches.
pub const ETHERTYPE_QINQ_OLD: u16 = 0x9100;
pub const ETHERTYPE_MPLS_UNICAST: u16 = 0x8847;
pub const ETHERTYPE_MPLS_MULTICAST: u16 = 0x8848;
pub const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;
/// GRE protocol type for bridged Ethernet (used by GRE/Geneve "transparent Ethernet bridging").
pub const ETHERTYPE_TEB: u16 = 0x6558;
/// GRE protocol type for PPP (PPTP's enhanced GRE).
pub const ETHERTYPE_PPP: u16 = 0x880b;
/// Cisco MetaData (a Security Group Tag before the packet, see `cmd.rs`).
pub const ETHERTYPE_CISCO_METADATA: u16 = 0x8909;

/// The 14-byte Ethernet II header.
#[derive(FromBytes, KnownLayout, Immutable, Unaligned, Debug)]
#[repr(C)]
pub struct EthernetHeader {
    pub dst: [u8; 6],
    pub src: [u8; 6],
    ethertype: U16,
}

impl EthernetHeader {
    pub const LEN: usize = 14;

    /// The EtherType, or for IEEE 802.3 frames the length field (< 0x0600).
    pub fn ethertype(&self) -> u16 {
        self.ethertype.get()
    }

    pub fn parse(bytes: &[u8]) -> Result<(&Self, &[u8])> {
        split_header(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_addresses_and_ethertype() {
        let bytes = [
            0x00, 0x11, 0x22, 0x33, 0x44, 0x55, // dst
            0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, // src
            0x08, 0x00, // IPv4
            0x45,
        ];
        let (eth, rest) = EthernetHeader::parse(&bytes).unwrap();
        assert_eq!(eth.dst, [0x00, 0x11, 0x22, 0x33, 0x44, 0x55]);
        assert_eq!(eth.src, [0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb]);
        assert_eq!(eth.ethertype(), ETHERTYPE_IPV4);
        assert_eq!(rest, &[0x45]);
    }

    #[test]
    fn short_frame_is_truncated() {
        assert_eq!(EthernetHeader::parse(&[0u8; 13]).unwrap_err(), super::super::Unreadable::Truncated);
    }
}
