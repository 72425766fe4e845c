//! Linux "cooked" capture headers: SLL (link type 113) and SLL2 (276).
//! Both end in an EtherType-style protocol number for what follows.

use super::{Result, split_header};
use zerocopy::byteorder::network_endian::{U16, U32};
use zerocopy::{FromBytes, Immutable, KnownLayout, Unaligned};

/// LINUX_SLL: 16 bytes, protocol last.
#[derive(FromBytes, KnownLayout, Immutable, Unaligned, Debug)]
#[repr(C)]
pub struct SllHeader {
    packet_type: U16,
    arphrd_type: U16,
    addr_len: U16,
    pub addr: [u8; 8],
    protocol: U16,
}

impl SllHeader {
    pub const LEN: usize = 16;

    /// 0 to us, 1 broadcast, 2 multicast, 3 to someone else, 4 sent by us.
    pub fn packet_type(&self) -> u16 {
        self.packet_type.get()
    }

    pub fn arphrd_type(&self) -> u16 {
        self.arphrd_type.get()
    }

    pub fn protocol(&self) -> u16 {
        self.protocol.get()
    }

    pub fn parse(bytes: &[u8]) -> Result<(&Self, &[u8])> {
        split_header(bytes)
    }
}

/// LINUX_SLL2: 20 bytes, protocol first.
#[derive(FromBytes, KnownLayout, Immutable, Unaligned, Debug)]
#[repr(C)]
pub struct Sll2Header {
    protocol: U16,
    reserved: U16,
    interface_index: U32,
    arphrd_type: U16,
    pub packet_type: u8,
    pub addr_len: u8,
    pub addr: [u8; 8],
}

impl Sll2Header {
    pub const LEN: usize = 20;

    pub fn protocol(&self) -> u16 {
        self.protocol.get()
    }

    pub fn interface_index(&self) -> u32 {
        self.interface_index.get()
    }

    pub fn arphrd_type(&self) -> u16 {
        self.arphrd_type.get()
    }

    pub fn parse(bytes: &[u8]) -> Result<(&Self, &[u8])> {
        split_header(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sll_v1() {
        let bytes = [
            0x00, 0x04, // sent by us
            0x00, 0x01, // ARPHRD_ETHER
            0x00, 0x06, // address length
            0x02, 0x42, 0xac, 0x11, 0x00, 0x02, 0x00, 0x00, // address, padded
            0x08, 0x00, // IPv4
        ];
        let (h, rest) = SllHeader::parse(&bytes).unwrap();
        assert_eq!(h.packet_type(), 4);
        assert_eq!(h.arphrd_type(), 1);
        assert_eq!(h.protocol(), 0x0800);
        assert!(rest.is_empty());
    }

    #[test]
    fn sll_v2() {
        let bytes = [
            0x86, 0xdd, 0x00, 0x00, // IPv6, reserved
            0x00, 0x00, 0x00, 0x03, // ifindex 3
            0x00, 0x01, 0x00, 0x06, // ARPHRD_ETHER, to us, addr len 6
            0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x00, 0x00,
        ];
        let (h, _) = Sll2Header::parse(&bytes).unwrap();
        assert_eq!(h.protocol(), 0x86dd);
        assert_eq!(h.interface_index(), 3);
        assert_eq!(h.arphrd_type(), 1);
        assert_eq!(h.addr_len, 6);
    }
}
