//! The packet decoder over arbitrary frames of every supported link type.
//!
//! Input: byte 0 picks the link type (a supported one for most values, an arbitrary
//! number otherwise), byte 1 how the wire length relates to the captured one, the rest is
//! the frame. Checks: no panic, unsupported link types are refused as such, and a decoded
//! packet's facts are self-consistent.

#![no_main]

use flowmine_core::SkipReason;
use flowmine_core::wire::decode::{Fragment, decode, tunnel};
use flowmine_core::wire::protocol::{PROTOCOL_SCTP, PROTOCOL_TCP, PROTOCOL_UDP};
use flowmine_core::wire::linktype;
use libfuzzer_sys::fuzz_target;

const ALL_TUNNEL_BITS: u8 = tunnel::IP_IN_IP | tunnel::GRE | tunnel::VXLAN | tunnel::GENEVE | tunnel::GTP_U;

fuzz_target!(|input: &[u8]| {
    let [selector, wire, frame @ ..] = input else { return };
    let supported = linktype::SUPPORTED;
    let link_type = match usize::from(*selector) {
        i if i < 16 * supported.len() => supported[i % supported.len()],
        // The rest: numbers around the supported ones, most of them unsupported.
        i => (i as u16).wrapping_mul(37),
    };
    // Wire length: as captured (0), longer (a truncated capture), shorter (a broken
    // writer), or 0 itself (what some TSO captures carry).
    let frame_len = u32::try_from(frame.len()).unwrap_or(u32::MAX);
    let orig_len = match *wire {
        0 => frame_len,
        255 => 0,
        w if w < 128 => frame_len.saturating_add(u32::from(w) * 1024),
        w => frame_len.saturating_sub(u32::from(w - 128)),
    };

    let result = decode(link_type, frame, orig_len);
    assert_eq!(result, decode(link_type, frame, orig_len), "decoding is deterministic");
    if !supported.contains(&link_type) {
        assert_eq!(result, Err(SkipReason::UnsupportedLinkType));
        return;
    }
    let Ok(meta) = result else { return };

    assert!(meta.ip_version == 4 || meta.ip_version == 6, "IP version {}", meta.ip_version);
    if meta.ip_version == 4 {
        assert_eq!(meta.src[4..], [0; 12], "IPv4 source beyond 4 bytes");
        assert_eq!(meta.dst[4..], [0; 12], "IPv4 destination beyond 4 bytes");
        assert!(meta.ip_len >= 20, "IPv4 length {} below the fixed header", meta.ip_len);
    } else {
        assert!(meta.ip_len >= 40, "IPv6 length {} below the fixed header", meta.ip_len);
    }
    let has_ports = matches!(meta.protocol, PROTOCOL_TCP | PROTOCOL_UDP | PROTOCOL_SCTP);
    if !has_ports || matches!(meta.fragment, Fragment::Later(_)) {
        assert_eq!((meta.src_port, meta.dst_port), (0, 0), "ports without a transport header");
    }
    if meta.protocol != PROTOCOL_TCP || matches!(meta.fragment, Fragment::Later(_)) {
        assert_eq!((meta.tcp_flags, meta.tcp_window), (0, 0), "TCP fields without a TCP header");
    }
    assert!(meta.vlan <= 0x0fff, "VLAN id {} has more than 12 bits", meta.vlan);
    assert_eq!(meta.tunnel & !ALL_TUNNEL_BITS, 0, "unknown tunnel bits {:#x}", meta.tunnel);
    // An inner packet carried in an outer first fragment takes the outer datagram's
    // length (see `with_outer_fragment`); everywhere else the payload lies in the packet.
    let outer_fragment = meta.tunnel != 0 && matches!(meta.fragment, Fragment::First(_));
    if !outer_fragment {
        assert!(
            meta.l4_payload_len <= meta.ip_len,
            "payload {} longer than the IP packet {}",
            meta.l4_payload_len,
            meta.ip_len
        );
    }
});
