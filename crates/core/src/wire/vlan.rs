//! IEEE 802.1Q / 802.1ad VLAN tag (the 4 bytes after the TPID).

use super::{Result, split_header};
use zerocopy::byteorder::network_endian::U16;
use zerocopy::{FromBytes, Immutable, KnownLayout, Unaligned};

/// Tag control information and the EtherType that follows the tag.
#[derive(FromBytes, KnownLayout, Immutable, Unaligned, Debug)]
#[repr(C)]
pub struct VlanTag {
    tci: U16,
    ethertype: U16,
}

impl VlanTag {
    pub const LEN: usize = 4;

    /// The 12-bit VLAN identifier (0 = priority tag only).
    pub fn vlan_id(&self) -> u16 {
        self.tci.get() & 0x0fff
    }

    pub fn priority(&self) -> u8 {
        (self.tci.get() >> 13) as u8
    }

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
    fn reads_id_priority_and_inner_type() {
        // PCP 5, DEI 0, VID 0x08e (142), then IPv4.
        let (tag, rest) = VlanTag::parse(&[0xa0, 0x8e, 0x08, 0x00]).unwrap();
        assert_eq!(tag.vlan_id(), 142);
        assert_eq!(tag.priority(), 5);
        assert_eq!(tag.ethertype(), 0x0800);
        assert!(rest.is_empty());
    }
}
