//! gen-campus: header-only, n2disk-style captures of a campus uplink, with an exact ground
//! truth of the flows they hold, for flowmine's scale benchmarks.
//!
//! Flows arrive as a Poisson process; each draws a class and a packet schedule
//! ([`model::Plan`]). A binary heap holds every open flow's next packet, so packets come out
//! in time order with the flows interleaved. The simulation starts `MAX_LIFETIME` before
//! the capture, so the capture opens on a link in steady state (flows already mid-way)
//! instead of an empty one; then any capture length has the same rate and mix.

#[path = "gen/model.rs"]
mod model;
#[path = "gen/output.rs"]
mod output;
#[path = "gen/rng.rs"]
mod rng;
#[path = "gen/wire.rs"]
mod wire;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use model::{Class, IPV6_SHARE, MAX_LIFETIME_NS, Packet, Plan, SEC};
use output::{PcapSink, SideCounts, TruthRow, TruthSink};
use rng::Rng;
use wire::{Built, EndpointAllocator, MAX_HEADER_LEN, MIN_SNAPLEN, Wire};

const HELP: &str = "\
gen-campus: a header-only campus capture with an exact flow ground truth

USAGE:
    gen-campus --packets N --out FILE.pcap [--truth TRUTH.csv] [OPTIONS]
    gen-campus --packets N --split-files K --out-dir DIR [--truth TRUTH.csv] [OPTIONS]

OPTIONS:
    --packets N        packets to write (k, M, G suffixes allowed: 20M)
    --out FILE         one classic pcap file: microsecond magic, little-endian, Ethernet
    --split-files K    write the same packet sequence as K consecutive files of N/K packets
                       (as a rotating n2disk dump would), named DIR/part-000.pcap,
                       DIR/part-001.pcap, ... (at least 3 digits, so names sort in time order)
    --out-dir DIR      directory for the parts (created if missing)
    --truth FILE       ground-truth CSV, one row per flow as flowmine reports it with
                       --idle-timeout off --active-timeout off --tcp-close off (one flow per
                       5-tuple + VLAN, initiator = sender of its first packet in the capture)
    --seed N           PRNG seed (default 1): same seed and options, byte-identical output
    --snaplen N        snaplen of the file (default 128, at least 78); records keep only the
                       layer 2-4 headers, while orig_len, the IP total length and the UDP
                       length keep the true sizes
    --rate PPS         packets per second of capture time (default: the campus rate, about
                       260k): flows arrive more or less often, with the same mix, so the
                       same --packets then spans a longer or shorter stretch. Expected rate;
                       one seed varies by a few percent. The stretch of N packets of a seed
                       is the first N packets of any longer capture of that seed and rate
                       (20k pkt/s: --packets 5M is the first 250 s of --packets 20M)
    --streams N        N long-lived UDP streams (tunnels, feeds) from the first packet to the
                       last, at 2 to 50 packets/s each (log-uniform), counted in --rate; they
                       never idle past a timeout, so an open flow keeps collecting packets
                       (default 0)
    --stats            per-class breakdown on stderr
    -h, --help         this text

TRAFFIC:
    A campus uplink at about 1.5 Gbit/s of frames (~260k packets/s, so 20 M packets span ~75 s
    of capture time), constant in expectation: a longer capture has the same rate and mix.
    Heavy-tailed flow sizes make the rate of one seed vary by a few percent.
    Flows: HTTPS-like TCP (handshake, Pareto-sized transfer both ways, idle keep-alive of up
    to minutes, FIN/FIN/ACK or RST or nothing), failed TCP (unanswered SYNs, RST answers),
    long-idle TCP keep-alives (gaps of minutes), QUIC on UDP 443, DNS to the campus
    resolvers, NTP, ICMP echo, small UDP, VPN tunnels, video calls. 20 % of flows are IPv6,
    15 % carry an 802.1Q tag (VLAN 10, 20, 30, 110, 200). About 1.7 M flows per 20 M packets.
    Flows live up to 10 minutes; the capture opens mid-flow on the flows already running.
";

/// Time of the first packet: Tuesday 2025-03-11 09:00:00 UTC.
const EPOCH_US: u64 = 1_741_683_600 * 1_000_000;
/// Simulation time (ns) at which the capture starts; flows arrive from simulation time 0.
const CAPTURE_START_NS: u64 = MAX_LIFETIME_NS;
/// Flow arrivals per second, set so the link carries ~1.5 Gbit/s of frames (measured: an
/// arrival brings ~9.4 kB of frames on average, most of it in the rare elephants).
const FLOWS_PER_SECOND: f64 = 20_000.0;
/// Packets per second the arrivals at `FLOWS_PER_SECOND` bring (measured over 20 M packets of
/// seed 1: 20 M packets span 75.3 s); `--rate` scales the arrivals by its ratio to this.
const DEFAULT_PACKETS_PER_SECOND: f64 = 265_600.0;
/// `--streams` rates: log-uniform in this range of packets/s.
const STREAM_RATE_PPS: (f64, f64) = (2.0, 50.0);
/// A stream lasts this long: longer than any capture made here.
const STREAM_LIFETIME_NS: u64 = 1_000_000 * SEC;
/// Seed offset of the streams' own generator, so the arrivals draw the same numbers with
/// and without streams.
const STREAM_SEED: u64 = 0x5EED_5EA3;
/// Gaps at least this long end a flow under flowmine's default idle timeout.
const IDLE_TIMEOUT_US: u64 = 120_000_000;

struct Args {
    packets: u64,
    out: Option<PathBuf>,
    split_files: Option<usize>,
    out_dir: Option<PathBuf>,
    truth: Option<PathBuf>,
    seed: u64,
    snaplen: u32,
    rate: Option<f64>,
    streams: u32,
    stats: bool,
}

fn parse_count(text: &str) -> Result<u64, String> {
    let clean: String = text.chars().filter(|c| *c != '_').collect();
    let (digits, factor) = match clean.chars().last() {
        Some('k' | 'K') => (&clean[..clean.len() - 1], 1_000),
        Some('m' | 'M') => (&clean[..clean.len() - 1], 1_000_000),
        Some('g' | 'G') => (&clean[..clean.len() - 1], 1_000_000_000),
        _ => (clean.as_str(), 1),
    };
    digits.parse::<u64>().ok().and_then(|n| n.checked_mul(factor)).ok_or_else(|| format!("not a count: {text:?}"))
}

fn parse_args(raw: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut args = Args {
        packets: 0,
        out: None,
        split_files: None,
        out_dir: None,
        truth: None,
        seed: 1,
        snaplen: 128,
        rate: None,
        streams: 0,
        stats: false,
    };
    let mut raw = raw.peekable();
    while let Some(flag) = raw.next() {
        let mut value = || raw.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--packets" => args.packets = parse_count(&value()?)?,
            "--out" => args.out = Some(PathBuf::from(value()?)),
            "--split-files" => args.split_files = Some(parse_count(&value()?)? as usize),
            "--out-dir" => args.out_dir = Some(PathBuf::from(value()?)),
            "--truth" => args.truth = Some(PathBuf::from(value()?)),
            "--seed" => args.seed = parse_count(&value()?)?,
            "--snaplen" => {
                args.snaplen = u32::try_from(parse_count(&value()?)?).map_err(|_| "snaplen too large".to_string())?
            }
            "--rate" => {
                let text = value()?;
                let rate = parse_count(&text)? as f64;
                if rate < 1.0 {
                    return Err(format!("--rate must be at least 1 packet/s, not {text:?}"));
                }
                args.rate = Some(rate);
            }
            "--streams" => {
                args.streams = u32::try_from(parse_count(&value()?)?).map_err(|_| "too many streams".to_string())?
            }
            "--stats" => args.stats = true,
            other => return Err(format!("unknown argument {other:?} (see --help)")),
        }
    }
    if args.packets == 0 {
        return Err("--packets N (N ≥ 1) is required".into());
    }
    match (&args.out, args.split_files, &args.out_dir) {
        (Some(_), None, None) => {}
        (None, Some(k), Some(_)) if k >= 1 && k as u64 <= args.packets => {}
        (None, Some(_), Some(_)) => return Err("--split-files K needs 1 ≤ K ≤ packets".into()),
        _ => return Err("give either --out FILE or --split-files K --out-dir DIR".into()),
    }
    if !(MIN_SNAPLEN..=262_144).contains(&args.snaplen) {
        return Err(format!(
            "--snaplen must be in {MIN_SNAPLEN}..=262144: below {MIN_SNAPLEN} flowmine cannot read every \
             transport header, and the truth assumes it reads them all"
        ));
    }
    if let Some(rate) = args.rate {
        let streams_pps = f64::from(args.streams) * stream_mean_pps();
        if streams_pps >= rate {
            return Err(format!(
                "--streams {} carry about {streams_pps:.0} packets/s, more than --rate {rate:.0}",
                args.streams
            ));
        }
    }
    Ok(Some(args))
}

/// Mean packets/s of one stream (the mean of the log-uniform rate).
fn stream_mean_pps() -> f64 {
    let (lo, hi) = STREAM_RATE_PPS;
    (hi - lo) / (hi / lo).ln()
}

/// What flowmine will count for a flow, kept per side (0 = client, 1 = server) until the
/// flow ends and its initiator is known.
#[derive(Default)]
struct Truth {
    emitted: bool,
    initiator_is_client: bool,
    first_ts_us: u64,
    last_ts_us: u64,
    max_gap_us: u64,
    sides: [SideCounts; 2],
}

impl Truth {
    #[inline]
    fn add(&mut self, from_client: bool, ts_us: u64, built: Built) {
        if !self.emitted {
            self.emitted = true;
            self.initiator_is_client = from_client;
            self.first_ts_us = ts_us;
            self.last_ts_us = ts_us;
        }
        self.max_gap_us = self.max_gap_us.max(ts_us - self.last_ts_us);
        self.last_ts_us = ts_us;
        let side = &mut self.sides[usize::from(!from_client)];
        side.packets += 1;
        side.bytes += u64::from(built.ip_len);
        side.wire_bytes += u64::from(built.orig_len);
    }
}

struct Flow {
    plan: Plan,
    wire: Wire,
    start_ns: u64,
    /// Index of `pending` in the plan.
    next: u32,
    pending: Packet,
    truth: Truth,
}

impl Flow {
    fn row(&self) -> TruthRow<'_> {
        let t = &self.truth;
        let w = &self.wire;
        let client = (&w.client_addr, w.client_port);
        let server = (&w.server_addr, w.server_port);
        let (src, dst, fwd, bwd) = if t.initiator_is_client {
            (client, server, t.sides[0], t.sides[1])
        } else {
            (server, client, t.sides[1], t.sides[0])
        };
        TruthRow {
            ipv6: w.ipv6,
            protocol: w.protocol,
            src,
            dst,
            vlan: w.vlan,
            first_ts_ns: t.first_ts_us * 1000,
            last_ts_ns: t.last_ts_us * 1000,
            fwd,
            bwd,
        }
    }
}

#[derive(Default, Clone, Copy)]
struct ClassStats {
    flows: u64,
    packets: u64,
    wire_bytes: u64,
    /// Flows whose first packet in the capture is the server's (open before the capture
    /// started): flowmine takes the server for the initiator.
    server_first: u64,
    /// Flows with a silence of 120 s or more: flowmine's default idle timeout splits them.
    idle_gaps: u64,
}

/// Totals printed in the summary line.
#[derive(Default)]
struct Totals {
    packets: u64,
    flows: u64,
    ip_bytes: u64,
    wire_bytes: u64,
    first_ts_us: u64,
    last_ts_us: u64,
    peak_open_flows: usize,
    by_class: [ClassStats; Class::ALL.len()],
}

impl Totals {
    fn flow_ended(&mut self, flow: &Flow) {
        let t = &flow.truth;
        let stats = &mut self.by_class[Class::ALL.iter().position(|c| *c == flow.plan.class).expect("listed")];
        stats.flows += 1;
        stats.packets += t.sides[0].packets + t.sides[1].packets;
        stats.wire_bytes += t.sides[0].wire_bytes + t.sides[1].wire_bytes;
        stats.server_first += u64::from(!t.initiator_is_client);
        stats.idle_gaps += u64::from(t.max_gap_us >= IDLE_TIMEOUT_US);
        self.flows += 1;
    }
}

struct Generator {
    rng: Rng,
    endpoints: EndpointAllocator,
    /// Open flows; slots in `free` are vacant.
    flows: Vec<Flow>,
    free: Vec<u32>,
    /// (time of the flow's next packet, slot), earliest first; ties go to the lower slot.
    queue: BinaryHeap<Reverse<(u64, u32)>>,
    next_arrival_ns: f64,
    mean_arrival_gap_ns: f64,
}

impl Generator {
    fn new(seed: u64, flows_per_second: f64) -> Generator {
        let mut rng = Rng::new(seed);
        let endpoints = EndpointAllocator::new(&mut rng);
        Generator {
            rng,
            endpoints,
            flows: Vec::new(),
            free: Vec::new(),
            queue: BinaryHeap::new(),
            next_arrival_ns: 0.0,
            mean_arrival_gap_ns: SEC as f64 / flows_per_second,
        }
    }

    /// Starts `n` streams at the capture's first instant, drawn from their own generator.
    fn start_streams(&mut self, n: u32, seed: u64) {
        let mut rng = Rng::new(seed ^ STREAM_SEED);
        for _ in 0..n {
            let rate = rng.log_uniform(STREAM_RATE_PPS.0, STREAM_RATE_PPS.1);
            let plan = Plan::stream(rate, STREAM_LIFETIME_NS, &mut rng);
            let ipv6 = rng.chance(IPV6_SHARE);
            let vlan = model::draw_vlan(&mut rng);
            let (client, port) = self.endpoints.client_port();
            let server_addr = wire::server_addr(wire::server_index(&mut rng), ipv6);
            let server_port = Class::Vpn.server_port(&mut rng);
            let wire = Wire::new(
                ipv6,
                Class::Vpn.protocol(ipv6),
                vlan,
                client,
                wire::client_addr(client, ipv6),
                server_addr,
                port,
                server_port,
                &mut rng,
            );
            self.insert(CAPTURE_START_NS, 0, plan, wire);
        }
    }

    /// Starts every flow that arrives no later than the earliest pending packet, so no
    /// packet is written before one that precedes it.
    fn admit_arrivals(&mut self) {
        loop {
            let due = self.queue.peek().map_or(u64::MAX, |Reverse((t, _))| *t);
            let arrival_ns = self.next_arrival_ns as u64;
            if arrival_ns > due {
                return;
            }
            self.next_arrival_ns += self.rng.exponential(self.mean_arrival_gap_ns);
            self.spawn(arrival_ns);
        }
    }

    fn spawn(&mut self, start_ns: u64) {
        let rng = &mut self.rng;
        let class = Class::pick(rng.unit());
        if start_ns + class.max_lifetime_ns() < CAPTURE_START_NS {
            return; // over before the capture starts
        }
        let ipv6 = rng.chance(IPV6_SHARE);
        let vlan = model::draw_vlan(rng);
        let plan = Plan::draw(class, ipv6, rng);
        let first = if start_ns >= CAPTURE_START_NS { 0 } else { plan.first_at_or_after(CAPTURE_START_NS - start_ns) };
        if first == plan.total() {
            return;
        }
        let (client, client_port, server_port, server_addr) = if class == Class::Icmp {
            let (client, target) = self.endpoints.ping_pair();
            (client, 0, 0, wire::ping_target_addr(target, ipv6))
        } else {
            let (client, port) = self.endpoints.client_port();
            let server_addr = if class == Class::Dns {
                wire::resolver_addr(client, ipv6, rng)
            } else {
                wire::server_addr(wire::server_index(rng), ipv6)
            };
            (client, port, class.server_port(rng), server_addr)
        };
        let wire = Wire::new(
            ipv6,
            class.protocol(ipv6),
            vlan,
            client,
            wire::client_addr(client, ipv6),
            server_addr,
            client_port,
            server_port,
            rng,
        );
        self.insert(start_ns, first, plan, wire);
    }

    /// Adds an open flow whose next packet is `plan`'s packet `first`.
    fn insert(&mut self, start_ns: u64, first: u32, plan: Plan, wire: Wire) {
        let pending = plan.packet(first);
        let due = start_ns + pending.offset_ns;
        let flow = Flow { plan, wire, start_ns, next: first, pending, truth: Truth::default() };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.flows[slot as usize] = flow;
                slot
            }
            None => {
                self.flows.push(flow);
                (self.flows.len() - 1) as u32
            }
        };
        self.queue.push(Reverse((due, slot)));
    }
}

fn part_paths(dir: &std::path::Path, parts: usize) -> Vec<PathBuf> {
    let width = parts.saturating_sub(1).to_string().len().max(3);
    (0..parts).map(|i| dir.join(format!("part-{i:0width$}.pcap"))).collect()
}

fn run(args: &Args) -> io::Result<()> {
    let started = Instant::now();
    let paths = match (&args.out, &args.out_dir) {
        (Some(out), _) => vec![out.clone()],
        (None, Some(dir)) => {
            std::fs::create_dir_all(dir)?;
            part_paths(dir, args.split_files.unwrap_or(1))
        }
        (None, None) => unreachable!("checked by parse_args"),
    };
    let mut pcap = PcapSink::create(paths.clone(), args.packets, args.snaplen)?;
    let mut truth = TruthSink::create(args.truth.as_deref())?;
    // Streams take their share of the rate; the arrivals bring the rest.
    let flows_per_second = args.rate.map_or(FLOWS_PER_SECOND, |rate| {
        FLOWS_PER_SECOND * (rate - f64::from(args.streams) * stream_mean_pps()) / DEFAULT_PACKETS_PER_SECOND
    });
    let mut generator = Generator::new(args.seed, flows_per_second);
    generator.start_streams(args.streams, args.seed);
    let mut totals = Totals::default();
    let mut frame = [0u8; MAX_HEADER_LEN];

    for _ in 0..args.packets {
        generator.admit_arrivals();
        let Reverse((due_ns, slot)) = generator.queue.pop().expect("arrivals never stop");
        let flow = &mut generator.flows[slot as usize];
        let packet = flow.pending;
        let ts_us = EPOCH_US + (due_ns - CAPTURE_START_NS) / 1000;
        let built = flow.wire.write(&packet, ts_us, &mut frame);
        pcap.write(ts_us, &frame[..built.header_len], built.orig_len)?;
        flow.truth.add(packet.from_client, ts_us, built);
        if totals.packets == 0 {
            totals.first_ts_us = ts_us;
        }
        totals.packets += 1;
        totals.last_ts_us = ts_us;
        totals.ip_bytes += u64::from(built.ip_len);
        totals.wire_bytes += u64::from(built.orig_len);

        flow.next += 1;
        if flow.next < flow.plan.total() {
            flow.pending = flow.plan.packet(flow.next);
            let due = flow.start_ns + flow.pending.offset_ns;
            generator.queue.push(Reverse((due, slot)));
        } else {
            truth.write(&flow.row())?;
            totals.flow_ended(flow);
            generator.free.push(slot);
        }
        totals.peak_open_flows = totals.peak_open_flows.max(generator.queue.len());
    }
    // Flows still open when the capture ends; only those that got a packet exist for flowmine.
    let mut open: Vec<u32> = generator.queue.into_vec().into_iter().map(|Reverse((_, slot))| slot).collect();
    open.sort_unstable();
    for slot in open {
        let flow = &generator.flows[slot as usize];
        if flow.truth.emitted {
            truth.write(&flow.row())?;
            totals.flow_ended(flow);
        }
    }
    let file_bytes = pcap.finish()?;
    truth.finish()?;

    let seconds = (totals.last_ts_us - totals.first_ts_us) as f64 / 1e6;
    let target = match (&args.out, &args.out_dir) {
        (Some(out), _) => out.display().to_string(),
        (None, Some(dir)) => format!("{} parts in {}", paths.len(), dir.display()),
        (None, None) => unreachable!(),
    };
    println!(
        "gen-campus: {} packets, {} flows, {} IP bytes ({} wire), {:.1} s of capture at {:.2} Gbit/s; \
         {} bytes of pcap to {} in {:.1} s",
        totals.packets,
        totals.flows,
        totals.ip_bytes,
        totals.wire_bytes,
        seconds,
        totals.wire_bytes as f64 * 8.0 / seconds.max(1e-6) / 1e9,
        file_bytes,
        target,
        started.elapsed().as_secs_f64()
    );
    if args.stats {
        eprintln!("peak open flows: {}", totals.peak_open_flows);
        eprintln!(
            "{:<11} {:>9} {:>7} {:>11} {:>7} {:>9} {:>9} {:>9}",
            "class", "flows", "flow%", "packets", "pkt%", "wire%", "srv-first", "idle≥120s"
        );
        for (class, s) in Class::ALL.iter().zip(&totals.by_class) {
            eprintln!(
                "{:<11} {:>9} {:>6.2}% {:>11} {:>6.2}% {:>8.2}% {:>9} {:>9}",
                class.name(),
                s.flows,
                100.0 * s.flows as f64 / totals.flows.max(1) as f64,
                s.packets,
                100.0 * s.packets as f64 / totals.packets.max(1) as f64,
                100.0 * s.wire_bytes as f64 / totals.wire_bytes.max(1) as f64,
                s.server_first,
                s.idle_gaps
            );
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("gen-campus: {message}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gen-campus: {e}");
            ExitCode::FAILURE
        }
    }
}
