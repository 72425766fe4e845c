//! VXLAN header (RFC 7348), carried in UDP to port 4789; an Ethernet frame follows.

use super::{Result, Unreadable, split_header};
use zerocopy::byteorder::network_endian::U32;
use zerocopy::{FromBytes, Immutable, KnownLayout, Unaligned};

pub const UDP_PORT: u16 = 4789;

#[derive(FromBytes, KnownLayout, Immutable, Unaligned, Debug)]
#[repr(C)]
pub struct VxlanHeader {
    pub flags: u8,
    reserved: [u8; 3],
    vni_reserved: U32,
}

impl VxlanHeader {
    pub const LEN: usize = 8;

    /// The 24-bit VXLAN network identifier.
    pub fn vni(&self) -> u32 {
        self.vni_reserved.get() >> 8
    }

    /// Requires the I flag (a valid VNI), as every VXLAN frame carries.
    pub fn parse(bytes: &[u8]) -> Result<(&Self, &[u8])> {
        let (h, rest) = split_header::<Self>(bytes)?;
        if h.flags & 0x08 == 0 {
            return Err(Unreadable::Malformed);
        }
        Ok((h, rest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vni() {
        let (h, rest) = VxlanHeader::parse(&[0x08, 0, 0, 0, 0x00, 0x00, 0x7b, 0x00, 0xaa]).unwrap();
        assert_eq!(h.vni(), 123);
        assert_eq!(rest, &[0xaa]);
        assert_eq!(VxlanHeader::parse(&[0; 8]).unwrap_err(), Unreadable::Malformed);
    }
}
