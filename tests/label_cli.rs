//! `flowmine label` and `flowmine slice` end to end on the fixtures of `testdata/label/`.
//! Expectations come from each fixture's `truth.csv` (the app's 5-tuples, packet counts by
//! tshark); the filtered capture is read back with `pcap-parser`, not with flowmine.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use flowmine::core::FlowBatch;
use flowmine::core::capture::input::{InputFile, InputSet};
use flowmine::core::scan::{ScanOptions, scan_to_batch};
use flowmine::store::read_flows;
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{LegacyPcapReader, PcapBlockOwned, PcapError};
use polars::prelude::*;

fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata").join(rel)
}

fn flowmine<S: AsRef<OsStr>>(args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flowmine")).args(args).output().expect("flowmine runs")
}

/// (protocol, phone address, phone port, remote address, remote port) as text.
type Tuple = (u8, String, u16, String, u16);

fn truth(name: &str) -> (BTreeSet<Tuple>, usize) {
    truth_file(&format!("label/{name}/truth.csv"))
}

fn truth_file(rel: &str) -> (BTreeSet<Tuple>, usize) {
    let text = std::fs::read_to_string(testdata(rel)).unwrap();
    let mut tuples = BTreeSet::new();
    let mut packets = 0;
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        tuples.insert((
            f[0].parse().unwrap(),
            f[1].to_owned(),
            f[2].parse().unwrap(),
            f[3].to_owned(),
            f[4].parse().unwrap(),
        ));
        packets += f[5].parse::<usize>().unwrap();
    }
    (tuples, packets)
}

/// (link type, records) of a pcap file, read by pcap-parser.
fn pcap_records(path: &Path) -> (u32, usize) {
    let file = std::fs::File::open(path).unwrap();
    let mut reader = LegacyPcapReader::new(65536, file).expect("a pcap file");
    let (mut link_type, mut records) = (u32::MAX, 0);
    loop {
        match reader.next() {
            Ok((offset, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(h) => link_type = h.network.0 as u32,
                    PcapBlockOwned::Legacy(_) => records += 1,
                    PcapBlockOwned::NG(_) => panic!("not a legacy pcap"),
                }
                reader.consume(offset);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => reader.refill().unwrap(),
            Err(e) => panic!("pcap-parser: {e:?}"),
        }
    }
    (link_type, records)
}

fn strings(df: &DataFrame, col: &str) -> Vec<Option<String>> {
    df.column(col).unwrap().str().unwrap().iter().map(|s| s.map(str::to_owned)).collect()
}

/// Every row as a tuple, the phone's side first (as given when the phone is in it).
fn row_tuples(df: &DataFrame, phone: &str) -> Vec<Tuple> {
    let (src, dst) = (strings(df, "src_ip"), strings(df, "dst_ip"));
    let sport: Vec<u16> = df.column("src_port").unwrap().u16().unwrap().into_no_null_iter().collect();
    let dport: Vec<u16> = df.column("dst_port").unwrap().u16().unwrap().into_no_null_iter().collect();
    let proto: Vec<u8> = df.column("protocol").unwrap().u8().unwrap().into_no_null_iter().collect();
    (0..df.height())
        .map(|i| {
            let (s, d) = (src[i].clone().unwrap(), dst[i].clone().unwrap());
            if s == phone { (proto[i], s, sport[i], d, dport[i]) } else { (proto[i], d, dport[i], s, sport[i]) }
        })
        .collect()
}

/// The store's rows labelled `app`, and all rows of the phone, as tuples.
fn labelled_tuples(df: &DataFrame, app: &str, phone: &str) -> (Vec<Tuple>, Vec<Tuple>) {
    let label = strings(df, "label");
    let rows = row_tuples(df, phone);
    let labelled = rows.iter().zip(&label).filter(|(_, l)| l.as_deref() == Some(app)).map(|(t, _)| t.clone()).collect();
    let phone_rows = rows.into_iter().filter(|t| t.1 == phone).collect();
    (labelled, phone_rows)
}

fn assert_store_matches_truth(store: &Path, name: &str, app: &str, phone: &str) -> DataFrame {
    let df = read_flows(store).unwrap();
    let (tuples, _) = truth(name);
    let (labelled, phone_rows) = labelled_tuples(&df, app, phone);
    let labelled_set: BTreeSet<Tuple> = labelled.iter().cloned().collect();
    assert_eq!(labelled_set, tuples, "{name}: labels against the truth");
    for t in &phone_rows {
        assert_eq!(
            labelled_set.contains(t),
            tuples.contains(t),
            "{name}: every flow of a truth tuple is labelled, no other"
        );
    }
    df
}

#[test]
fn session_manifest_form_labels_signal_and_writes_the_app_capture() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let pcap = dir.path().join("app.pcap");
    let out = flowmine(&[
        "label".as_ref(),
        testdata("label/signal/session.toml").as_os_str(),
        "--out".as_ref(),
        store.as_os_str(),
        "--filtered-pcap".as_ref(),
        pcap.as_os_str(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    // The broken lines of problems.csv, by line number.
    let listed = std::fs::read_to_string(testdata("label/signal/problems.csv")).unwrap();
    for (line, problem) in listed.lines().skip(1).map(|l| l.split_once(',').unwrap()) {
        let expected = format!("signal.strace:{line}: {problem} line ignored");
        assert!(stderr.contains(&expected), "{expected} in {stderr}");
    }
    assert_eq!(stderr.matches("line ignored").count(), listed.lines().count() - 1);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("offset +7.250300 s estimated (median of 10 pairs"), "{stdout}");
    let df = assert_store_matches_truth(&store, "signal", "org.thoughtcrime.securesms", "192.168.2.17");
    let types = strings(&df, "labeling_type");
    let label = strings(&df, "label");
    for (t, l) in types.iter().zip(&label) {
        assert_eq!(t.as_deref() == Some("exact"), l.is_some());
    }
    assert!(types.iter().any(|t| t.as_deref() == Some("background")));
    assert!(strings(&df, "device").iter().all(|d| d.as_deref() == Some("Samsung A51")));
    assert!(strings(&df, "session").iter().all(|d| d.as_deref() == Some("signal-a51-1")));
    let (link_type, records) = pcap_records(&pcap);
    assert_eq!((link_type, records), (1, truth("signal").1));
}

#[test]
fn flag_form_labels_telegram_from_per_thread_time_of_day_logs() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let pcap = dir.path().join("app.pcap");
    let logs: Vec<PathBuf> =
        [4001, 4017, 4018].iter().map(|t| testdata(&format!("label/telegram/telegram.strace.{t}"))).collect();
    let mut args: Vec<&OsStr> = vec!["label".as_ref(), "--capture".as_ref()];
    let capture = testdata("pcaps/messaging/telegram.pcap");
    args.push(capture.as_os_str());
    args.push("--strace".as_ref());
    args.extend(logs.iter().map(|p| p.as_os_str()));
    args.extend(
        [
            "--app",
            "org.telegram.messenger",
            "--device",
            "Xiaomi Poco X3",
            "--phone-ip",
            "192.168.1.77",
            "--clock-offset",
            "-3.5",
            "--strace-date",
            "2020-05-06",
            "--strace-utc-offset",
            "+02:00",
        ]
        .iter()
        .map(OsStr::new),
    );
    args.extend(["--out".as_ref(), store.as_os_str(), "--filtered-pcap".as_ref(), pcap.as_os_str()]);
    let out = flowmine(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    assert!(stderr.contains("telegram.strace.4018:2: unrecognised line ignored"), "{stderr}");
    let df = assert_store_matches_truth(&store, "telegram", "org.telegram.messenger", "192.168.1.77");
    assert!(strings(&df, "session").iter().all(Option::is_none));
    assert_eq!(pcap_records(&pcap), (1, truth("telegram").1));
}

#[test]
fn unmatched_flows_can_be_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let session = testdata("label/ipv6/session.toml");
    let sockets = dir.path().join("sockets.csv");
    let out = flowmine(&[
        "label".as_ref(),
        session.as_os_str(),
        "--out".as_ref(),
        store.as_os_str(),
        "--unmatched".as_ref(),
        "drop".as_ref(),
        "--sockets".as_ref(),
        sockets.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let df = assert_store_matches_truth(&store, "ipv6", "com.example.chat", "2001:db8:1::1");
    assert_eq!(df.height(), truth("ipv6").0.len());
    // The session column defaults to the manifest's file stem.
    assert!(strings(&df, "session").iter().all(|s| s.as_deref() == Some("session")));
    // The socket table, read off testdata/label/ipv6/app.strace by hand.
    let expected = [
        "protocol,inode,local_ip,local_port,remote_ip,remote_port,first_ts_ns,last_ts_ns,pids,syscalls,closed,flows",
        "udp,555100,,,,,1639052950000000000,1639052950000100000,6100,close=1;socket=1,true,0",
        "tcp,555001,2001:db8:1::1,44144,2001:db8:200::1,443,1639052957310318000,1639052957517992000,6100;6111,close=1;connect=1;getsockopt=1;socket=1,true,1",
        "tcp,555002,2001:db8:1::1,44150,2001:db8:200::1,443,1639052957535053000,1639052957733805000,6100;6111,close=1;connect=1;getsockopt=1;socket=1,true,1",
    ];
    assert_eq!(std::fs::read_to_string(&sockets).unwrap().lines().collect::<Vec<_>>(), expected);
}

#[test]
fn the_dns_rule_labels_the_answer_the_app_used() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let pcap = dir.path().join("app.pcap");
    let session = testdata("label/signal/session.toml");
    let out = flowmine(&[
        "label".as_ref(),
        session.as_os_str(),
        "--dns".as_ref(),
        "--out".as_ref(),
        store.as_os_str(),
        "--filtered-pcap".as_ref(),
        pcap.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let df = read_flows(&store).unwrap();
    let types = strings(&df, "labeling_type");
    let (labelled, _) = labelled_tuples(&df, "org.thoughtcrime.securesms", "192.168.2.17");
    let (exact, exact_packets) = truth("signal");
    let (dns, dns_packets) = truth_file("label/signal/dns_truth.csv");
    let dns_rows: BTreeSet<Tuple> = row_tuples(&df, "192.168.2.17")
        .into_iter()
        .zip(&types)
        .filter(|(_, t)| t.as_deref() == Some("dns"))
        .map(|(row, _)| row)
        .collect();
    assert_eq!(dns_rows, dns);
    assert_eq!(labelled.iter().cloned().collect::<BTreeSet<_>>(), exact.union(&dns).cloned().collect());
    assert_eq!(pcap_records(&pcap).1, exact_packets + dns_packets);
}

#[test]
fn bad_session_values_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let session = testdata("label/ipv6/session.toml");
    let out = flowmine(&[
        "label".as_ref(),
        session.as_os_str(),
        "--out".as_ref(),
        store.as_os_str(),
        "--clock-offset".as_ref(),
        "soon".as_ref(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("clock offset `soon`"));
    let manifest = dir.path().join("s.toml");
    std::fs::write(&manifest, "app = \"x\"\ncapture = []\nstrace = []\ncolour = \"blue\"\n").unwrap();
    let out = flowmine(&["label".as_ref(), manifest.as_os_str(), "--out".as_ref(), store.as_os_str()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("colour"));
    // A bad value in the file is named with the file.
    std::fs::write(&manifest, "app = \"x\"\ncapture = []\nstrace = []\nclock_offset = \"soon\"\n").unwrap();
    let out = flowmine(&["label".as_ref(), manifest.as_os_str(), "--out".as_ref(), store.as_os_str()]);
    assert_eq!(out.status.code(), Some(2));
    let said = format!("flowmine: error: {}: clock offset `soon`: seconds or `estimate`\n", manifest.display());
    assert_eq!(String::from_utf8_lossy(&out.stderr), said);
    assert!(!store.exists());
}

#[test]
fn a_log_with_no_readable_line_fails() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("junk.log");
    std::fs::write(&log, "not strace\nat all\n").unwrap();
    let capture = testdata("pcaps/messaging/threema.pcap");
    let store = dir.path().join("store");
    let out = flowmine(&[
        "label".as_ref(),
        "--capture".as_ref(),
        capture.as_os_str(),
        "--strace".as_ref(),
        log.as_os_str(),
        "--app".as_ref(),
        "x".as_ref(),
        "--out".as_ref(),
        store.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("junk.log:1: unrecognised"));
    assert!(!store.join("manifest.json").exists());
}

fn scan_all(path: &Path) -> FlowBatch {
    let inputs =
        InputSet { files: vec![InputFile { path: path.to_owned(), len: 0, first_ts_ns: None }], ..InputSet::default() };
    scan_to_batch(&inputs, &ScanOptions::default()).unwrap().0
}

/// Every flow with its per-packet entries, comparable: the VLAN (link layer, dropped by
/// slicing) and the input index are cleared, the rows sorted.
fn flow_rows(b: &FlowBatch) -> Vec<flowmine::core::flow::FlowRow> {
    let mut rows = b.rows();
    for r in &mut rows {
        r.vlan = 0;
        r.input_index = 0;
    }
    rows.sort();
    rows
}

#[test]
fn slicing_keeps_every_flow_statistic() {
    let dir = tempfile::tempdir().unwrap();
    for rel in [
        "pcaps/messaging/signal.pcap",
        "pcaps/messaging/telegram.pcap",
        "pcaps/messaging/lru_ipv6_caches.pcapng",
        "pcaps/edge/gre.pcapng",
        "pcaps/edge/geneve.pcap",
        "pcaps/edge/4in6tunnel.pcap",
        "pcaps/edge/dns_fragmented.pcap",
        "pcaps/edge/ipv6_ext_headers.pcap",
        "pcaps/edge/linux_dlt_sll2.pcap",
        "pcaps/edge/pppoe.pcap",
        "pcaps/edge/http-vlan-0.pcap",
        "pcaps/edge/mixed-vlan-mpls.pcap",
        "pcaps/edge/fragmented-1.pcap",
        "pcaps/edge/pcapng-multi-interface.pcapng",
        "pcaps/edge/pptp.pcap",
    ] {
        let original = testdata(rel);
        let sliced = dir.path().join("sliced.pcap");
        let out = flowmine(&[
            "slice".as_ref(),
            original.as_os_str(),
            "--out".as_ref(),
            sliced.as_os_str(),
            "--overwrite".as_ref(),
        ]);
        assert_eq!(out.status.code(), Some(0), "{rel}: {}", String::from_utf8_lossy(&out.stderr));
        let (link_type, _) = pcap_records(&sliced);
        assert_eq!(link_type, 101, "{rel}: link type RAW");
        let (before, after) = (flow_rows(&scan_all(&original)), flow_rows(&scan_all(&sliced)));
        assert!(!before.is_empty(), "{rel}");
        assert_eq!(before, after, "{rel}: flows of the slice");
        let (orig_size, sliced_size) =
            (std::fs::metadata(&original).unwrap().len(), std::fs::metadata(&sliced).unwrap().len());
        assert!(sliced_size < orig_size, "{rel}: the slice is smaller");
    }
}

#[test]
fn a_super_packet_cannot_be_sliced_and_is_reported() {
    // A TSO packet's IP length is 0 and comes from the frame's length, which slicing
    // changes: it is left out, named in a warning, and the exit status says so.
    let dir = tempfile::tempdir().unwrap();
    let sliced = dir.path().join("sliced.pcap");
    let original = testdata("pcaps/edge/ipv4_tcp_http_xml_tso.pcap");
    let out = flowmine(&["slice".as_ref(), original.as_os_str(), "--out".as_ref(), sliced.as_os_str()]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 IP packets could not be cut"));
    assert_eq!(pcap_records(&sliced), (101, 0));
}
