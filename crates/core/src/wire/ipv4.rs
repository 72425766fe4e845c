//! IPv4 header (RFC 791), options included in `header_len`.

use super::{Result, Unreadable, split_header};
use zerocopy::byteorder::network_endian::U16;
use zerocopy::{FromBytes, Immutable, KnownLayout, Unaligned};

#[derive(FromBytes, KnownLayout, Immutable, Unaligned, Debug)]
#[repr(C)]
pub struct Ipv4Header {
    version_ihl: u8,
    pub tos: u8,
    total_length: U16,
    identification: U16,
    flags_fragment: U16,
    pub ttl: u8,
    pub protocol: u8,
    checksum: U16,
    pub src: [u8; 4],
    pub dst: [u8; 4],
}

impl Ipv4Header {
    pub const MIN_LEN: usize = 20;

    pub fn version(&self) -> u8 {
        self.version_ihl >> 4
    }

    /// Header length in bytes, options included.
    pub fn header_len(&self) -> usize {
        usize::from(self.version_ihl & 0x0f) * 4
    }

    /// Total length field. Zero on TSO/GSO super-packets seen before segmentation.
    pub fn total_length(&self) -> u16 {
        self.total_length.get()
    }

    pub fn identification(&self) -> u16 {
        self.identification.get()
    }

    pub fn more_fragments(&self) -> bool {
        self.flags_fragment.get() & 0x2000 != 0
    }

    pub fn dont_fragment(&self) -> bool {
        self.flags_fragment.get() & 0x4000 != 0
    }

    /// Fragment offset in bytes.
    pub fn fragment_offset(&self) -> u32 {
        u32::from(self.flags_fragment.get() & 0x1fff) * 8
    }

    pub fn is_fragment(&self) -> bool {
        self.more_fragments() || self.fragment_offset() != 0
    }

    /// Checks version 4 and a header length of at least 20 bytes, all of it captured;
    /// returns the header and the bytes after the options (the captured payload).
    pub fn parse(bytes: &[u8]) -> Result<(&Self, &[u8])> {
        let (h, _) = split_header::<Self>(bytes)?;
        if h.version() != 4 || h.header_len() < Self::MIN_LEN {
            return Err(Unreadable::Malformed);
        }
        let payload = bytes.get(h.header_len()..).ok_or(Unreadable::Truncated)?;
        Ok((h, payload))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 192.168.2.100 → 185.88.236.110, TCP, 60 bytes, DF, id 0x1c46.
    const HEADER: [u8; 20] =
        [0x45, 0x00, 0x00, 0x3c, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00, 192, 168, 2, 100, 185, 88, 236, 110];

    #[test]
    fn reads_fields() {
        let (h, payload) = Ipv4Header::parse(&HEADER).unwrap();
        assert_eq!(h.version(), 4);
        assert_eq!(h.header_len(), 20);
        assert_eq!(h.total_length(), 60);
        assert_eq!(h.identification(), 0x1c46);
        assert!(h.dont_fragment());
        assert!(!h.is_fragment());
        assert_eq!(h.protocol, 6);
        assert_eq!(h.src, [192, 168, 2, 100]);
        assert_eq!(h.dst, [185, 88, 236, 110]);
        assert!(payload.is_empty());
    }

    #[test]
    fn options_and_fragments() {
        let mut bytes = HEADER.to_vec();
        bytes[0] = 0x46; // 24-byte header
        bytes[6] = 0x20; // MF, offset 0x00b9 * 8
        bytes[7] = 0xb9;
        bytes.extend_from_slice(&[0x94, 0x04, 0x00, 0x00, 0xde, 0xad]);
        let (h, payload) = Ipv4Header::parse(&bytes).unwrap();
        assert_eq!(h.header_len(), 24);
        assert!(h.more_fragments());
        assert_eq!(h.fragment_offset(), 0xb9 * 8);
        assert_eq!(payload, &[0xde, 0xad]);
    }

    #[test]
    fn rejects_bad_version_and_short_ihl() {
        let mut bytes = HEADER;
        bytes[0] = 0x65;
        assert_eq!(Ipv4Header::parse(&bytes).unwrap_err(), Unreadable::Malformed);
        bytes[0] = 0x44;
        assert_eq!(Ipv4Header::parse(&bytes).unwrap_err(), Unreadable::Malformed);
        bytes[0] = 0x4f; // 60-byte header, 20 captured
        assert_eq!(Ipv4Header::parse(&bytes).unwrap_err(), Unreadable::Truncated);
    }
}
