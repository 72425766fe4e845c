//! TCP header (RFC 9293), the fixed 20 bytes; options are counted, not read.

use super::{Result, Unreadable, split_header};
use zerocopy::byteorder::network_endian::{U16, U32};
use zerocopy::{FromBytes, Immutable, KnownLayout, Unaligned};

pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;
pub const URG: u8 = 0x20;
pub const ECE: u8 = 0x40;
pub const CWR: u8 = 0x80;

#[derive(FromBytes, KnownLayout, Immutable, Unaligned, Debug)]
#[repr(C)]
pub struct TcpHeader {
    src_port: U16,
    dst_port: U16,
    seq: U32,
    ack: U32,
    offset_reserved: u8,
    /// CWR ECE URG ACK PSH RST SYN FIN, most significant first.
    pub flags: u8,
    window: U16,
    checksum: U16,
    urgent: U16,
}

impl TcpHeader {
    pub const MIN_LEN: usize = 20;

    pub fn src_port(&self) -> u16 {
        self.src_port.get()
    }

    pub fn dst_port(&self) -> u16 {
        self.dst_port.get()
    }

    pub fn seq(&self) -> u32 {
        self.seq.get()
    }

    pub fn ack(&self) -> u32 {
        self.ack.get()
    }

    /// Header length in bytes, options included (from the data offset field).
    pub fn header_len(&self) -> usize {
        usize::from(self.offset_reserved >> 4) * 4
    }

    /// The raw, unscaled receive window.
    pub fn window(&self) -> u16 {
        self.window.get()
    }

    /// Reads the fixed header. Options need not be captured (header-only captures often
    /// cut them), but the data offset must be at least 5 words.
    pub fn parse(bytes: &[u8]) -> Result<(&Self, &[u8])> {
        let (h, rest) = split_header::<Self>(bytes)?;
        if h.header_len() < Self::MIN_LEN {
            return Err(Unreadable::Malformed);
        }
        Ok((h, rest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syn_with_options() {
        let bytes = [
            0xc5, 0x34, 0x14, 0x66, // 50484 → 5222
            0x00, 0x00, 0x00, 0x64, // seq 100
            0x00, 0x00, 0x00, 0x00, // ack
            0xa0, 0x02, 0xff, 0xff, // offset 10 words, SYN, window 65535
            0x12, 0x34, 0x00, 0x00, // checksum, urgent
            0x02, 0x04, // MSS option, cut by the snap length
        ];
        let (h, rest) = TcpHeader::parse(&bytes).unwrap();
        assert_eq!(h.src_port(), 50484);
        assert_eq!(h.dst_port(), 5222);
        assert_eq!(h.seq(), 100);
        assert_eq!(h.header_len(), 40);
        assert_eq!(h.flags, SYN);
        assert_eq!(h.window(), 65535);
        assert_eq!(rest, &[0x02, 0x04]);
    }

    #[test]
    fn bad_offset_and_truncation() {
        let mut bytes = [0u8; 20];
        bytes[12] = 0x40;
        assert_eq!(TcpHeader::parse(&bytes).unwrap_err(), Unreadable::Malformed);
        assert_eq!(TcpHeader::parse(&bytes[..19]).unwrap_err(), Unreadable::Truncated);
    }
}
