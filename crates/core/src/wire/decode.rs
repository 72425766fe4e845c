//! Link type + frame bytes → [`PacketMeta`]: everything the flow layer needs from a packet.
//!
//! Lengths come from header fields, never from the number of captured bytes, so a
//! header-only (sliced) capture gives the same sizes as a full one. Tunnels (IP-in-IP, GRE,
//! VXLAN, Geneve, GTP-U) are opened so the key is the innermost 5-tuple; when an inner
//! packet cannot be read the packet is keyed by its outer header instead of being lost.

use super::cmd;
use super::ethernet::{self, EthernetHeader};
use super::geneve::{self, GeneveHeader};
use super::gre::GreHeader;
use super::gtp::{self, GtpHeader};
use super::ipv4::Ipv4Header;
use super::ipv6::{self, Ipv6Header};
use super::mpls::MplsEntry;
use super::null::{self, LoopbackFamily};
use super::ppi::PpiHeader;
use super::ppp;
use super::pppoe::PppoeHeader;
use super::protocol::{
    PROTOCOL_AH, PROTOCOL_GRE, PROTOCOL_ICMP, PROTOCOL_ICMPV6, PROTOCOL_IPIP, PROTOCOL_IPV6_IN_IP, PROTOCOL_SCTP,
    PROTOCOL_TCP, PROTOCOL_UDP,
};
use super::sll::{Sll2Header, SllHeader};
use super::tcp::TcpHeader;
use super::udp::UdpHeader;
use super::vlan::VlanTag;
use super::vxlan::{self, VxlanHeader};
use super::{Unreadable, linktype};
use crate::skip::SkipReason;

/// SCTP's common header: ports, verification tag, checksum (RFC 9260).
const SCTP_COMMON_HEADER_LEN: usize = 12;

/// How deep tunnels may nest before the decoder stops opening them.
const MAX_TUNNEL_DEPTH: u8 = 4;
/// How many VLAN tags / MPLS labels a frame may stack before it counts as malformed.
const MAX_LINK_HEADERS: usize = 16;

/// Encapsulations opened on the way to the inner packet, as bits of [`PacketMeta::tunnel`].
pub mod tunnel {
    pub const IP_IN_IP: u8 = 1;
    pub const GRE: u8 = 2;
    pub const VXLAN: u8 = 4;
    pub const GENEVE: u8 = 8;
    pub const GTP_U: u8 = 16;
    pub const NAMES: [(u8, &str); 5] =
        [(IP_IN_IP, "ipip"), (GRE, "gre"), (VXLAN, "vxlan"), (GENEVE, "geneve"), (GTP_U, "gtpu")];
}

/// The identity of an IP datagram that was fragmented: its fragments share it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FragmentId {
    pub ip_version: u8,
    pub protocol: u8,
    pub src: [u8; 16],
    pub dst: [u8; 16],
    pub id: u32,
    pub vlan: u16,
}

/// Where a packet stands in fragmentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fragment {
    None,
    /// Offset 0: carries the transport header, so it knows the ports.
    First(FragmentId),
    /// Offset > 0: keyed by whatever the first fragment of `FragmentId` was keyed by.
    Later(FragmentId),
}

/// The decoded facts of one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketMeta {
    /// 4 or 6.
    pub ip_version: u8,
    pub protocol: u8,
    /// IPv4 addresses use the first 4 bytes; the rest are zero.
    pub src: [u8; 16],
    pub dst: [u8; 16],
    /// Zero for protocols without ports (everything but TCP, UDP and SCTP).
    pub src_port: u16,
    pub dst_port: u16,
    /// Innermost 802.1Q/802.1ad VLAN id of the outer link layer; 0 when untagged.
    pub vlan: u16,
    /// IP total length of the packet the key is taken from (of the fragment, for fragments).
    pub ip_len: u32,
    /// Transport payload length: IP payload minus the transport header.
    pub l4_payload_len: u32,
    pub tcp_flags: u8,
    /// Raw, unscaled TCP window; 0 for other protocols.
    pub tcp_window: u16,
    pub fragment: Fragment,
    /// Bits of [`tunnel`] for each encapsulation opened.
    pub tunnel: u8,
}

type Skip = SkipReason;

fn wire_skip(e: Unreadable) -> Skip {
    match e {
        Unreadable::Truncated => SkipReason::TruncatedHeader,
        Unreadable::Malformed => SkipReason::MalformedHeader,
    }
}

impl From<Unreadable> for SkipReason {
    fn from(e: Unreadable) -> Self {
        wire_skip(e)
    }
}

/// Where a packet's headers sit in its frame, as etherparse's sliced packets keep them:
/// the link layer is `..ip`, the headers the flow key and lengths were read from are
/// `ip..headers_end` (from the outermost IP header to the end of the innermost transport
/// header, tunnels included), the transport payload follows. `headers_end` comes from
/// the length fields and may lie past the captured bytes of a cut frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layers {
    pub ip: usize,
    pub headers_end: usize,
}

/// Decodes one frame. `orig_len` is the frame's length on the wire (it may exceed
/// `frame.len()` for truncated captures) and fills in IP lengths that a TSO/GSO
/// super-packet leaves at zero.
#[inline]
pub fn decode(link_type: u16, frame: &[u8], orig_len: u32) -> Result<PacketMeta, SkipReason> {
    decode_layers(link_type, frame, orig_len).map(|(meta, _)| meta)
}

/// [`decode`], also telling where the headers sit in the frame.
#[inline]
pub fn decode_layers(link_type: u16, frame: &[u8], orig_len: u32) -> Result<(PacketMeta, Layers), SkipReason> {
    let mut vlan = 0;
    let (kind, l3) = link_layer(link_type, frame, &mut vlan, 0)?;
    // Bytes of the frame before the IP header: what orig_len has beyond the IP packet.
    let l2_len = frame.len() - l3.len();
    let ctx = Ctx { frame, vlan, wire_ip_len: orig_len.saturating_sub(l2_len as u32) };
    let (meta, headers_end) = network(kind, l3, &ctx, 0, 0)?;
    Ok((meta, Layers { ip: l2_len, headers_end }))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum L3 {
    V4,
    V6,
}

struct Ctx<'f> {
    /// The whole frame: where offsets are counted from.
    frame: &'f [u8],
    vlan: u16,
    /// The IP packet's length as implied by the frame length, for zero length fields.
    wire_ip_len: u32,
}

fn link_layer<'a>(link_type: u16, frame: &'a [u8], vlan: &mut u16, depth: u8) -> Result<(L3, &'a [u8]), Skip> {
    match link_type {
        linktype::ETHERNET => ethernet_frame(frame, vlan),
        linktype::PPP | linktype::PPP_HDLC => ppp_payload(frame),
        linktype::RAW => raw_ip(frame),
        linktype::IPV4 => Ok((L3::V4, frame)),
        linktype::IPV6 => Ok((L3::V6, frame)),
        linktype::LINUX_SLL => {
            let (h, rest) = SllHeader::parse(frame)?;
            ethertype_payload(h.protocol(), rest, vlan)
        }
        linktype::LINUX_SLL2 => {
            let (h, rest) = Sll2Header::parse(frame)?;
            ethertype_payload(h.protocol(), rest, vlan)
        }
        linktype::NULL | linktype::LOOP => match null::parse(frame, link_type == linktype::LOOP)? {
            (LoopbackFamily::Ipv4, rest) => Ok((L3::V4, rest)),
            (LoopbackFamily::Ipv6, rest) => Ok((L3::V6, rest)),
            (LoopbackFamily::Other(_), _) => Err(SkipReason::NonIp),
        },
        linktype::PPI if depth == 0 => {
            let (h, inner) = PpiHeader::parse(frame)?;
            let inner_type = u16::try_from(h.dlt()).map_err(|_| SkipReason::UnsupportedLinkType)?;
            link_layer(inner_type, inner, vlan, depth + 1)
        }
        _ => Err(SkipReason::UnsupportedLinkType),
    }
}

/// Raw IP: the version nibble says which.
fn raw_ip(bytes: &[u8]) -> Result<(L3, &[u8]), Skip> {
    match bytes.first().map(|b| b >> 4) {
        Some(4) => Ok((L3::V4, bytes)),
        Some(6) => Ok((L3::V6, bytes)),
        Some(_) => Err(SkipReason::MalformedHeader),
        None => Err(SkipReason::TruncatedHeader),
    }
}

fn ethernet_frame<'a>(frame: &'a [u8], vlan: &mut u16) -> Result<(L3, &'a [u8]), Skip> {
    let (eth, rest) = EthernetHeader::parse(frame)?;
    ethertype_payload(eth.ethertype(), rest, vlan)
}

/// Follows VLAN tags, MPLS labels and PPPoE down to an IP header.
fn ethertype_payload<'a>(mut ethertype: u16, mut rest: &'a [u8], vlan: &mut u16) -> Result<(L3, &'a [u8]), Skip> {
    for _ in 0..MAX_LINK_HEADERS {
        match ethertype {
            ethernet::ETHERTYPE_IPV4 => return Ok((L3::V4, rest)),
            ethernet::ETHERTYPE_IPV6 => return Ok((L3::V6, rest)),
            ethernet::ETHERTYPE_VLAN | ethernet::ETHERTYPE_QINQ | ethernet::ETHERTYPE_QINQ_OLD => {
                let (tag, after) = VlanTag::parse(rest)?;
                *vlan = tag.vlan_id();
                ethertype = tag.ethertype();
                rest = after;
            }
            ethernet::ETHERTYPE_MPLS_UNICAST | ethernet::ETHERTYPE_MPLS_MULTICAST => {
                return mpls_stack(rest);
            }
            ethernet::ETHERTYPE_PPPOE_SESSION => {
                let (_, after) = PppoeHeader::parse(rest)?;
                return ppp_payload(after);
            }
            ethernet::ETHERTYPE_CISCO_METADATA => (ethertype, rest) = cmd::after_ethernet(rest)?,
            _ => return Err(SkipReason::NonIp),
        }
    }
    Err(SkipReason::MalformedHeader)
}

/// MPLS carries no payload type: after the bottom of the stack the first nibble tells
/// IPv4 from IPv6; anything else (pseudowires, control words) is not IP.
fn mpls_stack(mut rest: &[u8]) -> Result<(L3, &[u8]), Skip> {
    for _ in 0..MAX_LINK_HEADERS {
        let (entry, after) = MplsEntry::parse(rest)?;
        rest = after;
        if entry.bottom_of_stack() {
            return match rest.first().map(|b| b >> 4) {
                Some(4) => Ok((L3::V4, rest)),
                Some(6) => Ok((L3::V6, rest)),
                Some(_) => Err(SkipReason::NonIp),
                None => Err(SkipReason::TruncatedHeader),
            };
        }
    }
    Err(SkipReason::MalformedHeader)
}

fn ppp_payload(bytes: &[u8]) -> Result<(L3, &[u8]), Skip> {
    match ppp::parse_protocol(bytes)? {
        (ppp::PPP_IPV4, rest) => Ok((L3::V4, rest)),
        (ppp::PPP_IPV6, rest) => Ok((L3::V6, rest)),
        (ppp::PPP_MPLS_UNICAST | ppp::PPP_MPLS_MULTICAST, rest) => mpls_stack(rest),
        _ => Err(SkipReason::NonIp),
    }
}

impl Ctx<'_> {
    /// Offset in the frame of `part`, a slice of it.
    fn offset(&self, part: &[u8]) -> usize {
        part.as_ptr() as usize - self.frame.as_ptr() as usize
    }
}

/// The network layer and everything under it; with the offset where the headers the
/// packet is keyed by end (see [`Layers`]).
fn network(kind: L3, bytes: &[u8], ctx: &Ctx, depth: u8, tunnel: u8) -> Result<(PacketMeta, usize), Skip> {
    let mut meta = PacketMeta {
        ip_version: 4,
        protocol: 0,
        src: [0; 16],
        dst: [0; 16],
        src_port: 0,
        dst_port: 0,
        vlan: ctx.vlan,
        ip_len: 0,
        l4_payload_len: 0,
        tcp_flags: 0,
        tcp_window: 0,
        fragment: Fragment::None,
        tunnel,
    };
    let (l4, l4_len, first_fragment) = match kind {
        L3::V4 => {
            let (h, payload) = Ipv4Header::parse(bytes)?;
            meta.src[..4].copy_from_slice(&h.src);
            meta.dst[..4].copy_from_slice(&h.dst);
            meta.protocol = h.protocol;
            // A zero total length is a TSO/GSO super-packet: trust the frame length.
            let total = match h.total_length() {
                0 if depth == 0 => ctx.wire_ip_len,
                n => u32::from(n),
            };
            let header_len = h.header_len() as u32;
            if total < header_len {
                return Err(SkipReason::MalformedHeader);
            }
            meta.ip_len = total;
            let mut first = true;
            if h.is_fragment() {
                let id = FragmentId {
                    ip_version: 4,
                    protocol: h.protocol,
                    src: meta.src,
                    dst: meta.dst,
                    id: u32::from(h.identification()),
                    vlan: ctx.vlan,
                };
                first = h.fragment_offset() == 0;
                meta.fragment = if first { Fragment::First(id) } else { Fragment::Later(id) };
            }
            (payload, total - header_len, first)
        }
        L3::V6 => {
            let (h, after_fixed) = Ipv6Header::parse(bytes)?;
            meta.ip_version = 6;
            meta.src = h.src;
            meta.dst = h.dst;
            let chain = ipv6::walk_extensions(h.next_header, after_fixed)?;
            let payload_len = match (h.payload_length(), chain.jumbo_length) {
                (0, Some(jumbo)) => jumbo,
                (0, None) if depth == 0 => ctx.wire_ip_len.saturating_sub(Ipv6Header::LEN as u32),
                (n, _) => u32::from(n),
            };
            let ext_len = chain.ext_len as u32;
            if payload_len < ext_len {
                return Err(SkipReason::MalformedHeader);
            }
            meta.protocol = chain.protocol;
            // A Jumbo Payload length within 40 of u32::MAX leaves no room for the fixed
            // header in a 32-bit length: no such packet exists (found by fuzzing).
            meta.ip_len = payload_len.checked_add(Ipv6Header::LEN as u32).ok_or(SkipReason::MalformedHeader)?;
            let mut first = true;
            if let Some(frag) = chain.fragment {
                let id = FragmentId {
                    ip_version: 6,
                    // RFC 8200 identifies a datagram by (source, destination, identification):
                    // the upper protocol is not part of it, and later fragments cannot see it
                    // when extension headers follow the fragment header.
                    protocol: 0,
                    src: h.src,
                    dst: h.dst,
                    id: frag.identification,
                    vlan: ctx.vlan,
                };
                first = frag.offset == 0;
                meta.fragment = if first { Fragment::First(id) } else { Fragment::Later(id) };
            }
            (&after_fixed[chain.ext_len..], payload_len - ext_len, first)
        }
    };
    // The IP length field, not the capture, says where the datagram ends: bytes captured
    // beyond it are link-layer padding or trailer (Ethernet pads frames to 60 bytes) and
    // must never be read as a transport header or tunnel payload.
    let l4 = l4.get(..l4_len as usize).unwrap_or(l4);
    if !first_fragment {
        // The transport header lives in the first fragment only.
        meta.l4_payload_len = l4_len;
        return Ok((meta, ctx.offset(l4)));
    }
    let ip_only = meta;
    match transport(&mut meta, l4, l4_len, ctx, depth) {
        // A first fragment whose transport header cannot be read (cut by the snap length,
        // or garbage) is keyed by addresses and protocol with ports 0, as a tiny one is:
        // skipped, it would leave its later fragments unmatched, or joined to an earlier
        // datagram of the same identity that the fragment table still remembers.
        Err(_) if matches!(ip_only.fragment, Fragment::First(_)) => {
            Ok((PacketMeta { l4_payload_len: 0, ..ip_only }, ctx.offset(l4)))
        }
        Err(skip) => Err(skip),
        Ok(headers_end) => Ok((meta, headers_end)),
    }
}

/// Fills ports, TCP fields and the payload length; opens tunnels where the payload is one.
/// On return, `meta` may have been replaced by the inner packet's. Returns where the
/// headers end: the payload is the datagram's last `l4_payload_len` bytes.
fn transport(meta: &mut PacketMeta, l4: &[u8], l4_len: u32, ctx: &Ctx, depth: u8) -> Result<usize, Skip> {
    let headers_end = |meta: &PacketMeta| ctx.offset(l4) + (l4_len - meta.l4_payload_len) as usize;
    let header_len = match meta.protocol {
        PROTOCOL_TCP => TcpHeader::MIN_LEN,
        PROTOCOL_UDP => UdpHeader::LEN,
        PROTOCOL_SCTP => SCTP_COMMON_HEADER_LEN,
        _ => 0,
    };
    if (l4_len as usize) < header_len {
        // The datagram itself (by its length field) is too short to hold the fixed header:
        // a tiny first fragment (RFC 1858) or garbage, not a short capture. Whatever ports
        // its first bytes might hold are not a header to trust, so the packet is keyed by
        // addresses and protocol with ports 0 (as nDPI's reader keys it), and its later
        // fragments follow it there. None of its bytes are transport payload.
        meta.l4_payload_len = 0;
        return Ok(headers_end(meta));
    }
    match meta.protocol {
        PROTOCOL_TCP => {
            let (h, _) = TcpHeader::parse(l4)?;
            meta.src_port = h.src_port();
            meta.dst_port = h.dst_port();
            meta.tcp_flags = h.flags;
            meta.tcp_window = h.window();
            meta.l4_payload_len = l4_len.saturating_sub(h.header_len() as u32);
        }
        PROTOCOL_UDP => {
            let (h, payload) = UdpHeader::parse(l4)?;
            meta.src_port = h.src_port();
            meta.dst_port = h.dst_port();
            meta.l4_payload_len = l4_len.saturating_sub(UdpHeader::LEN as u32);
            if meta.fragment == Fragment::None
                && let Some((inner, end)) = udp_tunnel(h, payload, ctx, depth, meta.tunnel)
            {
                *meta = inner;
                return Ok(end);
            }
        }
        PROTOCOL_SCTP => {
            let [a, b, c, d, ..] = *l4 else { return Err(SkipReason::TruncatedHeader) };
            meta.src_port = u16::from_be_bytes([a, b]);
            meta.dst_port = u16::from_be_bytes([c, d]);
            meta.l4_payload_len = l4_len - SCTP_COMMON_HEADER_LEN as u32;
        }
        PROTOCOL_ICMP | PROTOCOL_ICMPV6 => {
            meta.l4_payload_len = l4_len.saturating_sub(super::icmp::IcmpHeader::LEN as u32);
        }
        PROTOCOL_IPIP | PROTOCOL_IPV6_IN_IP | PROTOCOL_GRE => {
            meta.l4_payload_len = l4_len;
            if depth < MAX_TUNNEL_DEPTH
                && let Some((inner, end)) = ip_tunnel(meta, l4, ctx, depth)
            {
                *meta = inner;
                return Ok(end);
            }
        }
        PROTOCOL_AH if meta.ip_version == 4 => {
            // IPv4 AH: step over it and read the protected protocol in its place.
            // (IPv6 AH is an extension header, handled by the IPv6 walk.)
            let (ah, rest) = super::ah::AhHeader::parse(l4)?;
            let ah_len = ah.header_len() as u32;
            meta.protocol = ah.next_header;
            return transport(meta, rest, l4_len.saturating_sub(ah_len), ctx, depth);
        }
        _ => meta.l4_payload_len = l4_len,
    }
    Ok(headers_end(meta))
}

/// IP-in-IP and GRE. Returns the inner packet's meta and where its headers end, or `None`
/// to key by the outer one.
fn ip_tunnel(outer: &PacketMeta, l4: &[u8], ctx: &Ctx, depth: u8) -> Option<(PacketMeta, usize)> {
    let (kind, bit, inner) = match outer.protocol {
        PROTOCOL_IPIP => (Some(L3::V4), tunnel::IP_IN_IP, l4),
        PROTOCOL_IPV6_IN_IP => (Some(L3::V6), tunnel::IP_IN_IP, l4),
        _ => {
            let (gre, payload) = GreHeader::parse(l4).ok()?;
            return gre_payload(gre.protocol(), payload, outer, ctx, depth);
        }
    };
    let (inner_meta, end) = network(kind?, inner, ctx, depth + 1, outer.tunnel | bit).ok()?;
    Some((with_outer_fragment(inner_meta, outer), end))
}

fn gre_payload(protocol: u16, payload: &[u8], outer: &PacketMeta, ctx: &Ctx, depth: u8) -> Option<(PacketMeta, usize)> {
    let mut ignored_vlan = 0;
    let (protocol, payload) = match protocol {
        ethernet::ETHERTYPE_CISCO_METADATA => cmd::after_gre(payload).ok()?,
        _ => (protocol, payload),
    };
    let (kind, inner) = match protocol {
        ethernet::ETHERTYPE_IPV4 => (L3::V4, payload),
        ethernet::ETHERTYPE_IPV6 => (L3::V6, payload),
        ethernet::ETHERTYPE_PPP => ppp_payload(payload).ok()?,
        ethernet::ETHERTYPE_TEB => ethernet_frame(payload, &mut ignored_vlan).ok()?,
        _ => return None,
    };
    let (inner_meta, end) = network(kind, inner, ctx, depth + 1, outer.tunnel | tunnel::GRE).ok()?;
    Some((with_outer_fragment(inner_meta, outer), end))
}

fn udp_tunnel(udp: &UdpHeader, payload: &[u8], ctx: &Ctx, depth: u8, tunnel_bits: u8) -> Option<(PacketMeta, usize)> {
    if depth >= MAX_TUNNEL_DEPTH {
        return None;
    }
    let ports = [udp.src_port(), udp.dst_port()];
    // The outer VLAN stays the key's VLAN (as nDPI reports it); inner tags are ignored.
    let mut ignored_vlan = 0;
    let (kind, bit, inner) = if ports.contains(&vxlan::UDP_PORT) {
        let (_, frame) = VxlanHeader::parse(payload).ok()?;
        let (kind, inner) = ethernet_frame(frame, &mut ignored_vlan).ok()?;
        (kind, tunnel::VXLAN, inner)
    } else if ports.contains(&geneve::UDP_PORT) {
        let (h, rest) = GeneveHeader::parse(payload).ok()?;
        let (kind, inner) = match h.protocol() {
            ethernet::ETHERTYPE_TEB => ethernet_frame(rest, &mut ignored_vlan).ok()?,
            ethernet::ETHERTYPE_IPV4 => (L3::V4, rest),
            ethernet::ETHERTYPE_IPV6 => (L3::V6, rest),
            _ => return None,
        };
        (kind, tunnel::GENEVE, inner)
    } else if ports.contains(&gtp::UDP_PORT) {
        let (h, rest) = GtpHeader::parse(payload).ok()?;
        if h.message_type != gtp::MESSAGE_GPDU {
            return None;
        }
        let (kind, inner) = raw_ip(rest).ok()?;
        (kind, tunnel::GTP_U, inner)
    } else {
        return None;
    };
    network(kind, inner, ctx, depth + 1, tunnel_bits | bit).ok()
}

/// An inner packet carried in the first fragment of an outer datagram is still that
/// fragment: later fragments must find the inner key through the outer identity, and
/// the bytes counted are the outer fragment's.
fn with_outer_fragment(mut inner: PacketMeta, outer: &PacketMeta) -> PacketMeta {
    if let Fragment::First(_) = outer.fragment {
        inner.fragment = outer.fragment;
        inner.ip_len = outer.ip_len;
    }
    inner
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv4_udp(src_port: u16, dst_port: u16, payload: &[u8]) -> Vec<u8> {
        let total = (20 + 8 + payload.len()) as u16;
        let mut p = vec![0x45, 0, 0, 0, 0x12, 0x34, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p.extend_from_slice(&src_port.to_be_bytes());
        p.extend_from_slice(&dst_port.to_be_bytes());
        p.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        p.extend_from_slice(&[0, 0]);
        p.extend_from_slice(payload);
        p
    }

    fn ethernet(ethertype: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0; 12];
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn ethernet_ipv4_udp() {
        let frame = ethernet(0x0800, &ipv4_udp(5353, 53, &[1, 2, 3]));
        let m = decode(linktype::ETHERNET, &frame, frame.len() as u32).unwrap();
        assert_eq!((m.ip_version, m.protocol, m.src_port, m.dst_port), (4, 17, 5353, 53));
        assert_eq!(&m.src[..4], &[10, 0, 0, 1]);
        assert_eq!((m.ip_len, m.l4_payload_len, m.vlan, m.tunnel), (31, 3, 0, 0));
    }

    #[test]
    fn header_only_capture_keeps_true_lengths() {
        // 1000-byte payload announced, only headers captured.
        let mut packet = ipv4_udp(1000, 2000, &[]);
        packet[2..4].copy_from_slice(&1028u16.to_be_bytes());
        let m = decode(linktype::RAW, &packet, 1028).unwrap();
        assert_eq!((m.ip_len, m.l4_payload_len), (1028, 1000));
    }

    #[test]
    fn qinq_keeps_innermost_vlan() {
        let mut payload = vec![0x00, 0x64, 0x81, 0x00, 0x00, 0xc8, 0x08, 0x00];
        payload.extend(ipv4_udp(1, 2, &[]));
        let frame = ethernet(0x88a8, &payload);
        assert_eq!(decode(linktype::ETHERNET, &frame, 0).unwrap().vlan, 200);
    }

    #[test]
    fn vxlan_opens_to_inner_flow() {
        let inner = ethernet(0x0800, &ipv4_udp(1111, 2222, &[9; 5]));
        let mut vx = vec![0x08, 0, 0, 0, 0, 0, 1, 0];
        vx.extend(inner);
        let frame = ethernet(0x0800, &ipv4_udp(40000, 4789, &vx));
        let m = decode(linktype::ETHERNET, &frame, frame.len() as u32).unwrap();
        assert_eq!((m.src_port, m.dst_port, m.tunnel), (1111, 2222, tunnel::VXLAN));
        assert_eq!(m.l4_payload_len, 5);
    }

    #[test]
    fn arp_is_not_ip() {
        let frame = ethernet(0x0806, &[0; 28]);
        assert_eq!(decode(linktype::ETHERNET, &frame, 42), Err(SkipReason::NonIp));
    }

    #[test]
    fn unknown_link_type() {
        assert_eq!(decode(239, &[0; 40], 40), Err(SkipReason::UnsupportedLinkType));
    }

    #[test]
    fn icmp_keys_with_zero_ports() {
        let mut p = vec![0x45, 0, 0, 28, 0, 1, 0, 0, 64, 1, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
        p.extend_from_slice(&[8, 0, 0, 0, 0x12, 0x34, 0, 1]);
        let m = decode(linktype::IPV4, &p, 28).unwrap();
        assert_eq!((m.protocol, m.src_port, m.dst_port, m.l4_payload_len), (1, 0, 0, 0));
    }

    #[test]
    fn tiny_first_fragment_is_keyed_without_ports() {
        // Frame 1 of ip_fragmented_garbage.pcap: a first fragment (MF, offset 0) whose IP
        // length (36) leaves 16 bytes for TCP, followed by a 4-byte Ethernet trailer. Read
        // through the trailer, the 20 bytes look like a TCP header with data offset 4.
        let frame = [
            0x42, 0x01, 0x0a, 0xf0, 0x00, 0x01, 0x42, 0x01, 0x0a, 0xf0, 0x00, 0x1b, 0x08, 0x00, // Ethernet
            0x45, 0x00, 0x00, 0x24, 0x00, 0xa0, 0x20, 0x00, 0x40, 0x06, 0x45, 0xb1, // IPv4, len 36, MF
            0x0a, 0x00, 0x00, 0x02, 0x0a, 0x80, 0x00, 0x02, // 10.0.0.2 → 10.128.0.2
            0x5e, 0x26, 0x2a, 0x28, 0x29, 0x28, 0x2a, 0x26, // 16 bytes of "TCP" …
            0x5e, 0x25, 0x24, 0x23, 0x40, 0x23, 0x24, 0x25, // … end of the datagram
            0x29, 0x38, 0x00, 0x00, // trailer, not part of the datagram
        ];
        let m = decode(linktype::ETHERNET, &frame, frame.len() as u32).unwrap();
        assert_eq!((m.protocol, m.src_port, m.dst_port), (PROTOCOL_TCP, 0, 0));
        assert_eq!((m.ip_len, m.l4_payload_len, m.tcp_flags), (36, 0, 0));
        assert!(matches!(m.fragment, Fragment::First(FragmentId { id: 0xa0, protocol: 6, .. })));
    }

    #[test]
    fn unreadable_first_fragment_keys_its_datagram_without_ports() {
        // A first fragment (MF) of 40 bytes of TCP whose data offset is 2 words: no header.
        let mut p = vec![0x45, 0, 0, 60, 0x12, 0x34, 0x20, 0x00, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
        p.extend_from_slice(&[0x13, 0x89, 0x01, 0xbb, 0, 0, 0, 1, 0, 0, 0, 0, 0x20, 0x02]);
        p.resize(60, 0);
        let first = decode(linktype::RAW, &p, 60).unwrap();
        assert_eq!((first.protocol, first.src_port, first.dst_port, first.l4_payload_len), (6, 0, 0, 0));
        // In a flow, so the fragment table records its identity anew (the key of an
        // earlier datagram with that identity is replaced, not left for its fragments).
        assert!(matches!(first.fragment, Fragment::First(FragmentId { id: 0x1234, protocol: 6, .. })));
        // Not a fragment: the same bytes are a malformed header.
        p[6] = 0;
        assert_eq!(decode(linktype::RAW, &p, 60).unwrap_err(), SkipReason::MalformedHeader);
    }

    #[test]
    fn ethernet_padding_is_not_a_transport_header() {
        // An unfragmented IPv4 datagram of 24 bytes: 4 bytes of UDP (the ports only), then
        // the zero padding that brings the frame to Ethernet's 60-byte minimum.
        let mut frame = ethernet(
            0x0800,
            &[
                0x45, 0, 0, 24, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, // IPv4, len 24
                0x13, 0x89, 0x00, 0x35, // 5001 → 53, and no more UDP header
            ],
        );
        frame.resize(60, 0);
        let m = decode(linktype::ETHERNET, &frame, 60).unwrap();
        assert_eq!((m.protocol, m.src_port, m.dst_port, m.ip_len, m.l4_payload_len), (17, 0, 0, 24, 0));
        // The same datagram captured without padding decodes the same way.
        let m2 = decode(linktype::ETHERNET, &frame[..38], 38).unwrap();
        assert_eq!(m, m2);
    }

    #[test]
    fn bytes_after_the_datagram_are_not_a_tunnel() {
        // UDP to the VXLAN port with an empty payload (IP length 28), followed by trailing
        // bytes that happen to read as a VXLAN header and a whole inner frame.
        let mut frame = ethernet(0x0800, &ipv4_udp(40000, 4789, &[]));
        frame.extend_from_slice(&[0x08, 0, 0, 0, 0, 0, 1, 0]);
        frame.extend(ethernet(0x0800, &ipv4_udp(1111, 2222, &[])));
        let m = decode(linktype::ETHERNET, &frame, frame.len() as u32).unwrap();
        assert_eq!((m.src_port, m.dst_port, m.tunnel), (40000, 4789, 0));
        assert_eq!((m.ip_len, m.l4_payload_len), (28, 0));
    }

    #[test]
    fn later_fragment_has_no_ports() {
        let mut p = ipv4_udp(1, 2, &[0; 8]);
        p[6] = 0x00;
        p[7] = 0x03; // offset 24, no MF: the last fragment
        let m = decode(linktype::RAW, &p, p.len() as u32).unwrap();
        assert_eq!((m.src_port, m.dst_port, m.l4_payload_len), (0, 0, 16));
        assert!(matches!(m.fragment, Fragment::Later(FragmentId { id: 0x1234, protocol: 17, .. })));
    }

    #[test]
    fn ipv6_fragments_share_an_identity_past_extension_headers() {
        fn ipv6(payload: &[u8]) -> Vec<u8> {
            let mut p = vec![0x60, 0, 0, 0];
            p.extend_from_slice(&(payload.len() as u16).to_be_bytes());
            p.extend_from_slice(&[44, 64]); // next: fragment header
            p.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
            p.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
            p.extend_from_slice(payload);
            p
        }
        // First: fragment (next dest-options, offset 0, M) → dest-options (next UDP) → UDP.
        let first = ipv6(&[
            60, 0, 0x00, 0x01, 0x11, 0x22, 0x33, 0x44, //
            17, 0, 1, 4, 0, 0, 0, 0, //
            0x30, 0x39, 0x00, 0x35, 0x00, 0x20, 0, 0,
        ]);
        // Later: fragment (next dest-options, offset 16, last), then the middle of the datagram.
        let later = ipv6(&[60, 0, 0x00, 0x10, 0x11, 0x22, 0x33, 0x44, 0xaa, 0xbb]);
        let f = decode(linktype::IPV6, &first, first.len() as u32).unwrap();
        let l = decode(linktype::IPV6, &later, later.len() as u32).unwrap();
        assert_eq!((f.protocol, f.src_port, f.dst_port), (17, 12345, 53));
        let (Fragment::First(a), Fragment::Later(b)) = (f.fragment, l.fragment) else { panic!("{f:?} {l:?}") };
        assert_eq!(a, b);
    }

    #[test]
    fn ppp_link_type_with_mpls() {
        // HDLC framing, PPP protocol MPLS unicast, one label (bottom of stack), then IPv4/UDP.
        let mut frame = vec![0xff, 0x03, 0x02, 0x81, 0x01, 0x86, 0x01, 0x01];
        frame.extend(ipv4_udp(42315, 33435, &[0; 12]));
        let m = decode(linktype::PPP, &frame, frame.len() as u32).unwrap();
        assert_eq!((m.protocol, m.src_port, m.dst_port, m.l4_payload_len), (17, 42315, 33435, 12));
        let lcp = [0xff, 0x03, 0xc0, 0x21, 0x01];
        assert_eq!(decode(linktype::PPP_HDLC, &lcp, 5), Err(SkipReason::NonIp));
    }

    #[test]
    fn layers_of_a_tagged_tcp_frame_with_options() {
        #[rustfmt::skip]
        let frame = [
            // Ethernet: dst, src, 802.1Q tag (VLAN 5), IPv4.
            0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x81, 0x00, 0x00, 0x05, 0x08, 0x00,
            // IPv4, IHL 6 (one option word), total length 24 + 24 + 4 = 52, TCP.
            0x46, 0, 0, 52, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 1, 1, 1, 1,
            // TCP 1234 -> 443, data offset 6 (one option word), ACK.
            0x04, 0xd2, 0x01, 0xbb, 0, 0, 0, 1, 0, 0, 0, 0, 0x60, 0x10, 0x01, 0x00, 0, 0, 0, 0, 1, 1, 1, 1,
            // Payload; then Ethernet padding past the datagram.
            0xde, 0xad, 0xbe, 0xef, 0, 0,
        ];
        let (m, layers) = decode_layers(linktype::ETHERNET, &frame, frame.len() as u32).unwrap();
        assert_eq!(layers, Layers { ip: 18, headers_end: 18 + 24 + 24 });
        assert_eq!((m.vlan, m.src_port, m.dst_port, m.l4_payload_len), (5, 1234, 443, 4));
        assert_eq!(decode(linktype::ETHERNET, &frame, frame.len() as u32), Ok(m));
    }

    #[test]
    fn layers_of_a_tunnel_end_at_the_inner_transport_header() {
        let inner = ethernet(0x0800, &ipv4_udp(1111, 2222, &[9; 5]));
        let mut vx = vec![0x08, 0, 0, 0, 0, 0, 1, 0];
        vx.extend(inner);
        let frame = ethernet(0x0800, &ipv4_udp(40000, 4789, &vx));
        let (_, layers) = decode_layers(linktype::ETHERNET, &frame, frame.len() as u32).unwrap();
        // Outer Ethernet 14, IPv4 20, UDP 8, VXLAN 8, inner Ethernet 14, IPv4 20, UDP 8.
        assert_eq!(layers, Layers { ip: 14, headers_end: 14 + 20 + 8 + 8 + 14 + 20 + 8 });
        assert_eq!(frame.len() - layers.headers_end, 5);
    }

    #[test]
    fn layers_of_a_later_fragment_end_at_its_ip_header() {
        let mut packet = ipv4_udp(1, 2, &[7; 16]);
        packet[6..8].copy_from_slice(&0x0003u16.to_be_bytes()); // offset 24 bytes
        let frame = ethernet(0x0800, &packet);
        let (m, layers) = decode_layers(linktype::ETHERNET, &frame, frame.len() as u32).unwrap();
        assert!(matches!(m.fragment, Fragment::Later(_)));
        assert_eq!(layers, Layers { ip: 14, headers_end: 14 + 20 });
    }

    #[test]
    fn layers_of_a_header_only_capture() {
        // 1000-byte payload announced, only the headers captured: they end where the bytes do.
        let mut packet = ipv4_udp(1000, 2000, &[]);
        packet[2..4].copy_from_slice(&1028u16.to_be_bytes());
        let (_, layers) = decode_layers(linktype::RAW, &packet, 1028).unwrap();
        assert_eq!(layers, Layers { ip: 0, headers_end: 28 });
    }
}
