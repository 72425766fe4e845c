//! Zero-copy header views, one file per protocol.
//!
//! Every view is a `zerocopy` struct laid over the first bytes of a packet (`ref_from_prefix`),
//! so reading a header copies nothing and checks the length once. Multi-byte fields are
//! big-endian on the wire except where a link type says otherwise (BSD loopback, PPI).
//! `decode` stitches the views together: link type + frame bytes → [`decode::PacketMeta`].
//! The wire layer knows nothing of flows.

pub mod ah;
pub mod cmd;
pub mod decode;
pub mod ethernet;
pub mod geneve;
pub mod gre;
pub mod gtp;
pub mod icmp;
pub mod ipv4;
pub mod ipv6;
pub mod linktype;
pub mod mpls;
pub mod null;
pub mod ppi;
pub mod ppp;
pub mod pppoe;
pub mod protocol;
pub mod sll;
pub mod tcp;
pub mod udp;
pub mod vlan;
pub mod vxlan;

use zerocopy::{FromBytes, Immutable, KnownLayout};

/// Why a header could not be read: not an error a caller sees but a per-packet outcome,
/// which the decoder maps to a skip counter ([`SkipReason`](crate::skip::SkipReason)) so
/// that the packet is counted and the run goes on. (The engine's one error type is
/// [`crate::Error`].)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreadable {
    /// Fewer bytes were captured than the header needs.
    Truncated,
    /// The bytes are there but a field is impossible (bad version, length below minimum, …).
    Malformed,
}

pub type Result<T> = core::result::Result<T, Unreadable>;

/// Lays the fixed header `H` over the start of `bytes`; returns it and the bytes after it.
#[inline]
pub(crate) fn split_header<H>(bytes: &[u8]) -> Result<(&H, &[u8])>
where
    H: FromBytes + KnownLayout + Immutable,
{
    H::ref_from_prefix(bytes).map_err(|_| Unreadable::Truncated)
}
