//! MIRAGE JSON: export → import gives back the same flows; hand-written MIRAGE-2019 and
//! MIRAGE-2022 records import to the documented store rows.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use flowmine::features::{Anonymiser, FeatureOptions, features_frame};
use flowmine::mirage::{ExportOptions, Grouping, ImportSummary, export_store, import_mirage};
use flowmine::store::{Manifest, read_flows};
use flowmine::{FlowsJob, core::ScanOptions};
use polars::prelude::*;

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// A store of the messaging captures plus edge captures with VLANs, tunnels and IPv6.
fn sample_store(dir: &Path) -> PathBuf {
    let store = dir.join("store");
    let mut job = FlowsJob::new(
        vec![
            repo("testdata/pcaps/messaging"),
            repo("testdata/pcaps/edge/http-vlan-0.pcap"),
            repo("testdata/pcaps/edge/gre.pcapng"),
            repo("testdata/pcaps/edge/mixed-vlan-mpls.pcap"),
            repo("testdata/pcaps/edge/6in4.pcap"),
        ],
        ScanOptions::default(),
    );
    job.label = Some("sample".into());
    job.to_store(&store, false, |_| {}).unwrap();
    store
}

fn sorted(df: &DataFrame) -> DataFrame {
    let by = ["capture_file", "first_ts_ns", "protocol", "src_ip", "src_port", "dst_ip", "dst_port"];
    df.sort(by, SortMultipleOptions::default()).unwrap()
}

fn export(store: &Path, out: &Path, packets: Option<usize>, anonymiser: Option<Anonymiser>) -> Vec<PathBuf> {
    let options = ExportOptions::new(packets, Grouping::Capture, anonymiser);
    export_store(store, out, &options, false).unwrap().files
}

fn import(inputs: &[PathBuf], out: &Path) -> ImportSummary {
    import_mirage(inputs, out, false, 2, |_| {}).unwrap()
}

fn manifest(store: &Path) -> Manifest {
    serde_json::from_slice(&std::fs::read(store.join("manifest.json")).unwrap()).unwrap()
}

#[test]
fn export_then_import_gives_back_the_same_flows() {
    let dir = tempfile::tempdir().unwrap();
    let store = sample_store(dir.path());
    let files = export(&store, &dir.path().join("json"), None, None);
    assert!(files.len() >= 35, "one file per capture (and more for reused 5-tuples): {}", files.len());
    let back = dir.path().join("back");
    let summary = import(&[dir.path().join("json")], &back);

    let original = sorted(&read_flows(&store).unwrap());
    let imported = sorted(&read_flows(&back).unwrap());
    assert_eq!(summary.flows as usize, original.height());
    // The sample exercises what MIRAGE has no field for.
    let any = |mask: BooleanChunked| mask.any();
    assert!(any(original.column("vlan").unwrap().u16().unwrap().gt(0)), "a VLAN-tagged flow");
    assert!(any(original.column("tunnel").unwrap().is_not_null()), "a tunnelled flow");
    assert!(any(original.column("ip_version").unwrap().u8().unwrap().equal(6)), "an IPv6 flow");
    // The import adds the dataset's columns (device, session, flow_metadata, …); every
    // column of the original comes back the same.
    for (name, dtype) in original.schema().iter() {
        assert_eq!(imported.schema().get(name), Some(dtype), "column {name}");
    }
    for name in original.get_column_names() {
        let (a, b) = (original.column(name).unwrap(), imported.column(name).unwrap());
        assert!(a.equals_missing(b), "column {name} differs after the round trip");
    }
    let m = manifest(&back);
    assert_eq!(m.parameters.packets, "all");
    assert_eq!(m.flows, original.height() as u64);
}

#[test]
fn mirage_2019_style_export_keeps_32_packets_and_whole_flow_counters() {
    let dir = tempfile::tempdir().unwrap();
    let store = sample_store(dir.path());
    export(&store, &dir.path().join("json"), Some(32), None);
    let back = dir.path().join("back");
    import(&[dir.path().join("json")], &back);
    let original = sorted(&read_flows(&store).unwrap());
    let imported = sorted(&read_flows(&back).unwrap());
    for name in ["fwd_packets", "bwd_packets", "fwd_bytes", "bwd_bytes", "first_ts_ns", "last_ts_ns", "label"] {
        assert!(original.column(name).unwrap().equals_missing(imported.column(name).unwrap()), "{name}");
    }
    let lens = imported.column("pkt_ts_ns").unwrap().list().unwrap().lst_lengths();
    assert_eq!(lens.max(), Some(32), "lists stop at 32 packets");
    let heads = original.column("pkt_ip_len").unwrap().list().unwrap().lst_slice(0, 32);
    assert!(heads.into_series().equals_missing(imported.column("pkt_ip_len").unwrap().as_materialized_series()));
    assert_eq!(manifest(&back).parameters.packets, "32");
}

/// A MIRAGE JSON file as a map, its bare NaN literals read as flowmine reads them.
fn read_json(path: &Path) -> serde_json::Map<String, serde_json::Value> {
    let reader = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    serde_json::from_reader(flowmine::mirage::json::NonFinite::new(reader)).unwrap()
}

/// The addresses in the record keys of exported files.
fn key_addresses(files: &[PathBuf]) -> HashSet<String> {
    let mut addresses = HashSet::new();
    for f in files {
        for key in read_json(f).keys() {
            let fields: Vec<&str> = key.split(',').collect();
            addresses.extend([fields[0].to_owned(), fields[2].to_owned()]);
        }
    }
    addresses
}

#[test]
fn exports_carry_pseudonyms_unless_addresses_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = sample_store(dir.path());
    let flows = read_flows(&store).unwrap();
    let mut originals = HashSet::new();
    for col in ["src_ip", "dst_ip"] {
        originals.extend(flows.column(col).unwrap().str().unwrap().iter().flatten().map(str::to_owned));
    }
    let anonymiser = Anonymiser::from_key_material(b"test key");
    let files = export(&store, &dir.path().join("json"), Some(32), Some(anonymiser.clone()));
    let exported = key_addresses(&files);
    assert!(exported.is_disjoint(&originals), "an original address was exported");
    let expected: HashSet<String> = originals.iter().map(|ip| anonymiser.pseudonym_text(ip)).collect();
    assert_eq!(exported, expected, "every address is replaced by its keyed pseudonym");
    // Nor does any other field (the flowmine section holds none): the sample's hosts are all
    // in 192.168.0.0/16 or public ranges, pseudonyms in 10.0.0.0/8 and fd00::/8.
    for f in &files {
        assert!(!std::fs::read_to_string(f).unwrap().contains("192.168."), "{}", f.display());
    }

    let kept = export(&store, &dir.path().join("kept"), Some(32), None);
    assert_eq!(key_addresses(&kept), originals);
}

fn import_one(record: &str) -> (DataFrame, Manifest) {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    import(&[repo(record)], &store);
    (read_flows(&store).unwrap(), manifest(&store))
}

fn list<T: PolarsNumericType>(df: &DataFrame, name: &str) -> Vec<T::Native> {
    let s = df.column(name).unwrap().list().unwrap().get_as_series(0).unwrap();
    let ca: &ChunkedArray<T> = s.as_ref().as_ref();
    ca.into_no_null_iter().collect()
}

fn scalar(df: &DataFrame, name: &str) -> AnyValue<'static> {
    df.column(name).unwrap().get(0).unwrap().into_static()
}

#[test]
fn imports_a_hand_written_mirage_2019_record() {
    let (df, m) = import_one("testdata/mirage/mirage2019_record.json");
    assert_eq!(df.height(), 1);
    assert_eq!(scalar(&df, "src_ip"), AnyValue::StringOwned("192.168.20.101".into()));
    assert_eq!(scalar(&df, "dst_ip"), AnyValue::StringOwned("216.58.205.42".into()));
    assert_eq!((scalar(&df, "src_port"), scalar(&df, "dst_port")), (AnyValue::UInt16(39854), AnyValue::UInt16(443)));
    assert_eq!((scalar(&df, "ip_version"), scalar(&df, "protocol")), (AnyValue::UInt8(4), AnyValue::UInt8(6)));
    // The counters cover the whole flow (12 packets) although the lists stop at 10.
    assert_eq!((scalar(&df, "fwd_packets"), scalar(&df, "bwd_packets")), (AnyValue::UInt64(6), AnyValue::UInt64(6)));
    assert_eq!((scalar(&df, "fwd_bytes"), scalar(&df, "bwd_bytes")), (AnyValue::UInt64(1021), AnyValue::UInt64(1799)));
    assert_eq!(scalar(&df, "label"), AnyValue::StringOwned("com.whatsapp".into()));
    // No timestamps in 2019: the first packet is at 0 and the iat list is summed.
    assert_eq!(
        list::<Int64Type>(&df, "pkt_ts_ns"),
        [
            0,
            30_117_000,
            30_329_000,
            31_375_000,
            62_863_000,
            63_360_000,
            83_373_000,
            134_104_000,
            234_104_000,
            274_106_000
        ]
    );
    assert_eq!(
        (scalar(&df, "first_ts_ns"), scalar(&df, "last_ts_ns")),
        (AnyValue::Int64(0), AnyValue::Int64(510_000_000))
    );
    assert_eq!(list::<UInt8Type>(&df, "pkt_dir"), [0, 1, 0, 0, 1, 1, 0, 1, 0, 1]);
    assert_eq!(list::<UInt32Type>(&df, "pkt_l4_payload_len"), [0, 0, 0, 517, 0, 1418, 0, 77, 64, 0]);
    // 2019 has no IP lengths: payload + 20 (IPv4) + 20 (TCP), documented as an estimate.
    assert_eq!(list::<UInt32Type>(&df, "pkt_ip_len"), [40, 40, 40, 557, 40, 1458, 40, 117, 104, 40]);
    assert_eq!(list::<UInt16Type>(&df, "pkt_tcp_window"), [65535, 60192, 344, 344, 245, 245, 366, 245, 366, 245]);
    assert_eq!(list::<UInt8Type>(&df, "pkt_tcp_flags"), [0; 10]);
    assert_eq!(m.parameters.packets, "10", "the lists are shorter than the flows");
    assert_eq!((m.flows, m.packets_total), (1, 12));
}

#[test]
fn imports_a_hand_written_mirage_2022_record_and_recomputes_its_flow_features() {
    let (df, m) = import_one("testdata/mirage/mirage2022_record.json");
    assert_eq!(df.height(), 1);
    assert_eq!(scalar(&df, "src_ip"), AnyValue::StringOwned("192.168.1.128".into()));
    assert_eq!((scalar(&df, "fwd_packets"), scalar(&df, "bwd_packets")), (AnyValue::UInt64(5), AnyValue::UInt64(4)));
    assert_eq!(scalar(&df, "label"), AnyValue::StringOwned("com.discord".into()));
    // 2022 timestamps, to the microsecond.
    let ts = list::<Int64Type>(&df, "pkt_ts_ns");
    assert_eq!((ts[0], ts[8]), (1_646_482_845_216_543_000, 1_646_482_845_421_006_000));
    assert_eq!(scalar(&df, "last_ts_ns"), AnyValue::Int64(1_646_482_845_421_006_000));
    assert_eq!(list::<UInt32Type>(&df, "pkt_ip_len"), [60, 60, 52, 569, 1468, 52, 52, 52, 52]);
    assert_eq!(list::<UInt8Type>(&df, "pkt_tcp_flags"), [2, 18, 16, 24, 24, 16, 17, 17, 16]);
    assert_eq!(m.parameters.packets, "all");

    // The record's flow_features were computed with numpy/scipy from its lists (MIRAGE's
    // rules, scripts/feature_reference.py): flowmine recomputing them from the imported
    // flow, without the dataset's own values, must give the same numbers.
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(repo("testdata/mirage/mirage2022_record.json")).unwrap()).unwrap();
    let expected = &record["192.168.1.128,57014,108.139.210.102,443,6"]["flow_features"];
    let own = features_frame(&df, &FeatureOptions::new(None)).unwrap();
    assert_eq!(scalar(&own, "statistics_source"), AnyValue::StringOwned("dataset".into()));
    let recomputed = df.drop(flowmine::features::table::DATASET_FEATURES).unwrap();
    let features = features_frame(&recomputed, &FeatureOptions::new(None)).unwrap();
    assert!(features.column("statistics_source").is_err(), "a store not imported has no source column");
    let mut checked = 0;
    for (quantity, sets) in expected.as_object().unwrap() {
        for (set, stats) in sets.as_object().unwrap() {
            let direction = set.trim_end_matches("_flow");
            for (stat, want) in stats.as_object().unwrap() {
                let stat = match stat.strip_suffix("_percentile") {
                    Some(q) => format!("p{q}"),
                    None => stat.clone(),
                };
                let name = format!("{quantity}_{direction}_{stat}");
                let got = features.column(&name).unwrap().f64().unwrap().get(0);
                let want = want.as_f64();
                let close = match (got, want) {
                    (Some(a), Some(b)) => (a - b).abs() <= 1e-9 * a.abs().max(b.abs()),
                    (a, b) => a == b,
                };
                assert!(close, "{name}: flowmine {got:?}, record {want:?}");
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 2 * 3 * 17);
}

/// A MIRAGE-2019 record (as Python's json.dumps writes it) with `packet_dir`, `iat` and
/// `UF_num_packets` given; upstream source 10.0.0.1:40000, server 10.0.0.2:443.
fn record_2019(src_port: u16, dirs: &[u8], iats: &[&str], uf_packets: u64) -> String {
    let ports = |from_client: bool| {
        dirs.iter()
            .map(|&d| if (d == 0) == from_client { src_port.to_string() } else { "443".to_owned() })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let n = dirs.len();
    let down = dirs.iter().filter(|&&d| d == 1).count() as u64;
    let list = |v: &str| vec![v; n].join(", ");
    format!(
        r#""10.0.0.1,{src_port},10.0.0.2,443,6": {{"packet_data": {{"src_port": [{}], "dst_port": [{}], "packet_dir": [{}], "L4_payload_bytes": [{}], "iat": [{}], "TCP_win_size": [{}]}}, "flow_features": {{"iat": {{"downstream_flow": {{"min": NaN, "max": -Infinity, "mean": 0.5}}}}}}, "flow_metadata": {{"BF_label": "com.example", "BF_labeling_type": "exact", "BF_num_packets": {}, "BF_IP_packet_bytes": 400, "BF_L4_payload_bytes": 0, "BF_duration": 1.5, "UF_num_packets": {uf_packets}, "UF_IP_packet_bytes": 200, "UF_L4_payload_bytes": 0, "UF_duration": NaN, "DF_num_packets": {down}, "DF_IP_packet_bytes": 200, "DF_L4_payload_bytes": 0, "DF_duration": 0.0}}}}"#,
        ports(true),
        ports(false),
        dirs.iter().map(u8::to_string).collect::<Vec<_>>().join(", "),
        list("0"),
        iats.join(", "),
        list("1000"),
        uf_packets + down,
    )
}

#[test]
fn records_that_break_the_dataset_invariants_are_named_left_out_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("1500000000_com.example_MIRAGE-2019_traffic_dataset_labeled_biflows.json");
    let records = [
        record_2019(40001, &[0, 1, 0], &["0", "0.25", "0.5"], 2),
        record_2019(40002, &[0, 5, 0], &["0", "0.25", "0.5"], 2),
        record_2019(40003, &[0, 1, 0], &["0", "-0.25", "0.5"], 2),
        record_2019(40004, &[0, 1, 0], &["0", "0.25", "0.5"], 1),
    ];
    std::fs::write(&file, format!("{{{}}}", records.join(", "))).unwrap();
    let store = dir.path().join("store");
    let summary = import(std::slice::from_ref(&file), &store);
    assert_eq!(summary.flows, 1);
    assert_eq!(summary.rejected_total, 3);
    let named: Vec<(String, String)> = summary.rejected.iter().map(|r| (r.key.clone(), r.field.clone())).collect();
    assert_eq!(
        named,
        [
            ("10.0.0.1,40002,10.0.0.2,443,6".to_owned(), "packet_data.packet_dir".to_owned()),
            ("10.0.0.1,40003,10.0.0.2,443,6".to_owned(), "packet_data.iat".to_owned()),
            ("10.0.0.1,40004,10.0.0.2,443,6".to_owned(), "flow_metadata.UF_num_packets".to_owned()),
        ]
    );
    assert!(summary.rejected.iter().all(|r| r.file == file));
    // The packets of the records left out are counted (the larger of BF_num_packets and
    // the packets listed), so every packet is accounted for.
    let m = manifest(&store);
    assert_eq!(m.skipped["invalid_mirage_record"], 3 + 3 + 3);
    assert_eq!((m.packets_in_flows, m.packets_total), (3, 3 + 9));
    assert_eq!(m.inputs[0].flows, 1);

    // The kept record: NaN and -Infinity literals read, the file's name and folder used.
    let flows = read_flows(&store).unwrap();
    assert_eq!(scalar(&flows, "src_port"), AnyValue::UInt16(40001));
    assert_eq!(scalar(&flows, "session"), AnyValue::StringOwned("1500000000_com.example".into()));
    assert_eq!(scalar(&flows, "app"), AnyValue::StringOwned("com.example".into()));
    assert_eq!(scalar(&flows, "labeling_type"), AnyValue::StringOwned("exact".into()));
    assert_eq!(scalar(&flows, "mirage_UF_duration"), AnyValue::Null, "NaN");
    assert_eq!(scalar(&flows, "mirage_DF_duration"), AnyValue::Float64(0.0));
    assert_eq!(scalar(&flows, "mirage_iat_downstream_min"), AnyValue::Null, "NaN");
    assert_eq!(scalar(&flows, "mirage_iat_downstream_max"), AnyValue::Float64(f64::NEG_INFINITY));
    assert_eq!(scalar(&flows, "mirage_iat_downstream_mean"), AnyValue::Float64(0.5));
    assert_eq!(scalar(&flows, "mirage_iat_upstream_mean"), AnyValue::Null, "not in the record");
}

/// No public source shows MIRAGE-2022's `TCP_flags` values (formats/mirage.md): import
/// reads every unambiguous form the same, and refuses, naming the record, text that read
/// letter by letter would name other flags.
#[test]
fn tcp_flags_read_in_every_unambiguous_text_form_and_words_are_refused() {
    let with_flags = |src_port: u16, flags: &str| {
        record_2019(src_port, &[0, 1, 0], &["0", "0.25", "0.5"], 2)
            .replace(r#""TCP_win_size""#, &format!(r#""TCP_flags": [{flags}], "TCP_win_size""#))
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("flags.json");
    let records = [
        with_flags(40001, r#""-------S", "---A--S-", "---A----""#),
        with_flags(40002, r#""S", "SA", "PA""#),
        with_flags(40003, r#""0x002", "0x012", "24""#),
        with_flags(40004, r#""FA", "", 17"#),
        with_flags(40005, r#""SYN", "SYN-ACK", "ACK""#),
        with_flags(40006, r#""S", "S.", ".""#),
    ];
    std::fs::write(&file, format!("{{{}}}", records.join(", "))).unwrap();
    let store = dir.path().join("store");
    let summary = import(std::slice::from_ref(&file), &store);
    let refused: Vec<&str> = summary.rejected.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(refused, ["10.0.0.1,40005,10.0.0.2,443,6", "10.0.0.1,40006,10.0.0.2,443,6"]);
    assert!(summary.rejected.iter().all(|r| r.field == "packet_data.TCP_flags"));
    let flows = sorted(&read_flows(&store).unwrap());
    let flags = flows.column("pkt_tcp_flags").unwrap().list().unwrap().clone();
    let rows: Vec<Vec<u8>> = (0..flows.height())
        .map(|i| {
            let s = flags.get_as_series(i).unwrap();
            s.u8().unwrap().into_no_null_iter().collect()
        })
        .collect();
    assert_eq!(rows, [vec![0x02, 0x12, 0x10], vec![0x02, 0x12, 0x18], vec![0x02, 0x12, 0x18], vec![0x11, 0, 0x11]]);
}

#[test]
fn a_failed_import_leaves_no_directory_behind() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"10.0.0.1,1,10.0.0.2,2,6": {"packet_data": 5}}"#).unwrap();
    let store = dir.path().join("store");
    let e = import_mirage(std::slice::from_ref(&bad), &store, false, 1, |_| {}).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("bad.json") && text.contains("line 1 column"), "{text}");
    assert!(!store.exists(), "the output directory was left behind");
}

#[test]
fn device_comes_from_the_folder_in_2019_and_from_bf_device_in_2022() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("MIRAGE-2019/Mi5_38_a4_ed_18_cc_bf");
    std::fs::create_dir_all(&folder).unwrap();
    let name = "1500000000_com.example_MIRAGE-2019_traffic_dataset_labeled_biflows.json";
    std::fs::write(folder.join(name), format!("{{{}}}", record_2019(40001, &[0, 1], &["0", "0.5"], 1))).unwrap();
    let raw = dir.path().join("Raw_JSON/Discord");
    std::fs::create_dir_all(&raw).unwrap();
    std::fs::copy(
        repo("testdata/mirage/mirage2022_record.json"),
        raw.join("1646482845_com.discord_mirage2020dataset_labeled_biflows_all_packets_encryption_metadata.json"),
    )
    .unwrap();
    let store = dir.path().join("store");
    import(&[dir.path().to_owned()], &store);
    let flows = read_flows(&store).unwrap().sort(["session"], SortMultipleOptions::default()).unwrap();
    let column = |name: &str| -> Vec<Option<String>> {
        flows.column(name).unwrap().str().unwrap().iter().map(|s| s.map(str::to_owned)).collect()
    };
    assert_eq!(column("session"), [Some("1500000000_com.example".into()), Some("1646482845_com.discord".into())]);
    let mac = record_field("testdata/mirage/mirage2022_record.json", "BF_device");
    assert_eq!(column("device"), [Some("Mi5_38_a4_ed_18_cc_bf".into()), Some(mac)]);
    assert_eq!(column("app"), [Some("com.example".into()), Some("com.discord".into())]);
}

/// A text field of the first record's `flow_metadata` in a fixture.
fn record_field(file: &str, field: &str) -> String {
    let records: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&std::fs::read(repo(file)).unwrap()).unwrap();
    records.values().next().unwrap()["flow_metadata"][field].as_str().unwrap().to_owned()
}

/// Writes `df` as the only part of a new store at `dir`, with the manifest of the store
/// `like` listing that one part (readers check a store's parts against its manifest).
fn store_from_frame(dir: &Path, mut df: DataFrame, like: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let file = std::fs::File::create(dir.join("part-00000.parquet")).unwrap();
    ParquetWriter::new(file).finish(&mut df).unwrap();
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(like.join("manifest.json")).unwrap()).unwrap();
    manifest["parts"] = serde_json::json!([{ "file": "part-00000.parquet", "rows": df.height() }]);
    std::fs::write(dir.join("manifest.json"), serde_json::to_vec(&manifest).unwrap()).unwrap();
    dir.to_owned()
}

#[test]
fn export_refuses_a_store_it_cannot_read_instead_of_panicking() {
    let dir = tempfile::tempdir().unwrap();
    let sample = sample_store(dir.path());
    let flows = read_flows(&sample).unwrap();
    let options = ExportOptions::new(None, Grouping::Capture, None);

    let mut bad_address = flows.clone();
    let mut ips: Vec<String> =
        flows.column("src_ip").unwrap().str().unwrap().iter().map(|s| s.unwrap().to_owned()).collect();
    ips[3] = "not-an-address".to_owned();
    bad_address.replace("src_ip", Column::new("src_ip".into(), ips)).unwrap();
    let store = store_from_frame(&dir.path().join("bad-address"), bad_address, &sample);
    let e = export_store(&store, &dir.path().join("out1"), &options, false).unwrap_err().to_string();
    assert!(e.contains("not-an-address") && e.contains("part-00000.parquet"), "{e}");

    // pkt_dir one entry short in one row: the other lists' offsets must not be used for it.
    let mut short = flows.clone();
    let dirs = flows.column("pkt_dir").unwrap().list().unwrap().clone();
    let dirs = (0..dirs.len()).map(|i| dirs.get_as_series(i));
    let cut: Vec<Series> = dirs
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let s = s.unwrap();
            if i == 5 { s.slice(0, s.len() - 1) } else { s }
        })
        .collect();
    let mut column = Series::new("pkt_dir".into(), cut);
    column.rename("pkt_dir".into());
    short.replace("pkt_dir", column.into_column()).unwrap();
    let store = store_from_frame(&dir.path().join("short"), short, &sample);
    let e = export_store(&store, &dir.path().join("out2"), &options, false).unwrap_err().to_string();
    assert!(e.contains("row 5") && e.contains("pkt_dir"), "{e}");
}

#[test]
fn labelling_device_and_session_survive_export_and_import() {
    let dir = tempfile::tempdir().unwrap();
    let sample = sample_store(dir.path());
    let mut flows = read_flows(&sample).unwrap();
    let n = flows.height();
    // As `flowmine label` writes them: exact rows carry the app, others none.
    let types: Vec<&str> = (0..n).map(|i| ["exact", "background", "dns", "unlabelled"][i % 4]).collect();
    let labels: Vec<Option<&str>> =
        types.iter().map(|t| matches!(*t, "exact" | "dns").then_some("org.telegram.messenger")).collect();
    let devices: Vec<&str> = (0..n).map(|i| if i % 3 == 0 { "Samsung A51" } else { "Poco X3" }).collect();
    let sessions: Vec<&str> =
        (0..n).map(|i| if i % 2 == 0 { "1700000000_org.telegram.messenger" } else { "s2" }).collect();
    flows.replace("label", Column::new("label".into(), labels)).unwrap();
    flows.with_column(Column::new("labeling_type".into(), types)).unwrap();
    flows.with_column(Column::new("device".into(), devices)).unwrap();
    flows.with_column(Column::new("session".into(), sessions)).unwrap();
    let store = store_from_frame(&dir.path().join("labelled"), flows.clone(), &sample);

    let out = dir.path().join("json");
    let summary = export_store(&store, &out, &ExportOptions::new(None, Grouping::Capture, None), false).unwrap();
    // Device folders, and MIRAGE's file name for a session named as MIRAGE names them.
    let names: HashSet<String> =
        summary.files.iter().map(|f| f.strip_prefix(&out).unwrap().to_string_lossy().into_owned()).collect();
    assert!(
        names
            .contains("Samsung_A51/1700000000_org.telegram.messenger_MIRAGE-2019_traffic_dataset_labeled_biflows.json"),
        "{names:?}"
    );
    assert!(names.contains("Poco_X3/s2.json"), "{names:?}");
    let back = dir.path().join("back");
    import(std::slice::from_ref(&out), &back);
    let original = sorted(&flows);
    let imported = sorted(&read_flows(&back).unwrap());
    for name in original.get_column_names() {
        let (a, b) = (original.column(name).unwrap(), imported.column(name).unwrap());
        assert!(a.equals_missing(b), "column {name} differs after the round trip");
    }
    // The labelling type is MIRAGE's field too, as the store had it (not "most-common").
    let one = read_json(&summary.files[0]);
    let record = one.values().next().unwrap();
    let kind = record["flow_metadata"]["BF_labeling_type"].as_str().unwrap();
    assert!(["exact", "background", "dns", "unlabelled"].contains(&kind), "{kind}");
}

#[test]
fn export_into_a_directory_with_files_is_refused_naming_it_and_the_binary_adds_the_option() {
    let dir = tempfile::tempdir().unwrap();
    // The output is checked before the store is read: no store is needed.
    let store = dir.path().join("no-store");
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("old.json"), b"{}").unwrap();
    let options = ExportOptions::new(None, Grouping::Capture, None);
    let e = export_store(&store, &out, &options, false).unwrap_err();
    assert!(matches!(&e, flowmine::Error::NotEmptyDir(p) if p == &out), "{e:?}");
    assert_eq!(e.to_string(), format!("{}: the directory already holds files", out.display()));
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_flowmine"))
        .arg("export-mirage")
        .arg(&store)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&run.stderr),
        format!("flowmine: error: {e}; pass --overwrite to write over them\n")
    );
    // Even with overwrite, a file an export did not write is left alone and named.
    std::fs::write(out.join("notes.txt"), b"mine").unwrap();
    let e = export_store(&store, &out, &options, true).unwrap_err().to_string();
    let notes = out.join("notes.txt");
    assert_eq!(
        e,
        format!("{}: holds {} which is not a MIRAGE JSON file; refusing to overwrite", out.display(), notes.display())
    );
    assert!(out.join("old.json").exists());
}
