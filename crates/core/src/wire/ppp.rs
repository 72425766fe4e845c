//! PPP protocol field (RFC 1661), as carried by PPPoE and PPTP's GRE.

use super::{Result, Unreadable};

pub const PPP_IPV4: u16 = 0x0021;
pub const PPP_IPV6: u16 = 0x0057;
pub const PPP_MPLS_UNICAST: u16 = 0x0281;
pub const PPP_MPLS_MULTICAST: u16 = 0x0283;

/// Reads the PPP protocol number at the start of `bytes`, skipping an HDLC-like
/// address/control pair (`ff 03`) and honouring protocol-field compression (a 1-byte
/// protocol has its low bit set). Returns the protocol and the payload.
pub fn parse_protocol(bytes: &[u8]) -> Result<(u16, &[u8])> {
    let bytes = match bytes {
        [0xff, 0x03, rest @ ..] => rest,
        _ => bytes,
    };
    match bytes {
        [first, rest @ ..] if first & 1 == 1 => Ok((u16::from(*first), rest)),
        [hi, lo, rest @ ..] => Ok((u16::from_be_bytes([*hi, *lo]), rest)),
        _ => Err(Unreadable::Truncated),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_compressed_and_framed() {
        assert_eq!(parse_protocol(&[0x00, 0x21, 0x45]).unwrap(), (PPP_IPV4, &[0x45][..]));
        assert_eq!(parse_protocol(&[0x21, 0x45]).unwrap(), (PPP_IPV4, &[0x45][..]));
        assert_eq!(parse_protocol(&[0xff, 0x03, 0x00, 0x57]).unwrap(), (PPP_IPV6, &[][..]));
        assert_eq!(parse_protocol(&[0x00]).unwrap_err(), Unreadable::Truncated);
    }
}
