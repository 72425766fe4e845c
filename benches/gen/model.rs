//! The traffic model: which kinds of flows a campus uplink carries, how many packets and
//! bytes they hold, and where each packet of a flow falls in time.
//!
//! A flow's schedule is a [`Plan`]: fixed "head" packets (handshakes, queries), a data phase
//! of evenly spread, jittered packets, and fixed "tail" packets after an idle pause (closes).
//! Packet k of a plan is a pure function of (plan, k), so the generator can start a flow in
//! the middle — flows already open when the capture starts — without replaying its past.

use crate::rng::{Rng, hash2, mix, scale};

pub const US: u64 = 1_000;
pub const MS: u64 = 1_000_000;
pub const SEC: u64 = 1_000_000_000;

/// No flow lasts longer than this. The capture starts this long into the simulation, so the
/// flows open at its first packet are all there, mid-way, as on a real link.
pub const MAX_LIFETIME_NS: u64 = 600 * SEC;

pub use flowmine_core::wire::protocol::{PROTOCOL_ICMP, PROTOCOL_ICMPV6, PROTOCOL_TCP, PROTOCOL_UDP};
pub use flowmine_core::wire::tcp::{ACK, FIN, PSH, RST, SYN};

/// Share of flows over IPv6.
pub const IPV6_SHARE: f64 = 0.20;
/// Share of flows seen with an 802.1Q tag, and the tags (VLAN id, relative weight).
pub const TAGGED_SHARE: f64 = 0.15;
const VLANS: [(u16, u32); 5] = [(10, 40), (20, 25), (30, 15), (110, 12), (200, 8)];

/// Size of TCP/QUIC data phases: Pareto, so most flows carry a few packets and a handful
/// carry hundreds of thousands. Shape 1.1 gives the elephants most of the bytes.
const BULK_XM: f64 = 2.5;
const BULK_ALPHA: f64 = 1.1;
const BULK_CAP: f64 = 1.5e6;
/// The longest data phase; longer transfers are sent faster instead.
const MAX_DATA_SPAN_NS: u64 = 300 * SEC;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// HTTPS-like TCP: handshake, Pareto-sized transfer, idle keep-alive, FIN or RST.
    Web,
    /// SYNs that get no answer or a RST (closed ports, scans, blocked hosts).
    FailedTcp,
    /// Long-lived, mostly idle TCP (push notifications, IMAP IDLE): pauses of minutes.
    KeepAlive,
    /// QUIC on UDP 443: Initial exchange, transfer, optional CONNECTION_CLOSE.
    Quic,
    /// DNS to the campus resolvers: one or two short request/response exchanges.
    Dns,
    Ntp,
    /// Pings, answered or not.
    Icmp,
    /// One to four small datagrams (SNMP, syslog, NetBIOS, SSDP, games).
    MiscUdp,
    /// Long-lived UDP tunnels (WireGuard, OpenVPN, IPsec NAT-T) at low rates.
    Vpn,
    /// Real-time media (video calls): minutes at 60–200 packets/s.
    Media,
}

impl Class {
    pub const ALL: [Class; 10] = [
        Class::Web,
        Class::FailedTcp,
        Class::KeepAlive,
        Class::Quic,
        Class::Dns,
        Class::Ntp,
        Class::Icmp,
        Class::MiscUdp,
        Class::Vpn,
        Class::Media,
    ];

    /// Share of flow arrivals; the shares sum to 1.
    pub fn share(self) -> f64 {
        match self {
            Class::Web => 0.315,
            Class::FailedTcp => 0.07,
            Class::KeepAlive => 0.015,
            Class::Quic => 0.14,
            Class::Dns => 0.36,
            Class::Ntp => 0.03,
            Class::Icmp => 0.02,
            Class::MiscUdp => 0.04956,
            Class::Vpn => 0.0004,
            Class::Media => 0.00004,
        }
    }

    /// An upper bound of the lifetimes this class draws: an arrival older than this before
    /// the capture starts cannot reach it, so its parameters need not be drawn.
    pub fn max_lifetime_ns(self) -> u64 {
        match self {
            Class::Web | Class::KeepAlive | Class::Vpn | Class::Media => MAX_LIFETIME_NS,
            Class::Quic => 430 * SEC,
            Class::FailedTcp => 4 * SEC,
            Class::Dns => 2 * SEC,
            Class::Ntp => SEC,
            Class::Icmp => 62 * SEC,
            Class::MiscUdp => 8 * SEC,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Class::Web => "web",
            Class::FailedTcp => "failed_tcp",
            Class::KeepAlive => "keepalive",
            Class::Quic => "quic",
            Class::Dns => "dns",
            Class::Ntp => "ntp",
            Class::Icmp => "icmp",
            Class::MiscUdp => "misc_udp",
            Class::Vpn => "vpn",
            Class::Media => "media",
        }
    }

    pub fn protocol(self, ipv6: bool) -> u8 {
        match self {
            Class::Web | Class::FailedTcp | Class::KeepAlive => PROTOCOL_TCP,
            Class::Icmp if ipv6 => PROTOCOL_ICMPV6,
            Class::Icmp => PROTOCOL_ICMP,
            _ => PROTOCOL_UDP,
        }
    }

    /// The class of an arrival, from a uniform draw in [0, 1).
    pub fn pick(u: f64) -> Class {
        let mut acc = 0.0;
        for class in Class::ALL {
            acc += class.share();
            if u < acc {
                return class;
            }
        }
        Class::Web
    }

    /// The server port a flow of this class talks to.
    pub fn server_port(self, rng: &mut Rng) -> u16 {
        let u = rng.unit();
        let pick = |table: &[(f64, u16)]| table.iter().find(|(p, _)| u < *p).map_or(table[table.len() - 1].1, |t| t.1);
        match self {
            Class::Web => pick(&[(0.85, 443), (0.95, 80), (0.97, 22), (0.98, 993), (1.0, 8080)]),
            Class::FailedTcp if u >= 0.85 => rng.range(1024, 65535) as u16,
            Class::FailedTcp => pick(&[(0.45, 443), (0.60, 80), (0.70, 22), (0.80, 445), (0.85, 3389)]),
            Class::KeepAlive => pick(&[(0.5, 443), (0.7, 5223), (0.9, 5228), (1.0, 993)]),
            Class::Quic => 443,
            Class::Dns => 53,
            Class::Ntp => 123,
            Class::Icmp => 0,
            Class::MiscUdp => pick(&[(0.25, 161), (0.45, 514), (0.60, 137), (0.75, 5060), (0.90, 27015), (1.0, 3702)]),
            Class::Vpn => pick(&[(0.5, 51820), (0.8, 1194), (1.0, 4500)]),
            Class::Media => pick(&[(0.5, 3478), (0.8, 8801), (1.0, 19302)]),
        }
    }
}

/// The VLAN id of a new flow (0 = untagged).
pub fn draw_vlan(rng: &mut Rng) -> u16 {
    if !rng.chance(TAGGED_SHARE) {
        return 0;
    }
    let total: u32 = VLANS.iter().map(|v| v.1).sum();
    let mut pick = rng.range(0, u64::from(total) - 1) as u32;
    for (id, weight) in VLANS {
        if pick < weight {
            return id;
        }
        pick -= weight;
    }
    VLANS[0].0
}

/// One packet of a schedule: when (from the flow's start), which way, how much payload.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Packet {
    pub offset_ns: u64,
    pub from_client: bool,
    /// Transport payload bytes (ICMP: echo data bytes).
    pub payload: u16,
    pub tcp_flags: u8,
}

/// A flow's whole packet schedule.
#[derive(Clone, Debug)]
pub struct Plan {
    pub class: Class,
    /// Drives every per-packet draw (direction, size, jitter).
    seed: u64,
    rtt_ns: u64,
    /// Offsets from the flow's start.
    head: [Packet; 4],
    head_len: u8,
    /// Offsets from `tail_start_ns`.
    tail: [Packet; 3],
    tail_len: u8,
    data_len: u32,
    data_start_ns: u64,
    /// Data packet j (or request/response pair j, when `paired`) sits in slot
    /// `[data_start + j·gap, data_start + (j+1)·gap)`, so offsets never go backwards.
    gap_ns: u64,
    /// How far into its slot a data packet may fall (≤ gap, or ≤ gap − rtt when paired).
    jitter_ns: u64,
    /// Data packets alternate request (client) and answer (server, one RTT later).
    paired: bool,
    tail_start_ns: u64,
    /// The side that sends the bulk of an unpaired data phase, and the chance (of 65 536)
    /// that a data packet comes from it.
    bulk_from_client: bool,
    bulk_share: u32,
    /// The bulk side's full-sized payload (TCP MSS minus options, QUIC datagram size,
    /// ICMP echo data).
    pub full_payload: u16,
}

const SHARE_ONE: u32 = 1 << 16;

fn share_of(p: f64) -> u32 {
    (p * f64::from(SHARE_ONE)) as u32
}

/// Whether the low 32 bits of `bits` fall under probability `p`.
#[inline]
fn below(bits: u64, p: f64) -> bool {
    (bits as u32 as f64) < p * 4_294_967_296.0
}

/// Uniform in `lo..=hi` from the high bits of `bits`.
#[inline]
fn size(bits: u64, lo: u16, hi: u16) -> u16 {
    lo + scale(bits, u64::from(hi - lo) + 1) as u16
}

fn ns(seconds: f64) -> u64 {
    (seconds * SEC as f64) as u64
}

impl Plan {
    fn new(class: Class, seed: u64, rtt_ns: u64) -> Plan {
        Plan {
            class,
            seed,
            rtt_ns,
            head: [Packet::default(); 4],
            head_len: 0,
            tail: [Packet::default(); 3],
            tail_len: 0,
            data_len: 0,
            data_start_ns: 0,
            gap_ns: 1,
            jitter_ns: 0,
            paired: false,
            tail_start_ns: 0,
            bulk_from_client: false,
            bulk_share: SHARE_ONE / 2,
            full_payload: 0,
        }
    }

    fn head(&mut self, offset_ns: u64, from_client: bool, payload: u16, tcp_flags: u8) {
        self.head[usize::from(self.head_len)] = Packet { offset_ns, from_client, payload, tcp_flags };
        self.head_len += 1;
    }

    fn tail(&mut self, offset_ns: u64, from_client: bool, payload: u16, tcp_flags: u8) {
        self.tail[usize::from(self.tail_len)] = Packet { offset_ns, from_client, payload, tcp_flags };
        self.tail_len += 1;
    }

    /// A data phase of `len` packets spread over `span_ns` from `start_ns`.
    fn spread(&mut self, start_ns: u64, len: u32, span_ns: u64) {
        self.data_start_ns = start_ns;
        self.data_len = len;
        self.gap_ns = (span_ns / u64::from(len.max(1))).max(1);
        self.jitter_ns = self.gap_ns;
    }

    /// `pairs` request/response exchanges, one per `gap_ns` slot.
    fn exchanges(&mut self, start_ns: u64, pairs: u32, gap_ns: u64, jitter_ns: u64) {
        debug_assert!(jitter_ns + self.rtt_ns <= gap_ns, "an answer must land in its own slot");
        self.data_start_ns = start_ns;
        self.data_len = 2 * pairs;
        self.gap_ns = gap_ns;
        self.jitter_ns = jitter_ns;
        self.paired = true;
    }

    /// End of the data phase's last slot.
    fn data_end_ns(&self) -> u64 {
        let slots = if self.paired { self.data_len.div_ceil(2) } else { self.data_len };
        self.data_start_ns + u64::from(slots) * self.gap_ns
    }

    /// Puts the tail `idle_ns` after the data phase (or the head, without data).
    fn close_after(&mut self, idle_ns: u64) {
        let head_end = self.head[..usize::from(self.head_len)].iter().map(|p| p.offset_ns).max().unwrap_or(0);
        self.tail_start_ns = self.data_end_ns().max(head_end) + idle_ns;
    }

    /// A TCP ending: FIN both ways (70 % of `fin`), a RST, or nothing (the flow just stops).
    fn tcp_ending(&mut self, rng: &mut Rng, fin: f64, rst: f64) {
        let u = rng.unit();
        let rtt = self.rtt_ns;
        if u < fin {
            let closer_is_client = rng.chance(0.5);
            self.tail(0, closer_is_client, 0, FIN | ACK);
            self.tail(rtt, !closer_is_client, 0, FIN | ACK);
            self.tail(rtt + 30 * US, closer_is_client, 0, ACK);
        } else if u < fin + rst {
            self.tail(0, rng.chance(0.6), 0, RST | ACK);
        }
    }

    fn tcp_handshake(&mut self) {
        let rtt = self.rtt_ns;
        self.head(0, true, 0, SYN);
        self.head(rtt, false, 0, SYN | ACK);
        self.head(rtt + 30 * US, true, 0, ACK);
    }

    /// Draws the plan of a new flow of `class`.
    pub fn draw(class: Class, ipv6: bool, rng: &mut Rng) -> Plan {
        let seed = rng.next_u64();
        let rtt_ns = match class {
            // The campus resolvers answer from cache in well under a millisecond, or recurse.
            Class::Dns if rng.chance(0.7) => ns(rng.log_uniform(0.15e-3, 2e-3)),
            Class::Dns => ns(rng.log_uniform(5e-3, 0.2)),
            _ => ns(rng.log_uniform(0.3e-3, 0.15)),
        };
        let mut plan = Plan::new(class, seed, rtt_ns);
        let rtt = rtt_ns;
        match class {
            Class::Web => {
                plan.full_payload = if ipv6 { 1428 } else { 1448 };
                plan.tcp_handshake();
                // Some connections are opened ahead of use and never carry data.
                let len = if rng.chance(0.1) { 0 } else { rng.pareto(BULK_XM, BULK_ALPHA, BULK_CAP) as u32 };
                plan.bulk_transfer(rtt + 60 * US, len, rng);
                plan.bulk_from_client = rng.chance(0.08);
                plan.bulk_share = share_of(rng.log_uniform(0.55, 0.75));
                // Browsers keep idle connections open for seconds to minutes; past the
                // 120 s idle timeout the close becomes a flow of its own.
                let u = rng.unit();
                let idle = if u < 0.6 {
                    ns(rng.unit() * 2.0)
                } else if u < 0.85 {
                    ns(2.0 + rng.unit() * 58.0)
                } else {
                    ns(60.0 + rng.unit() * 230.0)
                };
                plan.close_after(idle);
                plan.tcp_ending(rng, 0.65, 0.20);
            }
            Class::FailedTcp => {
                let u = rng.unit();
                plan.head(0, true, 0, SYN);
                if (0.45..0.65).contains(&u) {
                    // Unanswered: the client retransmits after 1 s and 3 s.
                    plan.head(SEC, true, 0, SYN);
                    plan.head(3 * SEC, true, 0, SYN);
                } else if u >= 0.65 {
                    plan.head(rtt, false, 0, RST | ACK);
                }
            }
            Class::KeepAlive => {
                plan.tcp_handshake();
                let pairs = rng.range(1, 8) as u32;
                let idle = ns(1.0 + rng.unit() * 29.0);
                let most = (MAX_LIFETIME_NS - 40 * SEC) / u64::from(pairs);
                let gap = ns(20.0 + rng.unit() * 220.0).min(most);
                plan.exchanges(rtt + 60 * US, pairs, gap, gap / 2);
                plan.close_after(idle);
                plan.tcp_ending(rng, 0.30, 0.10);
            }
            Class::Quic => {
                plan.full_payload = if ipv6 { 1330 } else { 1350 };
                // Client Initial padded to 1200+, server Initial + Handshake, client Finished.
                plan.head(0, true, 1250, 0);
                plan.head(rtt, false, 1250, 0);
                plan.head(rtt + 20 * US, false, rng.range(300, 1250) as u16, 0);
                plan.head(2 * rtt + 30 * US, true, rng.range(40, 200) as u16, 0);
                let len = rng.pareto(BULK_XM, BULK_ALPHA, BULK_CAP) as u32;
                plan.bulk_transfer(2 * rtt + 60 * US, len, rng);
                plan.bulk_from_client = rng.chance(0.05);
                plan.bulk_share = share_of(rng.log_uniform(0.6, 0.8));
                let u = rng.unit();
                let idle = if u < 0.7 {
                    ns(rng.unit() * 2.0)
                } else if u < 0.95 {
                    ns(2.0 + rng.unit() * 28.0)
                } else {
                    ns(30.0 + rng.unit() * 90.0)
                };
                plan.close_after(idle);
                if rng.chance(0.5) {
                    plan.tail(0, true, rng.range(30, 60) as u16, 0);
                }
            }
            Class::Dns => {
                let query = rng.range(28, 70) as u16;
                // Mostly small answers; a few large ones (DNSSEC, TXT, many records).
                let answers: [u16; 2] = std::array::from_fn(|_| {
                    if rng.chance(0.03) { rng.range(500, 1400) as u16 } else { query + rng.range(16, 250) as u16 }
                });
                let u = rng.unit();
                if u < 0.80 {
                    plan.head(0, true, query, 0);
                    plan.head(rtt, false, answers[0], 0);
                } else if u < 0.92 {
                    // A and AAAA sent together from one socket (glibc), answered in turn.
                    plan.head(0, true, query, 0);
                    plan.head(20 * US, true, query, 0);
                    plan.head(rtt, false, answers[0], 0);
                    plan.head(rtt + 50 * US, false, answers[1], 0);
                } else if u < 0.97 {
                    plan.head(0, true, query, 0);
                } else {
                    // Retried after a 1 s timeout, then answered.
                    plan.head(0, true, query, 0);
                    plan.head(SEC, true, query, 0);
                    plan.head(SEC + rtt, false, answers[0], 0);
                }
            }
            Class::Ntp => {
                plan.head(0, true, 48, 0);
                if rng.chance(0.95) {
                    plan.head(rtt, false, 48, 0);
                }
            }
            Class::Icmp => {
                // Linux and macOS ping with 56 data bytes, Windows with 32.
                plan.full_payload = if rng.chance(0.6) { 56 } else { 32 };
                let u = rng.unit();
                let pings = if u < 0.4 {
                    4
                } else if u < 0.6 {
                    1
                } else if u < 0.75 {
                    3
                } else if u < 0.9 {
                    5
                } else {
                    rng.range(6, 60) as u32
                };
                if rng.chance(0.88) {
                    plan.exchanges(0, pings, SEC, 2 * MS);
                } else {
                    plan.spread(0, pings, u64::from(pings) * SEC);
                    plan.jitter_ns = 2 * MS;
                    plan.bulk_from_client = true;
                    plan.bulk_share = SHARE_ONE;
                }
            }
            Class::MiscUdp => {
                plan.head(0, true, rng.range(40, 400) as u16, 0);
                let more = rng.range(0, 3) as u32;
                let gap = ns(rng.log_uniform(1e-3, 2.0));
                plan.spread(rtt, more, u64::from(more) * gap);
            }
            Class::Vpn | Class::Media => {
                let (rate, lifetime) = if class == Class::Vpn {
                    // WireGuard handshake initiation and response.
                    plan.head(0, true, 148, 0);
                    plan.head(rtt, false, 92, 0);
                    (rng.log_uniform(0.2, 20.0), rng.log_uniform(30.0, 540.0))
                } else {
                    // STUN binding request and response.
                    plan.head(0, true, 100, 0);
                    plan.head(rtt, false, 120, 0);
                    (rng.log_uniform(60.0, 200.0), rng.log_uniform(20.0, 540.0))
                };
                let len = ((rate * lifetime) as u32).max(1);
                plan.spread(rtt + 100 * US, len, ns(lifetime));
            }
        }
        debug_assert!(plan.lifetime_ns() <= class.max_lifetime_ns(), "{class:?} outlives its bound");
        plan
    }

    /// A stream that outlasts any capture (a site-to-site tunnel, a camera feed, a
    /// monitoring session): a short handshake, then `rate_pps` packets per second, both
    /// ways, for `lifetime_ns`. Never idle long enough to time out, so a flow table holds it
    /// (and every packet it keeps of it) from the capture's start to its end.
    pub fn stream(rate_pps: f64, lifetime_ns: u64, rng: &mut Rng) -> Plan {
        let seed = rng.next_u64();
        let rtt_ns = ns(rng.log_uniform(0.3e-3, 0.05));
        let mut plan = Plan::new(Class::Vpn, seed, rtt_ns);
        plan.head(0, true, 148, 0);
        plan.head(rtt_ns, false, 92, 0);
        let len = (rate_pps * lifetime_ns as f64 / SEC as f64).min(f64::from(u32::MAX - 8)) as u32;
        plan.spread(rtt_ns + 100 * US, len.max(1), lifetime_ns);
        plan.bulk_share = share_of(0.6);
        plan
    }

    /// A TCP/QUIC data phase of `len` packets at a per-flow rate, at most 300 s long.
    fn bulk_transfer(&mut self, start_ns: u64, len: u32, rng: &mut Rng) {
        let rate_pps = rng.log_uniform(5.0, 25_000.0);
        let span_ns = ns(f64::from(len) / rate_pps).min(MAX_DATA_SPAN_NS);
        self.spread(start_ns, len, span_ns);
    }

    pub fn total(&self) -> u32 {
        u32::from(self.head_len) + self.data_len + u32::from(self.tail_len)
    }

    /// Offset of the last packet.
    pub fn lifetime_ns(&self) -> u64 {
        self.packet(self.total() - 1).offset_ns
    }

    /// Packet `k` (< [`total`](Self::total)); offsets never decrease with k.
    #[inline]
    pub fn packet(&self, k: u32) -> Packet {
        let head_len = u32::from(self.head_len);
        if k < head_len {
            return self.head[k as usize];
        }
        let j = k - head_len;
        if j < self.data_len {
            return self.data_packet(j);
        }
        let mut p = self.tail[(j - self.data_len) as usize];
        p.offset_ns += self.tail_start_ns;
        p
    }

    /// The first packet at or after `offset_ns` (`total()` if none).
    pub fn first_at_or_after(&self, offset_ns: u64) -> u32 {
        let (mut lo, mut hi) = (0, self.total());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.packet(mid).offset_ns < offset_ns {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    #[inline]
    fn data_packet(&self, j: u32) -> Packet {
        let when = hash2(self.seed, u64::from(j));
        let which = mix(when);
        let how = mix(which);
        let (offset_ns, from_client) = if self.paired {
            let pair = u64::from(j / 2);
            let answer = j % 2 == 1;
            // Both packets of an exchange share their slot's jitter.
            let base = self.data_start_ns + pair * self.gap_ns + scale(hash2(!self.seed, pair), self.jitter_ns);
            (base + if answer { self.rtt_ns } else { 0 }, !answer)
        } else {
            let from_bulk = ((which >> 48) as u32) < self.bulk_share;
            let offset = self.data_start_ns + u64::from(j) * self.gap_ns + scale(when, self.jitter_ns);
            (offset, from_bulk == self.bulk_from_client)
        };
        let bulk_side = from_client == self.bulk_from_client;
        let full = self.full_payload;
        let (payload, tcp_flags) = match self.class {
            Class::Web => {
                let payload = match (bulk_side, below(how, 0.85), below(how, 0.8)) {
                    (true, true, _) => full,
                    (true, false, _) => size(how, 1, full),
                    (false, _, true) => 0,
                    (false, _, false) => size(how, 40, 700),
                };
                // PSH marks the end of an application write: any segment short of the MSS.
                (payload, if payload > 0 && payload < full { ACK | PSH } else { ACK })
            }
            Class::KeepAlive => {
                let payload = if below(how, 0.4) { 0 } else { size(how, 31, 80) };
                (payload, if payload > 0 { ACK | PSH } else { ACK })
            }
            Class::Quic => match (bulk_side, below(how, 0.85)) {
                (true, true) => (full, 0),
                (true, false) => (size(how, 40, full), 0),
                (false, true) => (size(how, 25, 60), 0),
                (false, false) => (size(how, 60, 600), 0),
            },
            Class::Vpn if below(how, 0.6) => (size(how, 60, 200), 0),
            Class::Vpn => (size(how, 200, 1400), 0),
            Class::Media if below(how, 0.7) => (size(how, 900, 1200), 0),
            Class::Media => (size(how, 80, 200), 0),
            Class::MiscUdp => (size(how, 40, 400), 0),
            Class::Icmp => (full, 0),
            Class::FailedTcp | Class::Dns | Class::Ntp => (0, 0),
        };
        Packet { offset_ns, from_client, payload, tcp_flags }
    }
}
