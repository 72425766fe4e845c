//! UDP header (RFC 768).

use super::{Result, split_header};
use zerocopy::byteorder::network_endian::U16;
use zerocopy::{FromBytes, Immutable, KnownLayout, Unaligned};

#[derive(FromBytes, KnownLayout, Immutable, Unaligned, Debug)]
#[repr(C)]
pub struct UdpHeader {
    src_port: U16,
    dst_port: U16,
    length: U16,
    checksum: U16,
}

impl UdpHeader {
    pub const LEN: usize = 8;

    pub fn src_port(&self) -> u16 {
        self.src_port.get()
    }

    pub fn dst_port(&self) -> u16 {
        self.dst_port.get()
    }

    /// Length of header plus payload, as the sender wrote it.
    pub fn length(&self) -> u16 {
        self.length.get()
    }

    pub fn parse(bytes: &[u8]) -> Result<(&Self, &[u8])> {
        split_header(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_query() {
        let bytes = [0xd4, 0x31, 0x00, 0x35, 0x00, 0x2c, 0xab, 0xcd, 0x12];
        let (h, rest) = UdpHeader::parse(&bytes).unwrap();
        assert_eq!(h.src_port(), 54321);
        assert_eq!(h.dst_port(), 53);
        assert_eq!(h.length(), 44);
        assert_eq!(rest, &[0x12]);
    }
}
