//! The `.tcpdump.out` files beside the edge captures, parsed: tcpdump's packet count, each
//! packet's timestamp, and its first address pair (with ports where tcpdump prints them)
//! against what flowmine reads from the same records.

mod common;

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use flowmine_core::capture::{Event, Reader};
use flowmine_core::wire::decode::{Fragment, decode_layers};

/// An address and the port tcpdump printed after it, if any.
type Endpoint = (IpAddr, Option<u16>);

/// One packet as tcpdump printed it.
#[derive(Debug)]
struct Printed {
    /// `HH:MM:SS` and the fraction's digits as printed (`None`: tcpdump called it invalid).
    time: Option<(u32, u32, u32, String)>,
    /// `YYYY-MM-DD`, when printed.
    date: Option<(i64, u32, u32)>,
    /// The first `source > destination:` pair whose sides are IP addresses.
    pair: Option<(Endpoint, Endpoint)>,
}

/// Splits tcpdump's output into packets: a packet starts with its number, right-aligned
/// (`tcpdump -#`); continuation lines start with a tab or more spaces.
fn parse(text: &str) -> Vec<Printed> {
    let mut packets: Vec<(usize, String)> = Vec::new();
    for line in text.lines() {
        let head = line.trim_start();
        let number = head.split_whitespace().next().and_then(|n| n.parse::<usize>().ok());
        match number {
            Some(n) if line.starts_with(' ') && line.len() - head.len() <= 6 && n == packets.len() + 1 => {
                packets.push((n, head[head.find(' ').unwrap()..].trim_start().to_owned()));
            }
            _ => packets.last_mut().expect("a packet line first").1.push_str(&format!("\n{line}")),
        }
    }
    packets.into_iter().map(|(_, text)| printed(&text)).collect()
}

fn printed(text: &str) -> Printed {
    let mut words = text.split_whitespace().peekable();
    let date = words.peek().and_then(|w| {
        let mut p = w.split('-');
        let d = (p.next()?.parse().ok()?, p.next()?.parse().ok()?, p.next()?.parse().ok()?);
        Some(d)
    });
    if date.is_some() {
        words.next();
    }
    let clock = words.next().expect("a time");
    let invalid = words.peek().is_some_and(|w| w.starts_with("(invalid"));
    let time = (!invalid).then(|| {
        let (hms, frac) = clock.split_once('.').expect("a fraction");
        let mut p = hms.split(':').map(|v| v.parse::<u32>().expect("a clock"));
        (p.next().unwrap(), p.next().unwrap(), p.next().unwrap(), frac.to_owned())
    });
    let tokens: Vec<&str> = text.split_whitespace().collect();
    let pair = tokens.windows(3).find_map(|w| {
        let dst = w[2].strip_suffix(':')?;
        (w[1] == ">").then_some(())?;
        Some((endpoint(w[0])?, endpoint(dst)?))
    });
    Printed { time, date, pair }
}

/// `10.0.0.1`, `10.0.0.1.53`, `2001:db8::1`, `2001:db8::1.53`.
fn endpoint(s: &str) -> Option<Endpoint> {
    if let Ok(addr) = s.parse() {
        return Some((addr, None));
    }
    let (addr, port) = s.rsplit_once('.')?;
    Some((addr.parse().ok()?, Some(port.parse().ok()?)))
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

/// What flowmine read of one record: time, and the outermost IP header's addresses with
/// the key's ports where the key is that header's (no tunnel, not a later fragment).
struct Read {
    ts_ns: i64,
    outer: Option<Outer>,
}

/// Source and destination of the outermost IP header, and the key's ports if they are
/// that header's.
struct Outer {
    src: IpAddr,
    dst: IpAddr,
    ports: Option<(u16, u16)>,
}

fn read(path: &Path) -> Vec<Read> {
    let bytes = std::fs::read(path).unwrap();
    let Ok(reader) = Reader::new(&bytes) else { return Vec::new() };
    let mut out = Vec::new();
    for event in reader {
        let rec = match event {
            Ok(Event::Packet(rec)) => rec,
            Ok(Event::Skipped { .. }) | Err(_) => {
                panic!("{}: edge captures with oracles are well framed", path.display())
            }
        };
        let outer = decode_layers(rec.link_type, rec.data, rec.orig_len).ok().and_then(|(meta, layers)| {
            let ip = rec.data.get(layers.ip..)?;
            let (src, dst): (IpAddr, IpAddr) = match ip.first()? >> 4 {
                4 => (
                    <[u8; 4]>::try_from(ip.get(12..16)?).ok()?.into(),
                    <[u8; 4]>::try_from(ip.get(16..20)?).ok()?.into(),
                ),
                _ => (
                    <[u8; 16]>::try_from(ip.get(8..24)?).ok()?.into(),
                    <[u8; 16]>::try_from(ip.get(24..40)?).ok()?.into(),
                ),
            };
            let own = meta.tunnel == 0 && !matches!(meta.fragment, Fragment::Later(_));
            Some(Outer { src, dst, ports: own.then_some((meta.src_port, meta.dst_port)) })
        });
        out.push(Read { ts_ns: rec.ts_ns, outer });
    }
    out
}

fn oracles() -> Vec<(PathBuf, PathBuf)> {
    let dir = common::testdata().join("pcaps/edge");
    let mut found: Vec<(PathBuf, PathBuf)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| {
            let capture = PathBuf::from(p.to_str()?.strip_suffix(".tcpdump.out")?);
            Some((capture, p))
        })
        .collect();
    found.sort();
    found
}

#[test]
fn tcpdump_saw_the_packets_times_and_addresses_flowmine_reads() {
    let (mut times, mut pairs) = (0, 0);
    let oracles = oracles();
    assert!(oracles.len() >= 20, "{} oracles", oracles.len());
    for (capture, oracle) in oracles {
        let what = capture.display().to_string();
        let printed = parse(&std::fs::read_to_string(&oracle).unwrap());
        let read = read(&capture);
        assert_eq!(printed.len(), read.len(), "{what}: packets");
        for (k, (p, r)) in printed.iter().zip(&read).enumerate() {
            let what = format!("{what}: packet {}", k + 1);
            if let Some((h, m, s, frac)) = &p.time {
                let secs = r.ts_ns.div_euclid(1_000_000_000);
                let ns = r.ts_ns.rem_euclid(1_000_000_000);
                let of_day = secs.rem_euclid(86_400);
                assert_eq!(i64::from(h * 3600 + m * 60 + s), of_day, "{what}: time of day");
                let scale = 10i64.pow(9 - frac.len() as u32);
                assert_eq!(frac.parse::<i64>().unwrap(), ns / scale, "{what}: fraction");
                if let Some((y, mo, d)) = p.date {
                    assert_eq!(days_from_civil(y, mo, d), secs.div_euclid(86_400), "{what}: date");
                }
                times += 1;
            }
            if let (Some(((src, sport), (dst, dport))), Some(outer)) = (p.pair, &r.outer) {
                assert_eq!((src, dst), (outer.src, outer.dst), "{what}: addresses");
                if let (Some(sport), Some(dport), Some(ports)) = (sport, dport, outer.ports) {
                    assert_eq!((sport, dport), ports, "{what}: ports");
                }
                pairs += 1;
            }
        }
    }
    // The oracles hold 100-odd packets; most print a time and an address pair.
    eprintln!("{times} times and {pairs} address pairs checked");
    assert!(times >= 80 && pairs >= 40, "{times} times, {pairs} pairs: the parser lost the oracles");
}

#[test]
fn the_parser_reads_tcpdump_lines() {
    let text = "    1  2015-02-01 22:04:33.817203 IP (tos 0x0, ttl 64, length 142)\n    \
                20.0.0.1.12618 > 20.0.0.2.6081: [no cksum] Geneve\n\
                \tIP 30.0.0.1 > 30.0.0.2: ICMP echo request\n   \
                2  17:16:10.1000000000 (invalid ns) IP6 2001:db8::1.12345 > 2620:fe::9.53: A?\n";
    let p = parse(text);
    assert_eq!(p.len(), 2);
    assert_eq!(p[0].date, Some((2015, 2, 1)));
    assert_eq!(p[0].time, Some((22, 4, 33, "817203".to_owned())));
    let (src, dst) = p[0].pair.unwrap();
    assert_eq!((src, dst), (("20.0.0.1".parse().unwrap(), Some(12618)), ("20.0.0.2".parse().unwrap(), Some(6081))));
    assert_eq!(p[1].time, None);
    assert_eq!(p[1].pair.unwrap().1, ("2620:fe::9".parse().unwrap(), Some(53)));
    assert_eq!(days_from_civil(1970, 1, 1), 0);
    assert_eq!(days_from_civil(2000, 3, 1), 11_017);
}
