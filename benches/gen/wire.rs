//! Addresses and header bytes: how a planned packet looks on the wire.
//!
//! Only layer 2–4 headers are written (as an n2disk slice keeps them); the IP total length,
//! UDP length and the frame's original length carry the true sizes.

use crate::model::{ACK, FIN, PROTOCOL_ICMP, PROTOCOL_ICMPV6, PROTOCOL_TCP, PROTOCOL_UDP, Packet, RST, SYN};
use crate::rng::{Rng, mix};

/// Campus hosts that open flows.
const CLIENTS: u64 = 40_000;
/// Client ports 1024..=65535.
const FIRST_EPHEMERAL_PORT: u64 = 1024;
const EPHEMERAL_PORTS: u64 = 65_536 - FIRST_EPHEMERAL_PORT;
/// Distinct remote servers; popularity falls as 1/rank.
const SERVERS: u64 = 1 << 20;
/// Distinct ping targets per client.
const ICMP_TARGETS: u64 = 1 << 16;

/// Ethernet + 802.1Q + IPv6 + TCP with SYN options: the longest header written.
pub const MAX_HEADER_LEN: usize = 14 + 4 + 40 + 40;
/// The shortest snaplen that keeps every header flowmine reads (it needs TCP's fixed 20
/// bytes, not its options).
pub const MIN_SNAPLEN: u32 = 14 + 4 + 40 + 20;
/// Ethernet pads short frames to 60 bytes (without FCS); the capture sees the padded size.
const MIN_FRAME_LEN: u32 = 60;

const GATEWAY_MAC: [u8; 6] = [0x00, 0x1c, 0x73, 0x00, 0x00, 0x01];
const CLIENT_OUIS: [[u8; 3]; 8] = [
    [0x3c, 0x22, 0xfb],
    [0xf4, 0x5c, 0x89],
    [0xdc, 0xa6, 0x32],
    [0x8c, 0x85, 0x90],
    [0xa4, 0x83, 0xe7],
    [0x48, 0x2c, 0xa0],
    [0x00, 0x1b, 0x21],
    [0x98, 0x01, 0xa7],
];
/// First octets of the remote IPv4 servers (public ranges of large providers).
const SERVER_V4_NETS: [u8; 12] = [23, 31, 34, 52, 64, 91, 104, 142, 151, 157, 185, 199];
/// First 32 bits of the remote IPv6 servers.
const SERVER_V6_NETS: [[u8; 4]; 6] = [
    [0x26, 0x06, 0x47, 0x00],
    [0x2a, 0x00, 0x14, 0x50],
    [0x26, 0x20, 0x01, 0xec],
    [0x2a, 0x03, 0x28, 0x80],
    [0x26, 0x00, 0x90, 0x00],
    [0x2a, 0x04, 0x4e, 0x42],
];

/// A bijection of `0..modulus`: serial numbers become scattered but never repeated values.
/// `MULTIPLIER` is a prime above every modulus used, hence coprime to it.
struct Permutation {
    modulus: u64,
    offset: u64,
}

impl Permutation {
    const MULTIPLIER: u64 = 2_654_435_761;

    fn apply(&self, serial: u64) -> u64 {
        assert!(serial < self.modulus, "more flows than distinct endpoints ({})", self.modulus);
        let scattered = u128::from(serial) * u128::from(Self::MULTIPLIER) + u128::from(self.offset);
        (scattered % u128::from(self.modulus)) as u64
    }
}

/// Hands out client endpoints that are never reused within a capture, so no two generated
/// flows share a key: a (client, port) per flow with ports, a (client, target) pair per ping.
pub struct EndpointAllocator {
    ports: Permutation,
    port_serial: u64,
    pings: Permutation,
    ping_serial: u64,
}

const _: () = assert!(Permutation::MULTIPLIER > CLIENTS * EPHEMERAL_PORTS);
const _: () = assert!(Permutation::MULTIPLIER > CLIENTS * ICMP_TARGETS);

impl EndpointAllocator {
    pub fn new(rng: &mut Rng) -> EndpointAllocator {
        let ports = CLIENTS * EPHEMERAL_PORTS;
        let pings = CLIENTS * ICMP_TARGETS;
        EndpointAllocator {
            ports: Permutation { modulus: ports, offset: rng.range(0, ports - 1) },
            port_serial: 0,
            pings: Permutation { modulus: pings, offset: rng.range(0, pings - 1) },
            ping_serial: 0,
        }
    }

    /// (client index, client port) for a flow with ports.
    pub fn client_port(&mut self) -> (u32, u16) {
        let m = self.ports.apply(self.port_serial);
        self.port_serial += 1;
        ((m % CLIENTS) as u32, (FIRST_EPHEMERAL_PORT + m / CLIENTS) as u16)
    }

    /// (client index, target index) for a ping flow.
    pub fn ping_pair(&mut self) -> (u32, u64) {
        let m = self.pings.apply(self.ping_serial);
        self.ping_serial += 1;
        ((m % CLIENTS) as u32, m / CLIENTS)
    }
}

/// A popular-first server index: rank r is drawn with probability ∝ 1/r.
pub fn server_index(rng: &mut Rng) -> u64 {
    ((SERVERS as f64).powf(rng.unit()) as u64 - 1).min(SERVERS - 1)
}

fn v4(octets: [u8; 4]) -> [u8; 16] {
    let mut a = [0; 16];
    a[..4].copy_from_slice(&octets);
    a
}

/// Campus clients: 10.64.0.0/10, 250 hosts per /24.
pub fn client_addr(client: u32, ipv6: bool) -> [u8; 16] {
    let subnet = (client / 250) as u16;
    if ipv6 {
        // 2001:db8:1000:<subnet>::/64, a privacy-style interface id that embeds the client.
        let mut a = [0x20, 0x01, 0x0d, 0xb8, 0x10, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        a[6..8].copy_from_slice(&subnet.to_be_bytes());
        a[8..12].copy_from_slice(&((mix(u64::from(client)) >> 32) as u32).to_be_bytes());
        a[12..16].copy_from_slice(&client.to_be_bytes());
        a
    } else {
        v4([10, 64 + (subnet >> 8) as u8, subnet as u8, (1 + client % 250) as u8])
    }
}

pub fn client_mac(client: u32) -> [u8; 6] {
    let oui = CLIENT_OUIS[client as usize % CLIENT_OUIS.len()];
    let low = client.to_be_bytes();
    [oui[0], oui[1], oui[2], low[1], low[2], low[3]]
}

/// Remote server `index` (< 2^24 · 12 for IPv4): distinct indices give distinct addresses.
pub fn server_addr(index: u64, ipv6: bool) -> [u8; 16] {
    if ipv6 {
        let mut a = [0; 16];
        a[..4].copy_from_slice(&SERVER_V6_NETS[index as usize % SERVER_V6_NETS.len()]);
        a[4..12].copy_from_slice(&mix(index).to_be_bytes());
        a[12..16].copy_from_slice(&(index as u32).to_be_bytes());
        a
    } else {
        let nets = SERVER_V4_NETS.len() as u64;
        let host = ((index / nets).wrapping_mul(0x9e37_79b1) & 0xff_ffff) as u32;
        let b = host.to_be_bytes();
        v4([SERVER_V4_NETS[(index % nets) as usize], b[1], b[2], b[3]])
    }
}

/// A DNS resolver: one of the two campus resolvers, sometimes a public one.
pub fn resolver_addr(client: u32, ipv6: bool, rng: &mut Rng) -> [u8; 16] {
    let public = rng.chance(0.05);
    let which = rng.range(0, 2) as usize;
    match (ipv6, public) {
        (false, false) => v4([10, 0, (client % 2) as u8, 53]),
        (false, true) => v4([[8, 8, 8, 8], [1, 1, 1, 1], [9, 9, 9, 9]][which]),
        (true, false) => {
            let mut a = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0x53, 0, 0, 0, 0, 0, 0, 0, 0x53];
            a[15] += (client % 2) as u8;
            a
        }
        (true, true) => [
            [0x20, 0x01, 0x48, 0x60, 0x48, 0x60, 0, 0, 0, 0, 0, 0, 0, 0, 0x88, 0x88],
            [0x26, 0x06, 0x47, 0x00, 0x47, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0x11, 0x11],
            [0x26, 0x20, 0x00, 0xfe, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfe],
        ][which],
    }
}

/// A ping target: the same address space as the servers.
pub fn ping_target_addr(target: u64, ipv6: bool) -> [u8; 16] {
    server_addr(target, ipv6)
}

/// Lengths of one written packet.
#[derive(Clone, Copy, Debug)]
pub struct Built {
    /// Header bytes written (the record's data, before any snaplen cut).
    pub header_len: usize,
    /// IP total length (IPv6: payload length + 40), as flowmine counts bytes.
    pub ip_len: u32,
    /// Frame length on the wire (the record's orig_len).
    pub orig_len: u32,
}

/// A flow's identity and the header fields that evolve packet by packet.
/// Arrays indexed by side: 0 = client, 1 = server.
pub struct Wire {
    pub ipv6: bool,
    pub protocol: u8,
    pub vlan: u16,
    pub client_mac: [u8; 6],
    pub client_addr: [u8; 16],
    pub server_addr: [u8; 16],
    pub client_port: u16,
    pub server_port: u16,
    ttl: [u8; 2],
    window: [u16; 2],
    seq: [u32; 2],
    ip_id: [u16; 2],
    flow_label: [u32; 2],
    /// Each side's TCP timestamp clock runs from its own random origin.
    tsval_origin: [u32; 2],
    last_tsval: [u32; 2],
    icmp_id: u16,
    icmp_seq: u16,
}

impl Wire {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        ipv6: bool,
        protocol: u8,
        vlan: u16,
        client: u32,
        client_addr: [u8; 16],
        server_addr: [u8; 16],
        client_port: u16,
        server_port: u16,
        rng: &mut Rng,
    ) -> Wire {
        let r = rng.next_u64();
        let s = rng.next_u64();
        // Seen at the campus edge: clients one hop in (Windows starts at 128, others at 64),
        // servers many hops away.
        let client_ttl = if r & 1 == 0 { 127 } else { 63 };
        let server_ttl = [64u8, 128, 255][(r >> 1) as usize % 3] - (8 + ((r >> 8) % 20) as u8);
        Wire {
            ipv6,
            protocol,
            vlan,
            client_mac: client_mac(client),
            client_addr,
            server_addr,
            client_port,
            server_port,
            ttl: [client_ttl, server_ttl],
            window: [502 + ((r >> 16) % 1600) as u16, 235 + ((r >> 32) % 3000) as u16],
            seq: [s as u32, (s >> 32) as u32],
            ip_id: [(r >> 40) as u16, (r >> 24) as u16],
            flow_label: [(mix(s) & 0xf_ffff) as u32, ((mix(s) >> 20) & 0xf_ffff) as u32],
            tsval_origin: [(mix(r) >> 3) as u32, (mix(r) >> 35) as u32],
            last_tsval: [0; 2],
            icmp_id: (r >> 48) as u16,
            icmp_seq: 0,
        }
    }

    /// Writes the headers of `p`, sent at `ts_us`, into `out`.
    #[inline]
    pub fn write(&mut self, p: &Packet, ts_us: u64, out: &mut [u8; MAX_HEADER_LEN]) -> Built {
        let me = usize::from(!p.from_client);
        let peer = 1 - me;
        let client = (self.client_mac, &self.client_addr, self.client_port);
        let server = (GATEWAY_MAC, &self.server_addr, self.server_port);
        let ((src_mac, src, src_port), (dst_mac, dst, dst_port)) =
            if p.from_client { (client, server) } else { (server, client) };

        out[0..6].copy_from_slice(&dst_mac);
        out[6..12].copy_from_slice(&src_mac);
        let mut at = 12;
        if self.vlan != 0 {
            out[12..14].copy_from_slice(&0x8100u16.to_be_bytes());
            out[14..16].copy_from_slice(&self.vlan.to_be_bytes());
            at = 16;
        }
        out[at..at + 2].copy_from_slice(&(if self.ipv6 { 0x86ddu16 } else { 0x0800 }).to_be_bytes());
        at += 2;
        let l2_len = at;

        let l4_header_len: usize = match self.protocol {
            PROTOCOL_TCP if p.tcp_flags & SYN != 0 => 40,
            PROTOCOL_TCP if p.tcp_flags & RST != 0 => 20,
            PROTOCOL_TCP => 32,
            _ => 8,
        };
        let ip_header_len = if self.ipv6 { 40 } else { 20 };
        let ip_len = (ip_header_len + l4_header_len) as u32 + u32::from(p.payload);

        if self.ipv6 {
            let h = &mut out[at..at + 40];
            let label = self.flow_label[me];
            h[0] = 0x60;
            h[1] = (label >> 16) as u8;
            h[2..4].copy_from_slice(&(label as u16).to_be_bytes());
            h[4..6].copy_from_slice(&((ip_len - 40) as u16).to_be_bytes());
            h[6] = self.protocol;
            h[7] = self.ttl[me];
            h[8..24].copy_from_slice(src);
            h[24..40].copy_from_slice(dst);
        } else {
            let h = &mut out[at..at + 20];
            let id = self.ip_id[me];
            self.ip_id[me] = id.wrapping_add(1);
            h[0] = 0x45;
            h[1] = 0;
            h[2..4].copy_from_slice(&(ip_len as u16).to_be_bytes());
            h[4..6].copy_from_slice(&id.to_be_bytes());
            h[6..8].copy_from_slice(&0x4000u16.to_be_bytes()); // DF, never fragmented
            h[8] = self.ttl[me];
            h[9] = self.protocol;
            h[10..12].copy_from_slice(&[0, 0]);
            h[12..16].copy_from_slice(&src[..4]);
            h[16..20].copy_from_slice(&dst[..4]);
            let checksum = ipv4_checksum(h);
            h[10..12].copy_from_slice(&checksum.to_be_bytes());
        }
        at += ip_header_len;

        let l4 = &mut out[at..at + l4_header_len];
        match self.protocol {
            PROTOCOL_TCP => {
                let seq = self.seq[me];
                let flags = p.tcp_flags;
                let consumes = u32::from(flags & (SYN | FIN) != 0);
                self.seq[me] = seq.wrapping_add(u32::from(p.payload) + consumes);
                let ack = if flags & ACK != 0 { self.seq[peer] } else { 0 };
                l4[0..2].copy_from_slice(&src_port.to_be_bytes());
                l4[2..4].copy_from_slice(&dst_port.to_be_bytes());
                l4[4..8].copy_from_slice(&seq.to_be_bytes());
                l4[8..12].copy_from_slice(&ack.to_be_bytes());
                l4[12] = ((l4_header_len / 4) as u8) << 4;
                l4[13] = flags;
                l4[14..16].copy_from_slice(&self.window[me].to_be_bytes());
                // Checksums cover the payload, which a header-only capture does not hold.
                l4[16..18].copy_from_slice(&((seq ^ ip_len) as u16).to_be_bytes());
                l4[18..20].copy_from_slice(&[0, 0]);
                if l4_header_len > 20 {
                    let tsval = self.tsval_origin[me].wrapping_add((ts_us / 1000) as u32);
                    let tsecr = self.last_tsval[peer];
                    self.last_tsval[me] = tsval;
                    let opts = &mut l4[20..];
                    if flags & SYN != 0 {
                        let mss = if self.ipv6 { 1440u16 } else { 1460 };
                        opts[0..4].copy_from_slice(&[2, 4, (mss >> 8) as u8, mss as u8]);
                        opts[4..6].copy_from_slice(&[4, 2]); // SACK permitted
                        opts[6..8].copy_from_slice(&[8, 10]);
                        opts[8..12].copy_from_slice(&tsval.to_be_bytes());
                        opts[12..16].copy_from_slice(&tsecr.to_be_bytes());
                        opts[16..20].copy_from_slice(&[1, 3, 3, 7]); // NOP, window scale 7
                    } else {
                        opts[0..4].copy_from_slice(&[1, 1, 8, 10]);
                        opts[4..8].copy_from_slice(&tsval.to_be_bytes());
                        opts[8..12].copy_from_slice(&tsecr.to_be_bytes());
                    }
                }
            }
            PROTOCOL_UDP => {
                l4[0..2].copy_from_slice(&src_port.to_be_bytes());
                l4[2..4].copy_from_slice(&dst_port.to_be_bytes());
                l4[4..6].copy_from_slice(&(8 + p.payload).to_be_bytes());
                l4[6..8].copy_from_slice(&((ip_len as u16) ^ 0x5a5a | 1).to_be_bytes());
            }
            PROTOCOL_ICMP | PROTOCOL_ICMPV6 => {
                if p.from_client {
                    self.icmp_seq = self.icmp_seq.wrapping_add(1);
                }
                let kind = match (self.protocol == PROTOCOL_ICMPV6, p.from_client) {
                    (false, true) => 8, // echo request
                    (false, false) => 0,
                    (true, true) => 128,
                    (true, false) => 129,
                };
                l4[0] = kind;
                l4[1] = 0;
                l4[2..4].copy_from_slice(&((self.icmp_seq ^ 0xa5a5) | 1).to_be_bytes());
                l4[4..6].copy_from_slice(&self.icmp_id.to_be_bytes());
                l4[6..8].copy_from_slice(&self.icmp_seq.to_be_bytes());
            }
            other => unreachable!("no class sends protocol {other}"),
        }
        at += l4_header_len;

        let orig_len = (l2_len as u32 + ip_len).max(MIN_FRAME_LEN);
        Built { header_len: at, ip_len, orig_len }
    }
}

fn ipv4_checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = header.chunks_exact(2).map(|w| u32::from(u16::from_be_bytes([w[0], w[1]]))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}
