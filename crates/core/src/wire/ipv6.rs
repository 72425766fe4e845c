//! IPv6 fixed header (RFC 8200) and the walk over its extension headers.

use super::ah::AhHeader;
use super::protocol::PROTOCOL_AH;
use super::{Result, Unreadable, split_header};
use zerocopy::byteorder::network_endian::{U16, U32};
use zerocopy::{FromBytes, Immutable, KnownLayout, Unaligned};

pub const NEXT_HOP_BY_HOP: u8 = 0;
pub const NEXT_ROUTING: u8 = 43;
pub const NEXT_FRAGMENT: u8 = 44;
pub const NEXT_NONE: u8 = 59;
pub const NEXT_DEST_OPTIONS: u8 = 60;
pub const NEXT_MOBILITY: u8 = 135;
pub const NEXT_HIP: u8 = 139;
pub const NEXT_SHIM6: u8 = 140;

/// Hop-by-hop option type of the Jumbo Payload option (RFC 2675), used by BIG TCP.
const OPTION_JUMBO: u8 = 0xc2;

#[derive(FromBytes, KnownLayout, Immutable, Unaligned, Debug)]
#[repr(C)]
pub struct Ipv6Header {
    version_class_flow: U32,
    payload_length: U16,
    pub next_header: u8,
    pub hop_limit: u8,
    pub src: [u8; 16],
    pub dst: [u8; 16],
}

impl Ipv6Header {
    pub const LEN: usize = 40;

    pub fn version(&self) -> u8 {
        (self.version_class_flow.get() >> 28) as u8
    }

    pub fn flow_label(&self) -> u32 {
        self.version_class_flow.get() & 0x000f_ffff
    }

    /// Payload length field; zero when a Jumbo Payload option carries the length.
    pub fn payload_length(&self) -> u16 {
        self.payload_length.get()
    }

    pub fn parse(bytes: &[u8]) -> Result<(&Self, &[u8])> {
        let (h, rest) = split_header::<Self>(bytes)?;
        if h.version() != 6 {
            return Err(Unreadable::Malformed);
        }
        Ok((h, rest))
    }
}

/// The fragment extension header's fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Fragment {
    pub identification: u32,
    /// Offset in bytes.
    pub offset: u32,
    pub more: bool,
}

/// What lies past the extension headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Chain {
    /// The upper-layer protocol (or 59, "no next header"; or 50, ESP, which hides the rest).
    pub protocol: u8,
    /// Bytes of extension headers from the end of the fixed header to the upper layer.
    pub ext_len: usize,
    pub fragment: Option<Ipv6Fragment>,
    /// The Jumbo Payload length from a hop-by-hop option, when present.
    pub jumbo_length: Option<u32>,
}

/// Walks the extension headers that start at `bytes` (the fixed header's payload).
/// Stops at the first header that is not an extension header, or after a non-first
/// fragment header (the rest is the middle of someone else's datagram).
pub fn walk_extensions(first: u8, bytes: &[u8]) -> Result<Ipv6Chain> {
    let mut next = first;
    let mut at = 0usize;
    let mut fragment = None;
    let mut jumbo_length = None;
    // No iteration bound is needed: every extension header consumes at least 8 bytes, so
    // the captured bytes bound the walk (real chains can be long: 100+ headers are legal).
    loop {
        let rest = &bytes[at..];
        match next {
            NEXT_HOP_BY_HOP | NEXT_ROUTING | NEXT_DEST_OPTIONS | NEXT_MOBILITY | NEXT_HIP | NEXT_SHIM6 => {
                let [nh, len, ..] = *rest else { return Err(Unreadable::Truncated) };
                let size = (usize::from(len) + 1) * 8;
                let body = rest.get(..size).ok_or(Unreadable::Truncated)?;
                if next == NEXT_HOP_BY_HOP {
                    jumbo_length = jumbo_length.or(find_jumbo(&body[2..]));
                }
                next = nh;
                at += size;
            }
            NEXT_FRAGMENT => {
                let body = rest.get(..8).ok_or(Unreadable::Truncated)?;
                let off_flags = u16::from_be_bytes([body[2], body[3]]);
                let frag = Ipv6Fragment {
                    identification: u32::from_be_bytes([body[4], body[5], body[6], body[7]]),
                    offset: u32::from(off_flags & 0xfff8),
                    more: off_flags & 1 != 0,
                };
                fragment = Some(frag);
                next = body[0];
                at += 8;
                if frag.offset != 0 {
                    break;
                }
            }
            PROTOCOL_AH => {
                let (ah, _) = AhHeader::parse(rest)?;
                next = ah.next_header;
                at += ah.header_len();
            }
            _ => break,
        }
    }
    Ok(Ipv6Chain { protocol: next, ext_len: at, fragment, jumbo_length })
}

/// Scans hop-by-hop options (type, length, value…) for the Jumbo Payload option.
fn find_jumbo(mut options: &[u8]) -> Option<u32> {
    while let [kind, rest @ ..] = options {
        if *kind == 0 {
            options = rest; // Pad1
            continue;
        }
        let [len, value @ ..] = rest else { return None };
        let value = value.get(..usize::from(*len))?;
        if *kind == OPTION_JUMBO && value.len() == 4 {
            return Some(u32::from_be_bytes([value[0], value[1], value[2], value[3]]));
        }
        options = &rest[1 + value.len()..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(next: u8, payload_len: u16) -> Vec<u8> {
        let mut b = vec![0x60, 0x00, 0x00, 0x01];
        b.extend_from_slice(&payload_len.to_be_bytes());
        b.extend_from_slice(&[next, 64]);
        b.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        b.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        b
    }

    #[test]
    fn fixed_header() {
        let bytes = header(17, 8);
        let (h, rest) = Ipv6Header::parse(&bytes).unwrap();
        assert_eq!(h.version(), 6);
        assert_eq!(h.flow_label(), 1);
        assert_eq!(h.payload_length(), 8);
        assert_eq!(h.next_header, 17);
        assert_eq!(h.src[15], 1);
        assert_eq!(h.dst[15], 2);
        assert!(rest.is_empty());
    }

    #[test]
    fn walks_hop_by_hop_routing_fragment_to_udp() {
        let ext = [
            // hop-by-hop: next routing, len 0 (8 bytes), PadN
            43, 0, 1, 4, 0, 0, 0, 0, //
            // routing: next fragment, len 0, type 0, segments left 0
            44, 0, 0, 0, 0, 0, 0, 0, //
            // fragment: next UDP, offset 0, M=1, id 0xdeadbeef
            17, 0, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef, //
            // UDP header begins
            0x00, 0x35,
        ];
        let chain = walk_extensions(NEXT_HOP_BY_HOP, &ext).unwrap();
        assert_eq!(chain.protocol, 17);
        assert_eq!(chain.ext_len, 24);
        assert_eq!(chain.fragment, Some(Ipv6Fragment { identification: 0xdead_beef, offset: 0, more: true }));
        assert_eq!(chain.jumbo_length, None);
    }

    #[test]
    fn non_first_fragment_stops_the_walk() {
        let ext = [17, 0, 0x05, 0xb0, 0, 0, 0, 7, 0xff, 0xff];
        let chain = walk_extensions(NEXT_FRAGMENT, &ext).unwrap();
        assert_eq!(chain.protocol, 17);
        assert_eq!(chain.ext_len, 8);
        assert_eq!(chain.fragment.unwrap().offset, 0x5b0);
        assert!(!chain.fragment.unwrap().more);
    }

    #[test]
    fn jumbo_option() {
        let ext = [6, 0, OPTION_JUMBO, 4, 0x00, 0x01, 0x38, 0x80];
        let chain = walk_extensions(NEXT_HOP_BY_HOP, &ext).unwrap();
        assert_eq!(chain.protocol, 6);
        assert_eq!(chain.jumbo_length, Some(80_000));
    }

    #[test]
    fn truncated_extension() {
        assert_eq!(walk_extensions(NEXT_ROUTING, &[6, 1, 0, 0]).unwrap_err(), Unreadable::Truncated);
    }
}
