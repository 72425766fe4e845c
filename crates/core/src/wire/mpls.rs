//! MPLS label stack entry (RFC 3032).

use super::{Result, split_header};
use zerocopy::byteorder::network_endian::U32;
use zerocopy::{FromBytes, Immutable, KnownLayout, Unaligned};

#[derive(FromBytes, KnownLayout, Immutable, Unaligned, Debug)]
#[repr(C)]
pub struct MplsEntry {
    word: U32,
}

impl MplsEntry {
    pub const LEN: usize = 4;

    pub fn label(&self) -> u32 {
        self.word.get() >> 12
    }

    /// Bottom-of-stack bit: the last entry before the payload.
    pub fn bottom_of_stack(&self) -> bool {
        self.word.get() & 0x100 != 0
    }

    pub fn ttl(&self) -> u8 {
        self.word.get() as u8
    }

    pub fn parse(bytes: &[u8]) -> Result<(&Self, &[u8])> {
        split_header(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_label_bos_and_ttl() {
        // label 16, TC 0, S 1, TTL 64
        let (e, _) = MplsEntry::parse(&[0x00, 0x01, 0x01, 0x40]).unwrap();
        assert_eq!(e.label(), 16);
        assert!(e.bottom_of_stack());
        assert_eq!(e.ttl(), 64);
        let (e, _) = MplsEntry::parse(&[0x00, 0x01, 0x00, 0x40]).unwrap();
        assert!(!e.bottom_of_stack());
    }
}
