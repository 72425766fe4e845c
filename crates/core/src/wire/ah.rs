//! IP Authentication Header (RFC 4302): skipped to reach the protected protocol.

use super::{Result, Unreadable, split_header};
use zerocopy::byteorder::network_endian::U32;
use zerocopy::{FromBytes, Immutable, KnownLayout, Unaligned};

#[derive(FromBytes, KnownLayout, Immutable, Unaligned, Debug)]
#[repr(C)]
pub struct AhHeader {
    pub next_header: u8,
    payload_len: u8,
    reserved: [u8; 2],
    spi: U32,
}

impl AhHeader {
    /// Whole header length in bytes: the length field counts 32-bit words minus 2.
    pub fn header_len(&self) -> usize {
        (usize::from(self.payload_len) + 2) * 4
    }

    pub fn spi(&self) -> u32 {
        self.spi.get()
    }

    /// Returns the header and the bytes after the whole AH (ICV included).
    pub fn parse(bytes: &[u8]) -> Result<(&Self, &[u8])> {
        let (h, _) = split_header::<Self>(bytes)?;
        let rest = bytes.get(h.header_len()..).ok_or(Unreadable::Truncated)?;
        Ok((h, rest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_icv() {
        // next ICMP, len 4 → 24 bytes, SPI 0x1000
        let mut bytes = vec![1, 4, 0, 0, 0, 0, 0x10, 0x00];
        bytes.extend_from_slice(&[0; 16]);
        bytes.push(0x08);
        let (h, rest) = AhHeader::parse(&bytes).unwrap();
        assert_eq!(h.next_header, 1);
        assert_eq!(h.header_len(), 24);
        assert_eq!(h.spi(), 0x1000);
        assert_eq!(rest, &[0x08]);
    }
}
