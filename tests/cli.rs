//! The `flowmine` binary end to end: stores, manifests, exit codes, error lines.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use flowmine::store::{Manifest, read_flows};
use polars::prelude::*;

fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata").join(rel)
}

fn flowmine(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flowmine")).args(args).output().expect("flowmine runs")
}

fn flows(inputs: &[PathBuf], out: &Path, extra: &[&str]) -> Output {
    let mut args: Vec<&std::ffi::OsStr> = vec!["flows".as_ref()];
    args.extend(inputs.iter().map(|p| p.as_os_str()));
    args.extend(["--out".as_ref(), out.as_os_str()]);
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    flowmine(&args)
}

fn manifest(store: &Path) -> Manifest {
    serde_json::from_slice(&std::fs::read(store.join("manifest.json")).expect("manifest written"))
        .expect("manifest parses")
}

/// Offset of record `n` (from 0) of a little-endian classic pcap with 16-byte record headers.
fn record_offset(pcap: &[u8], n: usize) -> usize {
    (0..n).fold(24, |offset, _| {
        offset + 16 + u32::from_le_bytes(pcap[offset + 8..offset + 12].try_into().unwrap()) as usize
    })
}

fn u64_sum(df: &DataFrame, col: &str) -> u64 {
    df.column(col).unwrap().as_materialized_series().sum::<u64>().unwrap()
}

#[test]
fn builds_a_store_with_the_documented_schema() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let out = flows(&[testdata("pcaps/messaging/threema.pcap")], &store, &["--label", "threema"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("83 total = 83 in flows + 0 skipped"), "{stdout}");
    assert!(stdout.contains(&store.display().to_string()), "summary names the store: {stdout}");

    let m = manifest(&store);
    assert_eq!((m.packets_total, m.packets_in_flows, m.flows), (83, 83, 6));
    assert_eq!(m.skipped.values().sum::<u64>(), 0);
    assert_eq!(m.inputs.len(), 1);
    assert_eq!(m.inputs[0].format.as_deref(), Some("pcap"));
    assert_eq!(m.parameters.label.as_deref(), Some("threema"));

    let df = read_flows(&store).unwrap();
    for name in [
        "ip_version",
        "protocol",
        "src_ip",
        "dst_ip",
        "src_port",
        "dst_port",
        "vlan",
        "first_ts_ns",
        "last_ts_ns",
        "fwd_packets",
        "bwd_packets",
        "fwd_bytes",
        "bwd_bytes",
        "fwd_wire_bytes",
        "bwd_wire_bytes",
        "end_reason",
        "label",
        "pkt_ts_ns",
        "pkt_dir",
        "pkt_ip_len",
        "pkt_l4_payload_len",
        "pkt_tcp_flags",
        "pkt_tcp_window",
    ] {
        assert!(df.column(name).is_ok(), "column {name} missing");
    }
    assert_eq!(df.height(), 6);
    assert_eq!(u64_sum(&df, "fwd_packets") + u64_sum(&df, "bwd_packets"), 83);
    // nDPI's oracle for this capture: every flow is 192.168.2.100 → 185.88.236.110:5222.
    let dst_port = df.column("dst_port").unwrap().u16().unwrap();
    assert!(dst_port.iter().all(|p| p == Some(5222)));
    let src_ip = df.column("src_ip").unwrap().str().unwrap();
    assert!(src_ip.iter().all(|ip| ip == Some("192.168.2.100")));
    let label = df.column("label").unwrap().str().unwrap();
    assert!(label.iter().all(|l| l == Some("threema")));
    let dtype = df.column("pkt_ts_ns").unwrap().dtype().clone();
    assert_eq!(dtype, DataType::List(Box::new(DataType::Int64)));
}

#[test]
fn library_frame_equals_the_store() {
    let input = testdata("pcaps/messaging/whatsapp_voice_and_message.pcap");
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s");
    assert_eq!(flows(std::slice::from_ref(&input), &store, &[]).status.code(), Some(0));
    let job = flowmine::FlowsJob::new(vec![input], flowmine::core::ScanOptions::default());
    let (frame, report) = job.to_frame().unwrap();
    assert_eq!(report.packets_total, 261);
    let stored = read_flows(&store).unwrap();
    assert!(frame.equals_missing(&stored), "library frame and stored rows differ");
}

#[test]
fn packets_limit_trims_arrays_but_not_counters() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s");
    let input = testdata("pcaps/messaging/signal.pcap");
    assert_eq!(flows(&[input], &store, &["--packets", "3"]).status.code(), Some(0));
    let df = read_flows(&store).unwrap();
    let lens = df.column("pkt_ts_ns").unwrap().list().unwrap().lst_lengths();
    assert!(lens.iter().all(|n| n.unwrap() <= 3));
    assert_eq!(u64_sum(&df, "fwd_packets") + u64_sum(&df, "bwd_packets"), 637);
}

#[test]
fn directory_input_recurses_and_ignores_non_captures() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s");
    let out = flows(&[testdata("pcaps/messaging")], &store, &["--quiet"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.is_empty(), "--quiet prints nothing");
    let m = manifest(&store);
    assert_eq!(m.inputs.len(), 35, "35 captures in testdata/pcaps/messaging");
    assert!(m.ignored_inputs.iter().any(|p| p.ends_with("threema.pcap.ndpi.out")));
    // Files run in capture-time order.
    assert_eq!(m.packets_total, m.inputs.iter().map(|i| i.packets_total).sum::<u64>());
    assert_eq!(m.packets_total, m.packets_in_flows + m.skipped.values().sum::<u64>());
}

#[test]
fn existing_store_is_not_overwritten_silently() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s");
    let input = testdata("pcaps/messaging/threema.pcap");
    assert_eq!(flows(std::slice::from_ref(&input), &store, &[]).status.code(), Some(0));
    let again = flows(std::slice::from_ref(&input), &store, &[]);
    assert_eq!(again.status.code(), Some(1));
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("--overwrite") && err.contains(&store.display().to_string()), "{err}");
    // A run that fails on its inputs leaves the old store in place.
    let bad = flows(&[dir.path().join("missing.pcap")], &store, &["--overwrite"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(store.join("manifest.json").exists());
    assert_eq!(flows(&[input], &store, &["--overwrite"]).status.code(), Some(0));
}

#[test]
fn damaged_capture_keeps_complete_records_and_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let original = std::fs::read(testdata("pcaps/messaging/threema.pcap")).unwrap();
    // Cut inside the 11th record: records before it must still be in flows.
    let offset = record_offset(&original, 10);
    let cut = dir.path().join("cut capture.pcap");
    std::fs::write(&cut, &original[..offset + 20]).unwrap();
    let store = dir.path().join("s");
    let out = flows(std::slice::from_ref(&cut), &store, &[]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    let line = format!("{}: offset {offset}: record of", cut.display());
    assert!(err.lines().any(|l| l.contains(&line) && l.contains("runs past the end of the file")), "{err}");
    let m = manifest(&store);
    assert_eq!((m.packets_total, m.packets_in_flows, m.skipped["corrupt_record"]), (11, 10, 1));
    assert_eq!(m.inputs[0].damage.as_ref().unwrap().offset, offset as u64);
}

#[test]
fn bad_arguments_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = flows(&[testdata("pcaps/messaging/threema.pcap")], dir.path(), &["--idle-timeout", "soon"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("soon"));
    let missing = flows(&[dir.path().join("nope.pcap")], &dir.path().join("s"), &[]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("nope.pcap"));
}

#[test]
fn unsupported_link_type_is_named_and_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let input = testdata("pcaps/edge/nflog.pcap");
    let out = flows(std::slice::from_ref(&input), &dir.path().join("s"), &[]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    // tcpdump's oracle for this file: 4 NFLOG (link type 239) records, the first at offset 24.
    let line = format!("{}: offset 24: link type 239 is not supported (4 packets skipped)", input.display());
    assert!(err.lines().any(|l| l.ends_with(&line)), "{err}");
}

#[test]
fn damaged_records_are_named_and_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    // Its packets carry timestamps beyond 2262 (a writer put seconds in the high word).
    let input = testdata("pcaps/edge/dhcp_little_endian.pcapng");
    let out = flows(std::slice::from_ref(&input), &dir.path().join("s"), &[]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    let line = format!("{}: offset 84: 4 damaged records skipped (bad_timestamp)", input.display());
    assert!(err.lines().any(|l| l.ends_with(&line)), "{err}");
}

/// Every edge capture: no crash; either a clean run whose manifest accounts for every
/// packet, or exit 3 with only one-line errors that name the file and an offset.
#[test]
fn every_edge_capture_gives_flows_or_named_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut clean = 0;
    let mut reported = 0;
    let mut edge: Vec<PathBuf> = std::fs::read_dir(testdata("pcaps/edge"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .collect();
    edge.sort();
    for (i, input) in edge.iter().enumerate() {
        let store = dir.path().join(format!("s{i}"));
        let out = flows(std::slice::from_ref(input), &store, &["--quiet"]);
        let err = String::from_utf8_lossy(&out.stderr);
        match out.status.code() {
            Some(0) => {
                assert!(err.is_empty(), "{}: {err}", input.display());
                clean += 1;
            }
            Some(3) => {
                let prefix = format!("flowmine: error: {}: offset ", input.display());
                assert!(!err.is_empty());
                assert!(err.lines().all(|l| l.starts_with(&prefix)), "{}: {err}", input.display());
                reported += 1;
            }
            other => panic!("{}: exit {other:?}: {err}", input.display()),
        }
        let m = manifest(&store);
        assert_eq!(m.packets_total, m.packets_in_flows + m.skipped.values().sum::<u64>(), "{}", input.display());
    }
    // 51 clean; 11 reported: 6 cut or corrupt files, 1 unsupported link type (NFLOG),
    // 2 with impossible timestamps, 1 packet before any interface, 1 with a bad block length.
    assert_eq!((clean, reported), (51, 11));
}

#[test]
fn strict_mode_makes_damage_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let input = testdata("pcaps/edge/dhcp_little_endian.pcapng");
    let store = dir.path().join("s");
    let out = flows(std::slice::from_ref(&input), &store, &["--strict"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}: offset 84: 4 damaged records skipped (bad_timestamp)", input.display())),
        "{err}"
    );
    assert!(!store.join("manifest.json").exists(), "a strict failure leaves no complete store");
    // The same input without --strict completes with status 3.
    assert_eq!(flows(&[input], &store, &["--overwrite"]).status.code(), Some(3));
}

#[test]
fn stores_are_byte_identical_for_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = [testdata("pcaps/messaging"), testdata("pcaps/genres")];
    let parts = |threads: &str| {
        let store = dir.path().join(format!("t{threads}"));
        let out = flows(&inputs, &store, &["--threads", threads, "--quiet"]);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        part_files(&store)
    };
    let one = parts("1");
    assert!(!one.is_empty());
    assert!(one == parts("2"), "--threads 2 wrote different part files");
    assert!(one == parts("3"), "--threads 3 wrote different part files");
}

/// The parquet part files of a store, by name.
fn part_files(store: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(store)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect();
    files.sort();
    files
}

#[test]
fn pcapng_stores_are_byte_identical_when_read_in_small_pieces() {
    let dir = tempfile::tempdir().unwrap();
    let pcapngs: Vec<PathBuf> = flowmine::core::collect_inputs(&[testdata("pcaps")])
        .unwrap()
        .files
        .into_iter()
        .map(|f| f.path)
        .filter(|p| std::fs::read(p).unwrap().starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]))
        .collect();
    assert!(pcapngs.len() >= 20, "{} pcapng files", pcapngs.len());
    for (i, input) in pcapngs.iter().enumerate() {
        // (exit status, manifest counters, part files) of one run.
        let run = |threads: &str, piece_bytes: Option<&str>| {
            let store = dir.path().join(format!("{i}-{threads}-{}", piece_bytes.unwrap_or("default")));
            let mut command = Command::new(env!("CARGO_BIN_EXE_flowmine"));
            command.arg("flows").arg(input).arg("--out").arg(&store).args(["--quiet", "--threads", threads]);
            if let Some(bytes) = piece_bytes {
                command.env("FLOWMINE_PIECE_BYTES", bytes);
            }
            let out = command.output().unwrap();
            let status = out.status.code();
            assert!(matches!(status, Some(0 | 3)), "{}: {}", input.display(), String::from_utf8_lossy(&out.stderr));
            let m = manifest(&store);
            (status, m.packets_total, m.skipped, part_files(&store))
        };
        let one = run("1", None);
        for piece_bytes in ["64", "1000"] {
            assert!(one == run("2", Some(piece_bytes)), "{}: pieces of {piece_bytes} on 2 threads", input.display());
        }
    }
    let out = Command::new(env!("CARGO_BIN_EXE_flowmine"))
        .arg("flows")
        .arg(&pcapngs[0])
        .arg("--out")
        .arg(dir.path().join("refused"))
        .env("FLOWMINE_PIECE_BYTES", "0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("FLOWMINE_PIECE_BYTES=\"0\": not a positive number of bytes")
    );
}

#[test]
fn max_flows_evicts_the_oldest_and_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    let input = testdata("pcaps/messaging");
    let free = dir.path().join("free");
    assert_eq!(flows(std::slice::from_ref(&input), &free, &["--quiet"]).status.code(), Some(0));
    let capped = dir.path().join("capped");
    let out = flows(&[input], &capped, &["--max-flows", "64"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let (m, m_free) = (manifest(&capped), manifest(&free));
    assert_eq!(m.parameters.max_flows, Some(64));
    assert!(m.flows_evicted > 0 && m_free.flows_evicted == 0);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!("evicted: {} flows", m.flows_evicted)), "{stdout}");
    // Evicted flows are written like any other: no packet is lost, and evicted keys that
    // come back start new flows.
    assert_eq!(m.packets_in_flows, m_free.packets_in_flows);
    assert!(m.flows > m_free.flows);
    let df = read_flows(&capped).unwrap();
    let reasons = df.column("end_reason").unwrap().str().unwrap();
    let evicted = reasons.iter().filter(|r| *r == Some("evicted")).count() as u64;
    assert_eq!(evicted, m.flows_evicted);
    assert_eq!(u64_sum(&df, "fwd_packets") + u64_sum(&df, "bwd_packets"), m.packets_in_flows);
}

#[test]
fn reading_resumes_after_a_damaged_record() {
    let dir = tempfile::tempdir().unwrap();
    let original = std::fs::read(testdata("pcaps/messaging/threema.pcap")).unwrap();
    // Break the caplen of the 11th record: the 72 records after it are read on.
    let (offset, next) = (record_offset(&original, 10), record_offset(&original, 11));
    let mut damaged = original.clone();
    damaged[offset + 8..offset + 12].copy_from_slice(&[0xff; 4]);
    let path = dir.path().join("damaged.pcap");
    std::fs::write(&path, &damaged).unwrap();
    let store = dir.path().join("s");
    let out = flows(std::slice::from_ref(&path), &store, &[]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    let line = format!(
        "flowmine: error: {}: offset {offset}: implausible captured length 4294967295 (limit 268435456); \
         read on from offset {next} ({} bytes skipped)",
        path.display(),
        next - offset
    );
    assert!(err.lines().any(|l| l == line), "{err}");
    let m = manifest(&store);
    assert_eq!((m.packets_total, m.packets_in_flows, m.skipped["corrupt_record"]), (83, 82, 1));
    let input = &m.inputs[0];
    assert_eq!(input.skipped_bytes, (next - offset) as u64);
    assert_eq!(input.damaged_stretches.len(), 1);
    assert_eq!(input.damaged_stretches[0].resumed_at, Some(next as u64));
}

#[test]
fn paths_that_are_not_utf8_are_read_and_shown_lossily() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join(std::ffi::OsStr::from_bytes(b"dump \xff set"));
    std::fs::create_dir(&sub).unwrap();
    std::fs::copy(testdata("pcaps/messaging/threema.pcap"), sub.join("a b.pcap")).unwrap();
    let store = dir.path().join("s");
    let out = flows(&[sub], &store, &["--quiet"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let m = manifest(&store);
    assert_eq!(m.packets_total, 83);
    assert!(m.inputs[0].path.ends_with("dump \u{fffd} set/a b.pcap"), "{}", m.inputs[0].path);
}
