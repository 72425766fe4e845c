//! GTPv1-U header (3GPP TS 29.281), carried in UDP to port 2152; G-PDUs carry user IP packets.

use super::{Result, Unreadable, split_header};
use zerocopy::byteorder::network_endian::{U16, U32};
use zerocopy::{FromBytes, Immutable, KnownLayout, Unaligned};

pub const UDP_PORT: u16 = 2152;
/// Message type of a G-PDU (an encapsulated user packet).
pub const MESSAGE_GPDU: u8 = 0xff;

const FLAG_EXTENSION: u8 = 0x04;
const FLAG_SEQUENCE: u8 = 0x02;
const FLAG_NPDU: u8 = 0x01;

#[derive(FromBytes, KnownLayout, Immutable, Unaligned, Debug)]
#[repr(C)]
pub struct GtpHeader {
    flags: u8,
    pub message_type: u8,
    length: U16,
    teid: U32,
}

impl GtpHeader {
    pub fn version(&self) -> u8 {
        self.flags >> 5
    }

    pub fn teid(&self) -> u32 {
        self.teid.get()
    }

    /// Length of the payload after the 8 mandatory bytes (optional fields included).
    pub fn length(&self) -> u16 {
        self.length.get()
    }

    /// Returns the header and the payload after the optional fields and the chain of
    /// extension headers. Only version 1 with the protocol-type bit (GTP, not GTP') is taken.
    pub fn parse(bytes: &[u8]) -> Result<(&Self, &[u8])> {
        let (h, mut rest) = split_header::<Self>(bytes)?;
        if h.version() != 1 || h.flags & 0x10 == 0 {
            return Err(Unreadable::Malformed);
        }
        if h.flags & (FLAG_EXTENSION | FLAG_SEQUENCE | FLAG_NPDU) != 0 {
            // sequence (2), N-PDU (1), next extension type (1)
            let [_, _, _, first_ext, tail @ ..] = rest else { return Err(Unreadable::Truncated) };
            let mut next = *first_ext;
            rest = tail;
            while h.flags & FLAG_EXTENSION != 0 && next != 0 {
                // each extension: length in 4-byte units (first byte), content, next type (last byte)
                let units = usize::from(*rest.first().ok_or(Unreadable::Truncated)?);
                if units == 0 {
                    return Err(Unreadable::Malformed);
                }
                let ext = rest.get(..units * 4).ok_or(Unreadable::Truncated)?;
                next = ext[ext.len() - 1];
                rest = &rest[units * 4..];
            }
        }
        Ok((h, rest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_gpdu() {
        let bytes = [0x30, 0xff, 0x00, 0x54, 0x00, 0x00, 0x00, 0x2a, 0x45];
        let (h, rest) = GtpHeader::parse(&bytes).unwrap();
        assert_eq!(h.version(), 1);
        assert_eq!(h.message_type, MESSAGE_GPDU);
        assert_eq!(h.teid(), 42);
        assert_eq!(rest, &[0x45]);
    }

    #[test]
    fn with_pdu_session_extension() {
        let bytes = [
            0x34, 0xff, 0x00, 0x5c, 0, 0, 0, 1, // E flag
            0x00, 0x00, 0x00, 0x85, // seq, N-PDU, next = PDU session container
            0x01, 0x10, 0x09, 0x00, // 1 unit, content, next = none
            0x60,
        ];
        let (_, rest) = GtpHeader::parse(&bytes).unwrap();
        assert_eq!(rest, &[0x60]);
    }

    #[test]
    fn refuses_gtp_prime() {
        assert_eq!(GtpHeader::parse(&[0x20, 0xff, 0, 0, 0, 0, 0, 0]).unwrap_err(), Unreadable::Malformed);
    }
}
