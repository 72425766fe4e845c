//! Labelling on the session fixtures of `testdata/label/` (see `make_fixtures.py` there):
//! real captures, strace logs written in the variants strace produces, with decoy sockets,
//! reused fds, a clock offset of several seconds and IPv6. Each fixture's `truth.csv` lists
//! the app's 5-tuples and their packet counts (counted by tshark); the labels must match it
//! exactly (precision and recall 1.0).

mod common;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use flowmine_core::FlowConfig;
use flowmine_core::capture::input::{InputFile, InputSet};
use flowmine_core::capture::{Event, Reader};
use flowmine_core::label::clock::estimate_offset;
use flowmine_core::label::filter::write_kept_packets;
use flowmine_core::label::matcher::flow_addr;
use flowmine_core::label::strace::{parse_date, pid_from_file_name};
use flowmine_core::label::{Clock, MatchConfig, SocketTable, StraceLog, match_flows};

/// (protocol, phone address, phone port, remote address, remote port).
type Tuple = (u8, IpAddr, u16, IpAddr, u16);

struct Truth {
    tuples: BTreeSet<Tuple>,
    packets: u64,
}

fn fixture(name: &str) -> PathBuf {
    common::testdata().join("label").join(name)
}

fn truth(name: &str) -> Truth {
    let text = std::fs::read_to_string(fixture(name).join("truth.csv")).unwrap();
    let mut t = Truth { tuples: BTreeSet::new(), packets: 0 };
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        t.tuples.insert((
            f[0].parse().unwrap(),
            f[1].parse().unwrap(),
            f[2].parse().unwrap(),
            f[3].parse().unwrap(),
            f[4].parse().unwrap(),
        ));
        t.packets += f[5].parse::<u64>().unwrap();
    }
    t
}

fn read_logs(name: &str, files: &[&str], clock: Clock) -> StraceLog {
    let mut log = StraceLog::default();
    for (i, f) in files.iter().enumerate() {
        let text = std::fs::read_to_string(fixture(name).join(f)).unwrap();
        log.add_file(&text, i, pid_from_file_name(f), clock);
    }
    log
}

struct Outcome {
    /// Labelled flows as (protocol, phone endpoint, remote endpoint), phone side first.
    labelled: Vec<Tuple>,
    /// Every flow touching the phone's address, the same way.
    all: Vec<Tuple>,
    packets_written: u64,
    packets_without_flow: u64,
    written: Vec<u8>,
}

fn run(capture: &Path, log: &StraceLog, config: &MatchConfig) -> (Outcome, SocketTable) {
    let (flows, _) = common::scan_file(capture, FlowConfig::default());
    let table = SocketTable::from_calls(&log.calls);
    let matched = match_flows(&flows, &table, config);
    let phone = config.phone_addrs[0];
    let tuple = |row: usize| -> Tuple {
        let v = flows.ip_version[row];
        let a = (flow_addr(v, &flows.src_addr[row]), flows.src_port[row]);
        let b = (flow_addr(v, &flows.dst_addr[row]), flows.dst_port[row]);
        let (p, r) = if a.0 == phone { (a, b) } else { (b, a) };
        (flows.protocol[row], p.0, p.1, r.0, r.1)
    };
    let all: Vec<Tuple> = (0..flows.len()).filter(|&r| tuple(r).1 == phone).map(tuple).collect();
    let labelled: Vec<Tuple> = (0..flows.len()).filter(|&r| matched[r].is_some()).map(tuple).collect();
    let inputs = InputSet {
        files: vec![InputFile { path: capture.to_owned(), len: 0, first_ts_ns: None }],
        ..Default::default()
    };
    let keep: Vec<bool> = matched.iter().map(Option::is_some).collect();
    let mut written = Vec::new();
    let report = write_kept_packets(&inputs, &flows, &keep, &mut written).unwrap();
    (
        Outcome {
            labelled,
            all,
            packets_written: report.packets_written,
            packets_without_flow: report.packets_without_flow,
            written,
        },
        table,
    )
}

/// Precision and recall 1.0: every labelled flow is in the truth, every truth tuple has a
/// labelled flow, and no flow of a truth tuple is left unlabelled.
fn assert_exact(name: &str, out: &Outcome, truth: &Truth) {
    let true_pos = out.labelled.iter().filter(|t| truth.tuples.contains(t)).count();
    let truth_flows = out.all.iter().filter(|t| truth.tuples.contains(t)).count();
    let precision = true_pos as f64 / out.labelled.len() as f64;
    let recall = true_pos as f64 / truth_flows as f64;
    assert_eq!((precision, recall), (1.0, 1.0), "{name}: precision and recall over flows");
    for t in &out.labelled {
        assert!(truth.tuples.contains(t), "{name}: false positive {t:?}");
    }
    let labelled: BTreeSet<Tuple> = out.labelled.iter().copied().collect();
    assert_eq!(labelled, truth.tuples, "{name}: labelled tuples differ from the truth");
    for t in &out.all {
        assert_eq!(labelled.contains(t), truth.tuples.contains(t), "{name}: {t:?}");
    }
    assert!(out.all.len() > out.labelled.len(), "{name}: the fixture must hold decoy flows of the phone");
    assert_eq!(out.packets_without_flow, 0, "{name}: the filter pass must see the scan's packets");
    assert_eq!(out.packets_written, truth.packets, "{name}: packets in the filtered capture");
}

fn phone(ip: &str) -> Vec<IpAddr> {
    vec![ip.parse().unwrap()]
}

#[test]
fn signal_session_with_estimated_offset() {
    let log = read_logs("signal", &["signal.strace"], Clock::Epoch);
    let problems: Vec<(usize, &str)> = log.problems.iter().map(|p| (p.line, p.problem.name())).collect();
    let listed = std::fs::read_to_string(fixture("signal").join("problems.csv")).unwrap();
    let listed: Vec<(usize, &str)> =
        listed.lines().skip(1).map(|l| l.split_once(',').map(|(n, p)| (n.parse().unwrap(), p)).unwrap()).collect();
    assert_eq!(problems, listed);
    assert_eq!(listed.len(), 3);
    let capture = common::capture("messaging", "signal.pcap");
    let (flows, _) = common::scan_file(&capture, FlowConfig::default());
    let table = SocketTable::from_calls(&log.calls);
    let mut config = MatchConfig { offset_ns: 0, tolerance_ns: 2_000_000_000, phone_addrs: phone("192.168.2.17") };
    let estimate = estimate_offset(&flows, &table, &config).expect("connect/SYN pairs");
    // Each connect entry was written 7.25 s + 300 µs before its SYN.
    assert_eq!((estimate.offset_ns, estimate.pairs), (7_250_300_000, 10));
    config.offset_ns = estimate.offset_ns;
    let (out, table) = run(&capture, &log, &config);
    assert_exact("signal", &out, &truth("signal"));
    // Ten app sockets, the UDP socket on 60793, the failed connect (no local port), and
    // nothing for the AF_UNIX, netlink and file descriptors.
    assert_eq!(table.sockets.len(), 12, "{:#?}", table.sockets);
    assert_eq!(table.unresolved, 1);
    assert_eq!(
        table.unix_paths.keys().map(String::as_str).collect::<Vec<_>>(),
        ["/dev/socket/dnsproxyd", "/dev/socket/fwmarkd"]
    );
}

#[test]
fn signal_without_the_offset_misses_flows() {
    // The offset matters: with none (and a tolerance below it) the short flows fall outside
    // their sockets' lifetimes. This is what makes the test above able to fail.
    let log = read_logs("signal", &["signal.strace"], Clock::Epoch);
    let config = MatchConfig { offset_ns: 0, tolerance_ns: 1_000_000_000, phone_addrs: phone("192.168.2.17") };
    let (out, _) = run(&common::capture("messaging", "signal.pcap"), &log, &config);
    assert!(out.labelled.len() < truth("signal").tuples.len());
}

#[test]
fn telegram_session_per_thread_files_time_of_day_udp() {
    let files = ["telegram.strace.4001", "telegram.strace.4017", "telegram.strace.4018"];
    let clock = Clock::TimeOfDay { date_days: parse_date("2020-05-06").unwrap(), utc_offset_s: 7200 };
    let log = read_logs("telegram", &files, clock);
    let problems: Vec<(usize, usize)> = log.problems.iter().map(|p| (p.file, p.line)).collect();
    assert_eq!(problems, [(2, 2)]);
    assert!(log.calls.iter().all(|c| c.pid == Some([4001, 4017, 4018][c.file])));
    let config =
        MatchConfig { offset_ns: -3_500_000_000, tolerance_ns: 2_000_000_000, phone_addrs: phone("192.168.1.77") };
    let capture = common::capture("messaging", "telegram.pcap");
    // The sendto/datagram pairs: each of the 12 first sends was written 400 µs before its
    // datagram, the connect to the LAN peer 2 ms before; the median is the former.
    let (flows, _) = common::scan_file(&capture, FlowConfig::default());
    let estimate = estimate_offset(&flows, &SocketTable::from_calls(&log.calls), &config).unwrap();
    assert_eq!(estimate.pairs, 13);
    assert!((estimate.offset_ns - -3_499_600_000).abs() <= 1_000, "{estimate:?}");
    let (out, table) = run(&capture, &log, &config);
    assert_exact("telegram", &out, &truth("telegram"));
    // fd 91 held two sockets one after the other.
    assert_eq!(table.sockets.len(), 2);
    assert_eq!(table.sockets.iter().map(|s| s.local.unwrap().port).collect::<Vec<_>>(), [23174, 28150]);
}

#[test]
fn ipv6_session_bracketed_and_old_decorations() {
    let log = read_logs("ipv6", &["app.strace"], Clock::Epoch);
    assert!(log.problems.is_empty());
    let config =
        MatchConfig { offset_ns: 12_000_000_000, tolerance_ns: 2_000_000_000, phone_addrs: phone("2001:db8:1::1") };
    let capture = common::capture("messaging", "lru_ipv6_caches.pcapng");
    let (out, _) = run(&capture, &log, &config);
    assert_exact("ipv6", &out, &truth("ipv6"));
    // The filtered capture reads back: 6 records, all of the phone's two connections.
    let mut reader = Reader::new(&out.written).unwrap();
    let mut n = 0;
    while let Some(Ok(Event::Packet(rec))) = reader.next_event() {
        assert_eq!(rec.link_type, 1);
        n += 1;
    }
    assert_eq!(n, 6);
}
