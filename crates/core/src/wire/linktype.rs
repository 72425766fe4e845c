//! Link-layer type numbers (tcpdump.org/linktypes.html) that the decoder understands.

/// BSD loopback: 4-byte address family in the *capturing host's* byte order.
pub const NULL: u16 = 0;
/// IEEE 802.3 Ethernet.
pub const ETHERNET: u16 = 1;
/// PPP, starting with the protocol field (optionally behind `ff 03`).
pub const PPP: u16 = 9;
/// PPP in HDLC-like framing (RFC 1662): `ff 03`, then the protocol field.
pub const PPP_HDLC: u16 = 50;
/// Raw IPv4 or IPv6, told apart by the version nibble.
pub const RAW: u16 = 101;
/// OpenBSD loopback: like NULL but the family is always big-endian.
pub const LOOP: u16 = 108;
/// Linux cooked capture v1.
pub const LINUX_SLL: u16 = 113;
/// Per-Packet Information header followed by another link type.
pub const PPI: u16 = 192;
/// Raw IPv4 only.
pub const IPV4: u16 = 228;
/// Raw IPv6 only.
pub const IPV6: u16 = 229;
/// Linux cooked capture v2.
pub const LINUX_SLL2: u16 = 276;

/// The link types `decode` accepts.
pub const SUPPORTED: &[u16] = &[NULL, ETHERNET, PPP, PPP_HDLC, RAW, LOOP, LINUX_SLL, PPI, IPV4, IPV6, LINUX_SLL2];
