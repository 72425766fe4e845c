//! GRE header (RFC 2784/2890) and PPTP's enhanced GRE (RFC 2637, version 1).

use super::{Result, Unreadable, split_header};
use zerocopy::byteorder::network_endian::U16;
use zerocopy::{FromBytes, Immutable, KnownLayout, Unaligned};

const FLAG_CHECKSUM: u16 = 0x8000;
const FLAG_ROUTING: u16 = 0x4000;
const FLAG_KEY: u16 = 0x2000;
const FLAG_SEQUENCE: u16 = 0x1000;
/// Acknowledgment number present (version 1 only).
const FLAG_ACK: u16 = 0x0080;

#[derive(FromBytes, KnownLayout, Immutable, Unaligned, Debug)]
#[repr(C)]
pub struct GreHeader {
    flags_version: U16,
    protocol: U16,
}

impl GreHeader {
    pub fn version(&self) -> u8 {
        (self.flags_version.get() & 0x7) as u8
    }

    /// The EtherType of the payload (0x880b = PPP for PPTP).
    pub fn protocol(&self) -> u16 {
        self.protocol.get()
    }

    /// Length of the header with the optional fields its flags announce.
    pub fn header_len(&self) -> usize {
        let f = self.flags_version.get();
        let mut len = 4;
        if f & (FLAG_CHECKSUM | FLAG_ROUTING) != 0 {
            len += 4;
        }
        for flag in [FLAG_KEY, FLAG_SEQUENCE] {
            if f & flag != 0 {
                len += 4;
            }
        }
        if self.version() == 1 && f & FLAG_ACK != 0 {
            len += 4;
        }
        len
    }

    /// Returns the header and its payload. Source routing (RFC 1701) and versions other
    /// than 0 and 1 are refused: nothing in them is a plain encapsulated packet.
    pub fn parse(bytes: &[u8]) -> Result<(&Self, &[u8])> {
        let (h, _) = split_header::<Self>(bytes)?;
        if h.version() > 1 || h.flags_version.get() & FLAG_ROUTING != 0 {
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
    fn plain_gre_ipv4() {
        let (h, rest) = GreHeader::parse(&[0x00, 0x00, 0x08, 0x00, 0x45]).unwrap();
        assert_eq!(h.version(), 0);
        assert_eq!(h.protocol(), 0x0800);
        assert_eq!(rest, &[0x45]);
    }

    #[test]
    fn key_and_sequence() {
        let bytes = [0x30, 0x00, 0x86, 0xdd, 0, 0, 0, 1, 0, 0, 0, 2, 0x60];
        let (h, rest) = GreHeader::parse(&bytes).unwrap();
        assert_eq!(h.header_len(), 12);
        assert_eq!(rest, &[0x60]);
    }

    #[test]
    fn pptp_enhanced_gre_with_ack() {
        // K and S set, version 1 with A flag, PPP; payload length, call id, seq, ack
        let bytes = [0x30, 0x81, 0x88, 0x0b, 0, 4, 0, 7, 0, 0, 0, 1, 0, 0, 0, 0, 0xff, 0x03];
        let (h, rest) = GreHeader::parse(&bytes).unwrap();
        assert_eq!(h.version(), 1);
        assert_eq!(h.header_len(), 16);
        assert_eq!(rest, &[0xff, 0x03]);
    }

    #[test]
    fn refuses_version_2() {
        assert_eq!(GreHeader::parse(&[0x00, 0x02, 0x08, 0x00]).unwrap_err(), Unreadable::Malformed);
    }
}
