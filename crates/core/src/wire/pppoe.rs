//! PPPoE session header (RFC 2516); the PPP protocol field follows it.

use super::{Result, Unreadable, split_header};
use zerocopy::byteorder::network_endian::U16;
use zerocopy::{FromBytes, Immutable, KnownLayout, Unaligned};

#[derive(FromBytes, KnownLayout, Immutable, Unaligned, Debug)]
#[repr(C)]
pub struct PppoeHeader {
    ver_type: u8,
    pub code: u8,
    session_id: U16,
    length: U16,
}

impl PppoeHeader {
    pub const LEN: usize = 6;

    pub fn session_id(&self) -> u16 {
        self.session_id.get()
    }

    /// Payload length (PPP protocol field included).
    pub fn length(&self) -> u16 {
        self.length.get()
    }

    /// Checks version 1 / type 1, as every PPPoE frame must carry.
    pub fn parse(bytes: &[u8]) -> Result<(&Self, &[u8])> {
        let (h, rest) = split_header::<Self>(bytes)?;
        if h.ver_type != 0x11 {
            return Err(Unreadable::Malformed);
        }
        Ok((h, rest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_header() {
        let (h, rest) = PppoeHeader::parse(&[0x11, 0x00, 0x12, 0x34, 0x00, 0x02, 0x00, 0x21]).unwrap();
        assert_eq!(h.session_id(), 0x1234);
        assert_eq!(h.length(), 2);
        assert_eq!(rest, &[0x00, 0x21]);
        assert_eq!(PppoeHeader::parse(&[0x21, 0, 0, 0, 0, 0]).unwrap_err(), Unreadable::Malformed);
    }
}
