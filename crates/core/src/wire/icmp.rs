//! ICMP and ICMPv6 share the same first four bytes: type, code, checksum.
//! Flows of these protocols key with ports 0 (as nDPI does); type and code are kept for
//! whoever wants them.

use super::{Result, split_header};
use zerocopy::byteorder::network_endian::U16;
use zerocopy::{FromBytes, Immutable, KnownLayout, Unaligned};

#[derive(FromBytes, KnownLayout, Immutable, Unaligned, Debug)]
#[repr(C)]
pub struct IcmpHeader {
    pub kind: u8,
    pub code: u8,
    checksum: U16,
}

impl IcmpHeader {
    /// ICMP's fixed header is 8 bytes (type, code, checksum, 4 bytes of "rest of header").
    pub const LEN: usize = 8;

    pub fn checksum(&self) -> u16 {
        self.checksum.get()
    }

    pub fn parse(bytes: &[u8]) -> Result<(&Self, &[u8])> {
        split_header(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_request() {
        let (h, rest) = IcmpHeader::parse(&[8, 0, 0xf7, 0xff, 0, 1, 0, 1]).unwrap();
        assert_eq!((h.kind, h.code, h.checksum()), (8, 0, 0xf7ff));
        assert_eq!(rest.len(), 4);
    }
}
