//! Named reasons for a packet not to be in any flow, and their counters.
//!
//! Conservation law of every run: `packets_total = packets_in_flows + Σ skipped[reason]`.

/// Why a packet was not put in a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SkipReason {
    /// The frame carries something other than IPv4/IPv6 (ARP, LLDP, PPPoE discovery, STP …).
    NonIp,
    /// The capture's link type is not one the decoder reads (e.g. NFLOG, 802.11).
    UnsupportedLinkType,
    /// The captured bytes end inside a header the flow key needs.
    TruncatedHeader,
    /// A header field is impossible (IP version, header length, …).
    MalformedHeader,
    /// The capture record itself is damaged (length beyond the file end, bad block framing).
    CorruptRecord,
    /// A pcapng packet names an interface its section never described.
    UnknownInterface,
    /// The timestamp is beyond what 64-bit nanoseconds since 1970 can hold (years
    /// after 2262): a broken writer, not a real time.
    BadTimestamp,
}

impl SkipReason {
    pub const ALL: [SkipReason; 7] = [
        SkipReason::NonIp,
        SkipReason::UnsupportedLinkType,
        SkipReason::TruncatedHeader,
        SkipReason::MalformedHeader,
        SkipReason::CorruptRecord,
        SkipReason::UnknownInterface,
        SkipReason::BadTimestamp,
    ];

    /// The counter's name in manifests and summaries.
    pub fn name(self) -> &'static str {
        match self {
            SkipReason::NonIp => "non_ip",
            SkipReason::UnsupportedLinkType => "unsupported_link_type",
            SkipReason::TruncatedHeader => "truncated_header",
            SkipReason::MalformedHeader => "malformed_header",
            SkipReason::CorruptRecord => "corrupt_record",
            SkipReason::UnknownInterface => "unknown_interface",
            SkipReason::BadTimestamp => "bad_timestamp",
        }
    }
}

/// One counter per [`SkipReason`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SkipCounts([u64; SkipReason::ALL.len()]);

impl SkipCounts {
    #[inline]
    pub fn add(&mut self, reason: SkipReason) {
        self.0[reason as usize] += 1;
    }

    pub fn add_n(&mut self, reason: SkipReason, n: u64) {
        self.0[reason as usize] += n;
    }

    pub fn get(&self, reason: SkipReason) -> u64 {
        self.0[reason as usize]
    }

    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    pub fn merge(&mut self, other: &SkipCounts) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a += b;
        }
    }

    /// Non-zero counters, in the fixed order of [`SkipReason::ALL`].
    pub fn iter(&self) -> impl Iterator<Item = (SkipReason, u64)> + '_ {
        SkipReason::ALL.iter().map(|&r| (r, self.get(r))).filter(|&(_, n)| n > 0)
    }
}
