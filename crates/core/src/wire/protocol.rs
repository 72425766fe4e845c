//! IP protocol numbers (IANA's "Assigned Internet Protocol Numbers", the value of IPv4's
//! protocol field and of IPv6's next header): written here once for the whole project.

pub const PROTOCOL_ICMP: u8 = 1;
pub const PROTOCOL_IPIP: u8 = 4;
pub const PROTOCOL_TCP: u8 = 6;
pub const PROTOCOL_UDP: u8 = 17;
pub const PROTOCOL_IPV6_IN_IP: u8 = 41;
pub const PROTOCOL_GRE: u8 = 47;
pub const PROTOCOL_AH: u8 = 51;
pub const PROTOCOL_ICMPV6: u8 = 58;
pub const PROTOCOL_SCTP: u8 = 132;
