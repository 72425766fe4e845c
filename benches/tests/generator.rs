//! gen-campus end to end: the capture it writes, read by flowmine's own scan with every
//! flow-ending rule off, must give exactly the flows of its ground truth.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::Command;

use flowmine_core::capture::input::{InputFile, InputSet};
use flowmine_core::capture::pcap::PcapInfo;
use flowmine_core::capture::{Event, Reader};
use flowmine_core::scan::{ScanOptions, ScanReport, scan_to_batch};
use flowmine_core::{FlowBatch, FlowConfig};

const TRUTH_HEADER: &str = "ip_version,protocol,src_ip,dst_ip,src_port,dst_port,vlan,first_ts_ns,last_ts_ns,\
fwd_packets,bwd_packets,fwd_bytes,bwd_bytes,fwd_wire_bytes,bwd_wire_bytes";

/// Runs gen-campus with `args`; returns its summary line.
fn generate(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_gen-campus")).args(args).output().expect("gen-campus runs");
    assert!(output.status.success(), "gen-campus {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("utf-8 summary")
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// Scans `inputs` in order with `config`, collecting every flow.
fn scan_inputs(inputs: &InputSet, config: FlowConfig) -> (FlowBatch, ScanReport) {
    let options = ScanOptions { flow: config, ..ScanOptions::default() };
    scan_to_batch(inputs, &options).expect("generated capture scans")
}

/// Scans one file with every flow-ending rule off, on `threads` threads, in pieces of
/// `piece_bytes` when there are several.
fn scan_file(path: &Path, threads: usize, piece_bytes: usize) -> (FlowBatch, ScanReport) {
    let len = std::fs::metadata(path).expect("capture exists").len();
    let inputs =
        InputSet { files: vec![InputFile { path: path.to_owned(), len, first_ts_ns: None }], ..Default::default() };
    let options = ScanOptions { flow: FlowConfig::unbounded(), threads, piece_bytes, ..ScanOptions::default() };
    scan_to_batch(&inputs, &options).expect("generated capture scans")
}

fn ip_text(addr: &[u8; 16], version: u8) -> String {
    match version {
        4 => Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]).to_string(),
        _ => Ipv6Addr::from(*addr).to_string(),
    }
}

/// flowmine's flows as ground-truth CSV rows, sorted.
fn flow_rows(b: &FlowBatch) -> Vec<String> {
    let mut rows: Vec<String> = (0..b.len())
        .map(|i| {
            format!(
                "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                b.ip_version[i],
                b.protocol[i],
                ip_text(&b.src_addr[i], b.ip_version[i]),
                ip_text(&b.dst_addr[i], b.ip_version[i]),
                b.src_port[i],
                b.dst_port[i],
                b.vlan[i],
                b.first_ts_ns[i],
                b.last_ts_ns[i],
                b.fwd_packets[i],
                b.bwd_packets[i],
                b.fwd_bytes[i],
                b.bwd_bytes[i],
                b.fwd_wire_bytes[i],
                b.bwd_wire_bytes[i]
            )
        })
        .collect();
    rows.sort_unstable();
    rows
}

/// The ground truth's rows, sorted (the header is checked and dropped).
fn truth_rows(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("truth written");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(TRUTH_HEADER), "truth header");
    let mut rows: Vec<String> = lines.map(str::to_owned).collect();
    rows.sort_unstable();
    rows
}

/// Asserts that flowmine's flows are exactly the truth's rows, showing the first difference.
fn assert_flows_match(flows: &FlowBatch, truth: &Path) {
    let got = flow_rows(flows);
    let want = truth_rows(truth);
    if let Some(i) = (0..got.len().min(want.len())).find(|&i| got[i] != want[i]) {
        panic!("first difference at sorted row {i}:\n  flowmine: {}\n  truth:    {}", got[i], want[i]);
    }
    assert_eq!(got.len(), want.len(), "flow counts differ (flowmine vs truth)");
}

/// Generates `packets` packets and checks flowmine's scan against the truth.
fn check_against_truth(packets: u64, seed: u64) {
    let dir = tempfile::tempdir().expect("temp dir");
    let pcap = dir.path().join("campus.pcap");
    let truth = dir.path().join("truth.csv");
    let count = packets.to_string();
    let seed = seed.to_string();
    generate(&["--packets", &count, "--seed", &seed, "--out", path_str(&pcap), "--truth", path_str(&truth)]);
    // One thread; and two, the file read in pieces (small ones, so small captures have
    // several too).
    let piece_bytes = (std::fs::metadata(&pcap).expect("capture written").len() / 7).max(4096) as usize;
    for (threads, piece_bytes) in [(1, usize::MAX), (2, piece_bytes)] {
        let (flows, report) = scan_file(&pcap, threads, piece_bytes);
        assert_eq!(report.packets_total, packets, "every generated packet is read");
        assert_eq!(report.skipped.total(), 0, "no packet skipped: {:?}", report.skipped);
        assert_eq!(report.packets_in_flows, packets);
        assert_flows_match(&flows, &truth);
    }
}

#[test]
fn scan_matches_ground_truth() {
    check_against_truth(20_000, 7);
}

#[test]
fn scan_matches_ground_truth_other_seed() {
    check_against_truth(50_000, 12_345);
}

/// The 2 M-packet check of the milestone; `FLOWMINE_GEN_PACKETS` picks another size.
/// Run with `cargo test --release -p flowmine-benches --test generator -- --ignored`.
#[test]
#[ignore = "large: a few seconds in release, minutes in debug"]
fn large_capture_matches_ground_truth() {
    let packets = std::env::var("FLOWMINE_GEN_PACKETS").map_or(2_000_000, |v| v.parse().expect("a packet count"));
    check_against_truth(packets, 1);
}

/// (ts_ns, orig_len, captured bytes) of every record of `path`, and the file's header.
fn records(path: &Path) -> (PcapInfo, Vec<(i64, u32, Vec<u8>)>) {
    let bytes = std::fs::read(path).expect("capture written");
    let info = PcapInfo::parse(&bytes).expect("classic pcap header");
    let mut reader = Reader::new(&bytes).expect("capture reads");
    let mut out = Vec::new();
    while let Some(event) = reader.next_event() {
        match event.expect("undamaged capture") {
            Event::Packet(r) => out.push((r.ts_ns, r.orig_len, r.data.to_vec())),
            Event::Skipped { reason, offset } => panic!("record at {offset} skipped: {reason:?}"),
        }
    }
    (info, out)
}

#[test]
fn capture_is_header_only_time_ordered_and_deterministic() {
    let dir = tempfile::tempdir().expect("temp dir");
    let one = dir.path().join("one.pcap");
    let again = dir.path().join("again.pcap");
    let other = dir.path().join("other.pcap");
    generate(&["--packets", "20000", "--seed", "3", "--out", path_str(&one)]);
    generate(&["--packets", "20000", "--seed", "3", "--out", path_str(&again)]);
    generate(&["--packets", "20000", "--seed", "4", "--out", path_str(&other)]);
    let bytes = std::fs::read(&one).expect("written");
    assert_eq!(bytes, std::fs::read(&again).expect("written"), "same seed, same bytes");
    assert_ne!(bytes, std::fs::read(&other).expect("written"), "another seed, another capture");
    // Little-endian microsecond magic, version 2.4, snaplen 128, Ethernet.
    assert_eq!(&bytes[..8], &[0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0]);

    let (info, recs) = records(&one);
    assert_eq!((info.snaplen, info.link_type), (128, 1));
    assert_eq!(recs.len(), 20_000);
    assert!(recs.windows(2).all(|w| w[0].0 <= w[1].0), "timestamps never go backwards");
    assert!(recs.iter().all(|r| r.0 % 1000 == 0), "microsecond timestamps");
    let mut tagged = 0;
    let mut ipv6 = 0;
    for (_, orig_len, data) in &recs {
        assert!(data.len() <= 128 && data.len() as u32 <= *orig_len, "header-only records");
        let mut ethertype = u16::from_be_bytes([data[12], data[13]]);
        let mut l3 = 14;
        if ethertype == 0x8100 {
            tagged += 1;
            ethertype = u16::from_be_bytes([data[16], data[17]]);
            l3 = 18;
        }
        // The IP length field is the true size; the frame is that plus layer 2 (padded to 60).
        let ip_len = match ethertype {
            0x0800 => u32::from(u16::from_be_bytes([data[l3 + 2], data[l3 + 3]])),
            0x86dd => {
                ipv6 += 1;
                40 + u32::from(u16::from_be_bytes([data[l3 + 4], data[l3 + 5]]))
            }
            other => panic!("ethertype {other:#06x}"),
        };
        assert_eq!(*orig_len, (l3 as u32 + ip_len).max(60));
    }
    // A few of each: tags and IPv6 are per flow (15 % and 20 % of flows).
    assert!(tagged > 1_000 && ipv6 > 1_000, "tagged {tagged}, ipv6 {ipv6}");
}

#[test]
fn split_files_hold_the_same_packet_sequence() {
    let dir = tempfile::tempdir().expect("temp dir");
    let single = dir.path().join("single.pcap");
    let single_truth = dir.path().join("single.csv");
    let parts_dir = dir.path().join("parts");
    let parts_truth = dir.path().join("parts.csv");
    generate(&["--packets", "30000", "--seed", "9", "--out", path_str(&single), "--truth", path_str(&single_truth)]);
    generate(&[
        "--packets",
        "30000",
        "--seed",
        "9",
        "--split-files",
        "4",
        "--out-dir",
        path_str(&parts_dir),
        "--truth",
        path_str(&parts_truth),
    ]);
    assert_eq!(std::fs::read(&single_truth).unwrap(), std::fs::read(&parts_truth).unwrap(), "same truth");

    let names: Vec<PathBuf> = (0..4).map(|i| parts_dir.join(format!("part-{i:03}.pcap"))).collect();
    let mut joined = Vec::new();
    for name in &names {
        let (_, recs) = records(name);
        assert_eq!(recs.len(), 7_500, "{} holds a quarter", name.display());
        joined.extend(recs);
    }
    assert_eq!(joined, records(&single).1, "the parts are the single file cut in four");

    // flowmine given the directory orders the parts itself and joins flows across them.
    let inputs = flowmine_core::collect_inputs(&[parts_dir]).expect("parts readable");
    assert_eq!(inputs.files.iter().map(|f| f.path.clone()).collect::<Vec<_>>(), names);
    let (flows, report) = scan_inputs(&inputs, FlowConfig::unbounded());
    assert_eq!((report.packets_total, report.skipped.total()), (30_000, 0));
    assert_flows_match(&flows, &parts_truth);
}
