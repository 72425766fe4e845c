//! Per-Packet Information header (link type 192): a little-endian wrapper that names the
//! link type of the frame inside.

use super::{Result, Unreadable, split_header};
use zerocopy::byteorder::little_endian::{U16, U32};
use zerocopy::{FromBytes, Immutable, KnownLayout, Unaligned};

#[derive(FromBytes, KnownLayout, Immutable, Unaligned, Debug)]
#[repr(C)]
pub struct PpiHeader {
    pub version: u8,
    pub flags: u8,
    length: U16,
    dlt: U32,
}

impl PpiHeader {
    pub const MIN_LEN: usize = 8;

    /// Length of the whole PPI header, fields included.
    pub fn length(&self) -> u16 {
        self.length.get()
    }

    /// The link type of the encapsulated frame.
    pub fn dlt(&self) -> u32 {
        self.dlt.get()
    }

    /// Returns the header and the encapsulated frame (after the PPI fields).
    pub fn parse(bytes: &[u8]) -> Result<(&Self, &[u8])> {
        let (h, _) = split_header::<Self>(bytes)?;
        let len = usize::from(h.length());
        if len < Self::MIN_LEN {
            return Err(Unreadable::Malformed);
        }
        let inner = bytes.get(len..).ok_or(Unreadable::Truncated)?;
        Ok((h, inner))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_fields_to_inner_frame() {
        let bytes = [0, 0, 12, 0, 1, 0, 0, 0, 0xaa, 0xbb, 0xcc, 0xdd, 0xee];
        let (h, inner) = PpiHeader::parse(&bytes).unwrap();
        assert_eq!(h.dlt(), 1);
        assert_eq!(inner, &[0xee]);
        assert_eq!(PpiHeader::parse(&[0, 0, 4, 0, 1, 0, 0, 0]).unwrap_err(), Unreadable::Malformed);
    }
}
