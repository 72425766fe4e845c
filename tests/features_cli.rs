//! `flowmine features`, `export-mirage` and `import-mirage` end to end: formats by
//! extension, the documented columns, addresses pseudonymised unless asked otherwise.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use flowmine::features::stats::STAT_NAMES;
use flowmine::features::table::{DIRECTIONS, QUANTITIES, stat_column};
use polars::prelude::*;

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn flowmine(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flowmine")).args(args).output().expect("flowmine runs")
}

fn ok(out: Output) -> Output {
    assert_eq!(out.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// A store of signal.pcap (637 packets, every flow from 192.168.2.100).
fn store(dir: &Path) -> String {
    let store = dir.join("store").to_string_lossy().into_owned();
    ok(flowmine(&[
        "flows",
        repo("testdata/pcaps/messaging/signal.pcap").to_str().unwrap(),
        "--out",
        &store,
        "--quiet",
    ]));
    store
}

fn read(path: &Path) -> DataFrame {
    let file = std::fs::File::open(path).unwrap();
    match path.extension().unwrap().to_str().unwrap() {
        "parquet" => ParquetReader::new(file).finish().unwrap(),
        "arrow" | "ipc" => IpcReader::new(file).finish().unwrap(),
        other => panic!("no reader for {other}"),
    }
}

#[test]
fn features_file_has_the_documented_columns_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let flows = flowmine::store::read_flows(Path::new(&store)).unwrap();
    let parquet = dir.path().join("f.parquet");
    let out = ok(flowmine(&["features", &store, "--out", parquet.to_str().unwrap(), "--keep-addresses"]));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("{} flows", flows.height())));
    let df = read(&parquet);
    assert_eq!(df.height(), flows.height());
    for quantity in QUANTITIES {
        for direction in DIRECTIONS {
            for stat in STAT_NAMES {
                let name = stat_column(quantity, direction, stat);
                assert_eq!(df.column(&name).unwrap().dtype(), &DataType::Float64, "{name}");
            }
        }
    }
    for name in [
        "src_ip",
        "src_port",
        "dst_ip",
        "dst_port",
        "protocol",
        "label",
        "fwd_packets",
        "bwd_packets",
        "packets",
        "fwd_bytes",
        "bwd_bytes",
        "bytes",
        "fwd_payload_bytes",
        "bwd_payload_bytes",
        "duration_s",
        "packets_per_s",
        "bytes_per_s",
        "tcp_syn_count",
        "tcp_fin_count",
        "tcp_ack_count",
    ] {
        assert!(df.column(name).is_ok(), "column {name}");
    }
    assert_eq!(df.column("seq_size").unwrap().dtype(), &DataType::List(Box::new(DataType::UInt32)));
    assert_eq!(df.column("seq_iat").unwrap().dtype(), &DataType::List(Box::new(DataType::Float64)));
    let lens = df.column("seq_dir").unwrap().list().unwrap().lst_lengths();
    assert_eq!(lens.max(), Some(32), "default sequence length");
    assert!(df.column("src_ip").unwrap().equals_missing(flows.column("src_ip").unwrap()));

    // The same table as Arrow IPC; CSV holds the same rows with sequences as text.
    let arrow = dir.path().join("f.arrow");
    ok(flowmine(&["features", &store, "--out", arrow.to_str().unwrap(), "--keep-addresses", "--sequence-len", "5"]));
    let ipc = read(&arrow);
    assert_eq!(ipc.height(), df.height());
    assert_eq!(ipc.column("seq_size").unwrap().list().unwrap().lst_lengths().max(), Some(5));
    assert!(ipc.column("iat_biflow_p50").unwrap().equals_missing(df.column("iat_biflow_p50").unwrap()));
    let csv = dir.path().join("f.csv");
    ok(flowmine(&["features", &store, "--out", csv.to_str().unwrap()]));
    let text = std::fs::read_to_string(&csv).unwrap();
    let header = text.lines().next().unwrap();
    assert!(header.contains("packet_length_upstream_kurtosis") && header.contains("seq_iat"), "{header}");
    assert_eq!(text.lines().count(), df.height() + 1);
}

#[test]
fn addresses_are_pseudonymised_by_default_and_stable_under_a_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let key = dir.path().join("key");
    std::fs::write(&key, b"irb-approved campus key").unwrap();
    let run = |name: &str, extra: &[&str]| {
        let out = dir.path().join(name);
        let mut args = vec!["features", &store, "--out", out.to_str().unwrap()];
        args.extend_from_slice(extra);
        ok(flowmine(&args));
        read(&out)
    };
    let default = run("a.parquet", &[]);
    let keyed1 = run("b.parquet", &["--anon-key-file", key.to_str().unwrap()]);
    let keyed2 = run("c.parquet", &["--anon-key-file", key.to_str().unwrap()]);
    for df in [&default, &keyed1] {
        let src = df.column("src_ip").unwrap().str().unwrap();
        assert!(src.iter().all(|ip| ip.is_some_and(|ip| ip.starts_with("10.") && ip != "192.168.2.100")));
    }
    assert!(
        keyed1.column("src_ip").unwrap().equals_missing(keyed2.column("src_ip").unwrap()),
        "same key, same pseudonyms"
    );
    assert!(
        !default.column("dst_ip").unwrap().equals_missing(keyed1.column("dst_ip").unwrap()),
        "random key by default"
    );
}

#[test]
fn unknown_extension_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let out = flowmine(&["features", &store, "--out", dir.path().join("f.xlsx").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains(".parquet"));
}

#[test]
fn export_and_import_commands_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let json = dir.path().join("json");
    let out = ok(flowmine(&[
        "export-mirage",
        &store,
        "--out",
        json.to_str().unwrap(),
        "--keep-addresses",
        "--packets",
        "32",
    ]));
    assert!(String::from_utf8_lossy(&out.stdout).contains("JSON file"));
    assert!(json.join("signal.pcap.json").exists());
    let back = dir.path().join("back");
    ok(flowmine(&["import-mirage", json.to_str().unwrap(), "--out", back.to_str().unwrap()]));
    let (a, b) = (flowmine::store::read_flows(Path::new(&store)).unwrap(), flowmine::store::read_flows(&back).unwrap());
    assert_eq!(a.height(), b.height());
    let bad = flowmine(&["export-mirage", &store, "--out", json.to_str().unwrap(), "--packets", "0"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn shortened_arrays_are_flagged_and_payload_totals_left_null() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let input = repo("testdata/pcaps/messaging/signal.pcap");
    ok(flowmine(&["flows", input.to_str().unwrap(), "--out", store.to_str().unwrap(), "--packets", "3", "--quiet"]));
    let out = dir.path().join("f.parquet");
    ok(flowmine(&["features", store.to_str().unwrap(), "--out", out.to_str().unwrap()]));
    let df = read(&out);
    let complete = df.column("pkt_arrays_complete").unwrap().bool().unwrap();
    let payload = df.column("fwd_payload_bytes").unwrap();
    let packets = df.column("packets").unwrap().u64().unwrap();
    let mut shortened = 0;
    for i in 0..df.height() {
        let is_complete = complete.get(i).unwrap();
        assert_eq!(is_complete, packets.get(i).unwrap() <= 3, "row {i}");
        assert_eq!(payload.get(i).unwrap().is_null(), !is_complete, "row {i}");
        shortened += usize::from(!is_complete);
    }
    assert!(shortened > 0, "signal.pcap has flows longer than 3 packets");
    assert_eq!(df.column("seq_size").unwrap().list().unwrap().lst_lengths().max(), Some(3));
}

#[test]
fn a_store_without_flows_gives_an_empty_table_with_every_column() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let input = repo("testdata/pcaps/edge/empty.pcap");
    ok(flowmine(&["flows", input.to_str().unwrap(), "--out", store.to_str().unwrap(), "--quiet"]));
    for ext in ["parquet", "arrow"] {
        let out = dir.path().join(format!("f.{ext}"));
        ok(flowmine(&["features", store.to_str().unwrap(), "--out", out.to_str().unwrap()]));
        let df = read(&out);
        assert_eq!(df.height(), 0);
        assert!(df.column("iat_downstream_p90").is_ok() && df.column("seq_iat").is_ok(), "{ext}");
    }
}

#[test]
fn a_file_that_is_not_mirage_json_fails_the_import_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, br#"{"1.2.3.4,1,5.6.7.8,2,6": {"packet_data": {}}}"#).unwrap();
    let out = flowmine(&["import-mirage", bad.to_str().unwrap(), "--out", dir.path().join("s").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.json") && err.contains("not a MIRAGE JSON file"), "{err}");
    assert!(!dir.path().join("s").join("manifest.json").exists(), "no store is complete without its manifest");
}

#[test]
fn a_failed_run_leaves_no_features_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    std::fs::write(Path::new(&store).join("part-00000.parquet"), b"not parquet").unwrap();
    let out = dir.path().join("f.parquet");
    let run = flowmine(&["features", &store, "--out", out.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&run.stderr).contains("flowmine: error:"));
    assert!(!out.exists() && !dir.path().join("f.parquet.tmp").exists());
}

#[test]
fn features_of_a_label_store_keep_device_session_and_labeling_type() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("labelled");
    let session = repo("testdata/label/signal/session.toml");
    ok(flowmine(&["label", session.to_str().unwrap(), "--out", store.to_str().unwrap()]));
    let flows = flowmine::store::read_flows(&store).unwrap();
    let out = dir.path().join("f.parquet");
    ok(flowmine(&["features", store.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"]));
    let df = read(&out);
    let names: Vec<&str> = df.get_column_names().into_iter().map(|n| n.as_str()).collect();
    let at = |name: &str| names.iter().position(|n| *n == name).unwrap_or_else(|| panic!("no column {name}"));
    // Right after capture_file, in the order of formats/session.md.
    assert_eq!(
        (at("labeling_type"), at("device"), at("session")),
        (at("capture_file") + 1, at("capture_file") + 2, at("capture_file") + 3)
    );
    // The values of the session manifest, on every row, in the store's row order.
    for name in ["device", "session"] {
        let values: Vec<Option<&str>> = df.column(name).unwrap().str().unwrap().iter().collect();
        let expected = if name == "device" { "Samsung A51" } else { "signal-a51-1" };
        assert_eq!(values, vec![Some(expected); flows.height()], "{name}");
    }
    assert!(df.column("labeling_type").unwrap().equals(flows.column("labeling_type").unwrap()));
}
