//! Geneve header (RFC 8926), carried in UDP to port 6081.

use super::{Result, Unreadable, split_header};
use zerocopy::byteorder::network_endian::{U16, U32};
use zerocopy::{FromBytes, Immutable, KnownLayout, Unaligned};

pub const UDP_PORT: u16 = 6081;

#[derive(FromBytes, KnownLayout, Immutable, Unaligned, Debug)]
#[repr(C)]
pub struct GeneveHeader {
    ver_optlen: u8,
    pub flags: u8,
    protocol: U16,
    vni_reserved: U32,
}

impl GeneveHeader {
    pub fn version(&self) -> u8 {
        self.ver_optlen >> 6
    }

    /// Header length with options, in bytes.
    pub fn header_len(&self) -> usize {
        8 + usize::from(self.ver_optlen & 0x3f) * 4
    }

    /// EtherType of the payload (0x6558 = Ethernet).
    pub fn protocol(&self) -> u16 {
        self.protocol.get()
    }

    pub fn vni(&self) -> u32 {
        self.vni_reserved.get() >> 8
    }

    pub fn parse(bytes: &[u8]) -> Result<(&Self, &[u8])> {
        let (h, _) = split_header::<Self>(bytes)?;
        if h.version() != 0 {
            return Err(Unreadable::Malformed);
        }
        let payload = bytes.get(h.header_len()..).ok_or(Unreadable::Truncated)?;
        Ok((h, payload))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_one_option_word() {
        let bytes = [0x01, 0x00, 0x65, 0x58, 0x00, 0x00, 0x0a, 0x00, 1, 2, 3, 4, 0xee];
        let (h, rest) = GeneveHeader::parse(&bytes).unwrap();
        assert_eq!(h.header_len(), 12);
        assert_eq!(h.protocol(), 0x6558);
        assert_eq!(h.vni(), 10);
        assert_eq!(rest, &[0xee]);
    }
}
