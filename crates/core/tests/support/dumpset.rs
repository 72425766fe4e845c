//! A generated n2disk-style dump set for the shard tests: 20 consecutive pcap files of
//! one synthetic capture in which flows cross every file boundary. Conversations last the
//! whole capture with gaps around the idle timeouts the tests use, TCP connections open
//! and close (FIN, RST, port reuse right after a close), UDP datagrams are fragmented with
//! their later fragments seconds after the first, and a few frames are not IP.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use flowmine_core::capture::writer::PcapWriter;

const SEC: i64 = 1_000_000_000;
/// Capture time of the first packet (2025-03-11 09:00 UTC).
const EPOCH: i64 = 1_741_683_600 * SEC;

/// A small deterministic PRNG (SplitMix64): the dump set is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// Nanoseconds in [lo, hi) seconds.
    fn secs(&mut self, lo: f64, hi: f64) -> i64 {
        ((lo + (hi - lo) * (self.next() >> 11) as f64 / (1u64 << 53) as f64) * SEC as f64) as i64
    }
}

const TCP: u8 = 6;
const UDP: u8 = 17;
const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const ACK: u8 = 0x10;

/// One frame: Ethernet, IPv4, and a TCP or UDP header (or an IP fragment).
#[derive(Clone)]
struct Frame {
    ts: i64,
    bytes: Vec<u8>,
    orig_len: u32,
}

struct Ends {
    src: [u8; 4],
    dst: [u8; 4],
    sport: u16,
    dport: u16,
}

fn ipv4(proto: u8, e: &Ends, ip_id: u16, frag: u16, payload: &[u8], total_len: u16) -> Vec<u8> {
    let mut f = vec![0u8; 14];
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let mut ip = [0u8; 20];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&total_len.to_be_bytes());
    ip[4..6].copy_from_slice(&ip_id.to_be_bytes());
    ip[6..8].copy_from_slice(&frag.to_be_bytes());
    ip[8] = 64;
    ip[9] = proto;
    ip[12..16].copy_from_slice(&e.src);
    ip[16..20].copy_from_slice(&e.dst);
    f.extend_from_slice(&ip);
    f.extend_from_slice(payload);
    f
}

fn tcp_frame(ts: i64, e: &Ends, flags: u8, data_len: u16) -> Frame {
    let mut t = [0u8; 20];
    t[0..2].copy_from_slice(&e.sport.to_be_bytes());
    t[2..4].copy_from_slice(&e.dport.to_be_bytes());
    t[12] = 5 << 4;
    t[13] = flags;
    t[14..16].copy_from_slice(&(1000 + data_len).to_be_bytes());
    let total = 40 + data_len;
    let bytes = ipv4(TCP, e, 0, 0x4000, &t, total);
    Frame { ts, bytes, orig_len: 14 + u32::from(total) }
}

fn udp_frame(ts: i64, e: &Ends, data_len: u16) -> Frame {
    let mut u = [0u8; 8];
    u[0..2].copy_from_slice(&e.sport.to_be_bytes());
    u[2..4].copy_from_slice(&e.dport.to_be_bytes());
    u[4..6].copy_from_slice(&(8 + data_len).to_be_bytes());
    let total = 28 + data_len;
    let bytes = ipv4(UDP, e, 0, 0x4000, &u, total);
    Frame { ts, bytes, orig_len: 14 + u32::from(total) }
}

/// A UDP datagram in two fragments: the first (with the UDP header) at `ts`, the later
/// one `later_after` ns after.
fn fragmented(ts: i64, later_after: i64, e: &Ends, ip_id: u16) -> [Frame; 2] {
    let mut u = [0u8; 8];
    u[0..2].copy_from_slice(&e.sport.to_be_bytes());
    u[2..4].copy_from_slice(&e.dport.to_be_bytes());
    u[4..6].copy_from_slice(&2008u16.to_be_bytes());
    let first = ipv4(UDP, e, ip_id, 0x2000, &u, 20 + 1480);
    // Offset 1480 bytes = 185 units of 8.
    let later = ipv4(UDP, e, ip_id, 185, &[], 20 + 528);
    [Frame { ts, bytes: first, orig_len: 14 + 1500 }, Frame { ts: ts + later_after, bytes: later, orig_len: 14 + 548 }]
}

fn host(rng: &mut Rng, net: u8) -> [u8; 4] {
    [10, net, rng.below(4) as u8, 1 + rng.below(200) as u8]
}

/// Writes the dump set into `dir` as `files` consecutive pcap files of about `seconds`
/// of capture in all; returns the paths in time order.
pub fn write(dir: &Path, files: usize, seconds: i64, seed: u64) -> Vec<PathBuf> {
    let mut rng = Rng(seed);
    let end = EPOCH + seconds * SEC;
    let mut frames: Vec<Frame> = Vec::new();
    // Conversations over the whole capture, with gaps of up to 40 s (idle gaps of 20 s
    // and more end their flows under the tests' idle timeouts, shorter ones do not).
    for c in 0..60u16 {
        let e = Ends { src: host(&mut rng, 1), dst: host(&mut rng, 2), sport: 20_000 + c, dport: 443 };
        let back = Ends { src: e.dst, dst: e.src, sport: e.dport, dport: e.sport };
        let udp = c % 3 == 0;
        let mut t = EPOCH + rng.secs(0.0, 5.0);
        while t < end {
            let from_client = rng.below(3) > 0;
            let ends = if from_client { &e } else { &back };
            frames.push(if udp {
                udp_frame(t, ends, rng.below(1200) as u16)
            } else {
                tcp_frame(t, ends, ACK, rng.below(1400) as u16)
            });
            let gap = match rng.below(10) {
                0 => rng.secs(15.0, 40.0),
                1..=3 => rng.secs(2.0, 10.0),
                _ => rng.secs(0.01, 1.5),
            };
            t += gap;
        }
    }
    // Short TCP connections: handshake, data, then FIN/FIN/ACK, RST, or nothing; some
    // reuse their port with a new SYN right after the close.
    let mut t = EPOCH;
    let mut port = 40_000u16;
    while t < end {
        port = port.wrapping_add(1).max(1024);
        let e = Ends { src: host(&mut rng, 3), dst: host(&mut rng, 4), sport: port, dport: 80 };
        let back = Ends { src: e.dst, dst: e.src, sport: e.dport, dport: e.sport };
        let mut s = t;
        let step = |rng: &mut Rng, s: &mut i64| *s += rng.secs(0.05, 3.0);
        for reuse in 0..=rng.below(2) {
            frames.push(tcp_frame(s, &e, SYN, 0));
            step(&mut rng, &mut s);
            frames.push(tcp_frame(s, &back, SYN | ACK, 0));
            step(&mut rng, &mut s);
            for _ in 0..rng.below(6) {
                frames.push(tcp_frame(s, if rng.below(2) == 0 { &e } else { &back }, ACK, rng.below(1400) as u16));
                step(&mut rng, &mut s);
            }
            match rng.below(3) {
                0 => {
                    frames.push(tcp_frame(s, &e, FIN | ACK, 0));
                    s += rng.secs(0.01, 0.5);
                    frames.push(tcp_frame(s, &back, FIN | ACK, 0));
                    s += rng.secs(0.01, 0.5);
                    frames.push(tcp_frame(s, &e, ACK, 0));
                }
                1 => frames.push(tcp_frame(s, &back, RST, 0)),
                _ => {}
            }
            s += if reuse == 0 { rng.secs(0.01, 2.0) } else { 0 };
        }
        t += rng.secs(0.05, 1.2);
    }
    // Fragmented datagrams, later fragments 0.1 to 8 s after their first.
    let mut t = EPOCH + SEC;
    let mut ip_id = 1u16;
    while t < end {
        let e = Ends { src: host(&mut rng, 5), dst: host(&mut rng, 6), sport: 5000, dport: 6000 + rng.below(4) as u16 };
        frames.extend(fragmented(t, rng.secs(0.1, 8.0), &e, ip_id));
        ip_id = ip_id.wrapping_add(1);
        t += rng.secs(0.3, 4.0);
    }
    // ARP frames: not IP, counted as skipped.
    let mut t = EPOCH;
    while t < end {
        let mut f = vec![0u8; 42];
        f[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
        frames.push(Frame { ts: t, bytes: f, orig_len: 42 });
        t += rng.secs(5.0, 30.0);
    }
    frames.retain(|f| f.ts < end);
    frames.sort_by_key(|f| f.ts);

    std::fs::create_dir_all(dir).unwrap();
    let per_file = frames.len().div_ceil(files);
    frames
        .chunks(per_file)
        .enumerate()
        .map(|(i, chunk)| {
            let path = dir.join(format!("dump-{i:03}.pcap"));
            let mut w = PcapWriter::new(std::fs::File::create(&path).unwrap(), 1, 65535).unwrap();
            for f in chunk {
                w.write(f.ts, f.orig_len, &f.bytes).unwrap();
            }
            w.finish().unwrap();
            path
        })
        .collect()
}

/// Writes one pcap file of `flows` short UDP exchanges (request, reply), a new one every
/// `every_ns`, each on its own port pair: many flows that end by the idle timeout soon
/// after they start, so the flow table hands flows out at every window point.
pub fn write_short_flows(path: &Path, flows: u32, every_ns: i64) {
    let mut w = PcapWriter::new(std::fs::File::create(path).unwrap(), 1, 65535).unwrap();
    for i in 0..flows {
        let t = EPOCH + i64::from(i) * every_ns;
        let e = Ends { src: [10, 7, (i >> 16) as u8, 1], dst: [10, 8, 0, 1], sport: (i & 0xffff) as u16, dport: 53 };
        let back = Ends { src: e.dst, dst: e.src, sport: e.dport, dport: e.sport };
        for f in [udp_frame(t, &e, 40), udp_frame(t + every_ns / 2, &back, 80)] {
            w.write(f.ts, f.orig_len, &f.bytes).unwrap();
        }
    }
    w.finish().unwrap();
}
