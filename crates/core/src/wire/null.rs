//! BSD loopback header (link types NULL = 0 and LOOP = 108): a 4-byte address family.

use super::{Result, Unreadable};

/// What a loopback header says the payload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoopbackFamily {
    Ipv4,
    Ipv6,
    Other(u32),
}

/// AF_INET6 differs between systems: Linux/NetBSD 24, FreeBSD 28, macOS/Darwin 30, Linux's 10.
const AF_INET6_VALUES: [u32; 4] = [10, 24, 28, 30];

fn family(value: u32) -> LoopbackFamily {
    match value {
        2 => LoopbackFamily::Ipv4,
        v if AF_INET6_VALUES.contains(&v) => LoopbackFamily::Ipv6,
        v => LoopbackFamily::Other(v),
    }
}

/// Reads the family. NULL headers are in the capturing host's byte order, which the file
/// does not record, so the order whose value is a small number wins; LOOP is big-endian.
pub fn parse(bytes: &[u8], always_big_endian: bool) -> Result<(LoopbackFamily, &[u8])> {
    let (head, rest) = bytes.split_first_chunk::<4>().ok_or(Unreadable::Truncated)?;
    let be = u32::from_be_bytes(*head);
    let value = if always_big_endian || be < 0x100 { be } else { u32::from_le_bytes(*head) };
    Ok((family(value), rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_byte_orders() {
        assert_eq!(parse(&[2, 0, 0, 0, 0x45], false).unwrap(), (LoopbackFamily::Ipv4, &[0x45][..]));
        assert_eq!(parse(&[0, 0, 0, 2], false).unwrap().0, LoopbackFamily::Ipv4);
        assert_eq!(parse(&[30, 0, 0, 0], false).unwrap().0, LoopbackFamily::Ipv6);
        assert_eq!(parse(&[0, 0, 0, 24], true).unwrap().0, LoopbackFamily::Ipv6);
        assert_eq!(parse(&[7, 0, 0, 0], false).unwrap().0, LoopbackFamily::Other(7));
        assert_eq!(parse(&[2, 0], false).unwrap_err(), Unreadable::Truncated);
    }
}
