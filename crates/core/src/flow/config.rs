//! How flows are cut and what is kept of them.

/// How many packets of each flow keep their per-packet entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketLimit {
    All,
    First(usize),
}

impl PacketLimit {
    pub fn keeps(self, index: u64) -> bool {
        match self {
            PacketLimit::All => true,
            PacketLimit::First(n) => index < n as u64,
        }
    }
}

/// Flow-ending rules. Times are nanoseconds of capture time; `None` turns a rule off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowConfig {
    /// A packet arriving this long (or longer) after its flow's last packet starts a new flow.
    pub idle_timeout_ns: Option<u64>,
    /// A flow that has lasted this long is ended and its next packet starts a new flow.
    pub active_timeout_ns: Option<u64>,
    /// End TCP flows on FIN from both sides or on RST.
    pub tcp_close: bool,
    /// After a TCP close, packets of the key that are not a new SYN still join the closed
    /// flow for this long (the last ACK, retransmitted FINs, a burst of RSTs), instead of
    /// each starting a one-packet flow.
    pub tcp_close_linger_ns: u64,
    pub packets: PacketLimit,
    /// Open flows the table may hold: past it, the least recently seen flows are ended
    /// early (reason `evicted`), so a flood of new keys (a scan) cannot exhaust memory.
    /// `None`: no cap.
    pub max_flows: Option<usize>,
    /// An open flow holding this many per-packet entries in memory moves them to its
    /// shard's spill file (see `flow::spill`). Not a user option: tests set it tiny to
    /// check that spilling never changes the flows.
    #[doc(hidden)]
    pub spill_after: usize,
}

/// Entries an open flow holds in memory before it spills them: 80 kB. Far above what most
/// flows keep (a few), so only the long-lived ones spill; large enough that a spill is
/// one write of 80 kB.
pub const SPILL_AFTER: usize = 1024;

pub const SECOND: u64 = 1_000_000_000;

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            idle_timeout_ns: Some(120 * SECOND),
            active_timeout_ns: Some(1800 * SECOND),
            tcp_close: true,
            tcp_close_linger_ns: SECOND,
            packets: PacketLimit::All,
            max_flows: None,
            spill_after: SPILL_AFTER,
        }
    }
}

impl FlowConfig {
    /// Every rule off: one flow per key for the whole input (how nDPI's reader counts).
    pub fn unbounded() -> Self {
        FlowConfig { idle_timeout_ns: None, active_timeout_ns: None, tcp_close: false, ..Self::default() }
    }
}
