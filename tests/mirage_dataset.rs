//! The MIRAGE-2019-shaped folder of `testdata/mirage/MIRAGE-2019` (two device folders, five
//! apps, records with NaN literals, made by `testdata/mirage/make_mirage2019.py`): it
//! imports unchanged, every record's counters equal its `flow_metadata`, `features` gives
//! its `flow_features`, and export followed by import gives the same store back.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use flowmine::features::table::{DATASET_FEATURES, stat_column};
use flowmine::features::{FeatureOptions, features_frame, read_features};
use flowmine::mirage::json::NonFinite;
use flowmine::mirage::record::Layout;
use flowmine::mirage::{ExportOptions, Grouping, export_store, import_mirage};
use flowmine::store::read_flows;
use polars::prelude::*;

const MAX_RELATIVE_ERROR: f64 = 1e-9;

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn dataset() -> PathBuf {
    repo("testdata/mirage/MIRAGE-2019")
}

/// Every record of the folder: (device folder, file stem, key, record).
fn records() -> Vec<(String, String, String, serde_json::Value)> {
    let mut out = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dataset())
        .unwrap()
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap().map(|f| f.unwrap().path()))
        .collect();
    files.sort();
    for file in files {
        let device = file.parent().unwrap().file_name().unwrap().to_string_lossy().into_owned();
        let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
        let reader = NonFinite::new(std::io::BufReader::new(std::fs::File::open(&file).unwrap()));
        let map: serde_json::Map<String, serde_json::Value> = serde_json::from_reader(reader).unwrap();
        out.extend(map.into_iter().map(|(k, v)| (device.clone(), stem.clone(), k, v)));
    }
    out
}

fn text(df: &DataFrame, name: &str, i: usize) -> String {
    df.column(name).unwrap().str().unwrap().get(i).unwrap().to_owned()
}

/// Row of each (device, session, key).
fn rows(df: &DataFrame) -> HashMap<(String, String, String), usize> {
    (0..df.height())
        .map(|i| {
            let key = format!(
                "{},{},{},{},{}",
                text(df, "src_ip", i),
                df.column("src_port").unwrap().get(i).unwrap(),
                text(df, "dst_ip", i),
                df.column("dst_port").unwrap().get(i).unwrap(),
                df.column("protocol").unwrap().get(i).unwrap()
            );
            ((text(df, "device", i), text(df, "session", i), key), i)
        })
        .collect()
}

/// A MIRAGE value (NaN is a string after NonFinite) as an optional float.
fn mirage_value(v: &serde_json::Value) -> Option<f64> {
    match v {
        serde_json::Value::String(s) if s == "NaN" => None,
        other => Some(other.as_f64().unwrap_or_else(|| panic!("{other} is not a number"))),
    }
}

fn close(got: Option<f64>, want: Option<f64>) -> bool {
    match (got, want) {
        (Some(a), Some(b)) => a == b || (a - b).abs() <= MAX_RELATIVE_ERROR * a.abs().max(b.abs()),
        (a, b) => a == b,
    }
}

/// Compares the `flow_features` of every record accepted by `only` with `features`;
/// returns the number of values compared.
fn compare_features(
    features: &DataFrame,
    only: impl Fn(&serde_json::Value) -> bool,
    records: &[(String, String, String, serde_json::Value)],
) -> usize {
    let index = rows(features);
    let mut compared = 0;
    let mut failures = Vec::new();
    for (device, stem, key, record) in records.iter().filter(|r| only(&r.3)) {
        let session = stem.split('_').take(2).collect::<Vec<_>>().join("_");
        let row = index[&(device.clone(), session, key.clone())];
        for (quantity, sets) in record["flow_features"].as_object().unwrap() {
            for (set, stats) in sets.as_object().unwrap() {
                for (stat, want) in stats.as_object().unwrap() {
                    let stat = stat.strip_suffix("_percentile").map_or(stat.clone(), |q| format!("p{q}"));
                    let name = stat_column(quantity, set.trim_end_matches("_flow"), &stat);
                    let got = features.column(&name).unwrap().f64().unwrap().get(row);
                    let want = mirage_value(want);
                    if !close(got, want) {
                        failures.push(format!("{device}/{stem} {key} {name}: flowmine {got:?}, record {want:?}"));
                    }
                    compared += 1;
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} differ, first:\n{}",
        failures.len(),
        failures[..failures.len().min(10)].join("\n")
    );
    compared
}

#[test]
fn the_folder_imports_unchanged_with_counters_and_flow_features_of_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let summary = import_mirage(&[dataset()], &store, false, 2, |_| {}).unwrap();
    let records = records();
    assert_eq!((summary.files, summary.flows as usize, summary.rejected_total), (20, records.len(), 0));
    assert!(records.len() >= 300);

    let flows = read_flows(&store).unwrap();
    let index = rows(&flows);
    let u64_at = |name: &str, i: usize| flows.column(name).unwrap().u64().unwrap().get(i).unwrap();
    for (device, stem, key, record) in &records {
        let (ts, package) = {
            let mut f = stem.split('_');
            (f.next().unwrap().to_owned(), f.next().unwrap().to_owned())
        };
        let i = index[&(device.clone(), format!("{ts}_{package}"), key.clone())];
        let m = &record["flow_metadata"];
        let count = |name: &str| m[name].as_u64().unwrap();
        assert_eq!(u64_at("fwd_packets", i), count("UF_num_packets"), "{key}");
        assert_eq!(u64_at("bwd_packets", i), count("DF_num_packets"), "{key}");
        assert_eq!(u64_at("fwd_bytes", i), count("UF_IP_packet_bytes"), "{key}");
        assert_eq!(u64_at("bwd_bytes", i), count("DF_IP_packet_bytes"), "{key}");
        assert_eq!(text(&flows, "label", i), m["BF_label"].as_str().unwrap());
        assert_eq!(text(&flows, "labeling_type", i), m["BF_labeling_type"].as_str().unwrap());
        assert_eq!(text(&flows, "app", i), package);
        for field in ["BF_duration", "UF_duration", "DF_duration", "BF_L4_payload_bytes", "DF_L4_payload_bytes"] {
            let got = flows.column(&format!("mirage_{field}")).unwrap().f64().unwrap().get(i);
            assert!(close(got, mirage_value(&m[field])), "{key} {field}: {got:?}");
        }
        let listed = record["packet_data"]["packet_dir"].as_array().unwrap().len();
        let pkt = flows.column("pkt_dir").unwrap().list().unwrap().get_as_series(i).unwrap();
        assert_eq!(pkt.len(), listed);
    }

    // `features` gives every record's own 102 flow_features values, NaN as null.
    let features = read_features(&store, &FeatureOptions::new(None)).unwrap();
    let sources = features.column("statistics_source").unwrap().str().unwrap();
    assert!(sources.iter().all(|s| s == Some("dataset")));
    let compared = compare_features(&features, |_| true, &records);
    assert_eq!(compared, records.len() * 102);
}

#[test]
fn fully_listed_records_recompute_to_their_flow_features() {
    // Where a record lists every packet of its flow, flowmine's own statistics of the
    // imported arrays (without the dataset's values) equal the record's flow_features.
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    import_mirage(&[dataset()], &store, false, 2, |_| {}).unwrap();
    let flows = read_flows(&store).unwrap().drop(DATASET_FEATURES).unwrap();
    let features = features_frame(&flows, &FeatureOptions::new(None)).unwrap();
    let records = records();
    let complete = |r: &serde_json::Value| {
        r["packet_data"]["packet_dir"].as_array().unwrap().len() as u64
            == r["flow_metadata"]["BF_num_packets"].as_u64().unwrap()
    };
    let n = records.iter().filter(|r| complete(&r.3)).count();
    assert!(n > 150 && n < records.len(), "{n} of {} fully listed", records.len());
    assert_eq!(compare_features(&features, complete, &records), n * 102);
}

#[test]
fn export_writes_what_a_mirage_reader_takes_and_imports_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    import_mirage(&[dataset()], &store, false, 2, |_| {}).unwrap();
    let out = dir.path().join("json");
    let summary = export_store(&store, &out, &ExportOptions::new(Some(32), Grouping::Capture, None), false).unwrap();
    // The dataset's own file names in its device folders.
    let names = |root: &Path, files: Vec<PathBuf>| {
        let mut v: Vec<String> =
            files.iter().map(|f| f.strip_prefix(root).unwrap().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    };
    let published: Vec<PathBuf> = std::fs::read_dir(dataset())
        .unwrap()
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap().map(|f| f.unwrap().path()))
        .collect();
    assert_eq!(names(&out, summary.files.clone()), names(&dataset(), published));

    // Python's json module (what MIRAGE was written and is read with) takes every file
    // unchanged: sections in MIRAGE's order, NaN literals where a set is empty, the
    // records' own flow_features and flow_metadata.
    let python = common::python(&["json"]);
    let check = r#"
import json, math, sys, pathlib
out, published = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
nans = 0
for f in sorted(out.glob("*/*.json")):
    ours = json.loads(f.read_text())
    theirs = json.loads((published / f.relative_to(out)).read_text())
    assert ours.keys() == theirs.keys(), f
    for key, r in ours.items():
        t = theirs[key]
        assert list(r)[:3] == ["packet_data", "flow_features", "flow_metadata"], list(r)
        for field in t["packet_data"]:
            if field != "L4_raw_payload":
                assert r["packet_data"][field] == t["packet_data"][field], (f, key, field)
        for q, sets in t["flow_features"].items():
            assert list(r["flow_features"][q]) == list(sets)
            for s, stats in sets.items():
                assert list(r["flow_features"][q][s]) == list(stats)
                for name, v in stats.items():
                    w = r["flow_features"][q][s][name]
                    nans += math.isnan(v)
                    assert (math.isnan(v) and math.isnan(w)) or v == w, (f, key, q, s, name, v, w)
        for name, v in t["flow_metadata"].items():
            w = r["flow_metadata"][name]
            assert (isinstance(v, float) and math.isnan(v) and math.isnan(w)) or v == w, (f, key, name, v, w)
assert nans > 0
print("ok", nans)
"#;
    let output = std::process::Command::new(python).args(["-c", check]).arg(&out).arg(dataset()).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    assert_imports_back(&store, &out, &dir.path().join("back"));
}

/// Imports the export `out` of `store` into `back` and checks that every column but the
/// JSON file's path is the store's.
fn assert_imports_back(store: &Path, out: &Path, back: &Path) {
    import_mirage(&[out.to_owned()], back, false, 2, |_| {}).unwrap();
    let by = ["session", "src_port", "dst_ip", "dst_port"];
    let original = read_flows(store).unwrap().sort(by, SortMultipleOptions::default()).unwrap();
    let imported = read_flows(back).unwrap().sort(by, SortMultipleOptions::default()).unwrap();
    assert_eq!(original.height(), imported.height());
    for name in original.get_column_names() {
        if name.as_str() == "capture_file" {
            continue; // the path of the JSON file read: another folder
        }
        let (a, b) = (original.column(name).unwrap(), imported.column(name).unwrap());
        assert!(a.equals_missing(b), "column {name} differs after export and import");
    }
}

/// The files below `root`, as paths relative to it, sorted.
fn relative_files(root: &Path) -> Vec<String> {
    let mut files = flowmine_core::walk::files_below(root, |_| true).unwrap();
    files.sort();
    files.iter().map(|f| f.strip_prefix(root).unwrap().to_string_lossy().into_owned()).collect()
}

/// Reads an export of `testdata/mirage/MIRAGE-2022` with Python's json module and
/// tcbench's conventions (files `Raw_JSON/*/*.json`, the app the second `_` field of the
/// name, `BF_activity` read from every record) and compares it with the published files:
/// every section, field and field order, TCP flags as text, timestamps as floats.
const CHECK_2022: &str = r#"
import json, math, sys, pathlib
out, published = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
files = sorted(out.glob("Raw_JSON/*/*.json"))
assert [f.relative_to(out) for f in files] == [f.relative_to(published) for f in sorted(published.glob("Raw_JSON/*/*.json"))]
same = lambda v, w: v == w or (isinstance(v, float) and math.isnan(v) and math.isnan(w))
nans = 0
for f in files:
    _ts, android_name, *_ = f.name.split("_")
    ours = json.loads(f.read_text())
    theirs = json.loads((published / f.relative_to(out)).read_text())
    assert list(ours) == list(theirs), f
    for key, r in ours.items():
        t = theirs[key]
        assert list(r)[:3] == ["packet_data", "flow_features", "flow_metadata"], list(r)
        assert list(r["packet_data"]) == list(t["packet_data"]), (list(r["packet_data"]), list(t["packet_data"]))
        for field, values in t["packet_data"].items():
            assert r["packet_data"][field] == values, (f, key, field)
        assert all(isinstance(x, str) for x in r["packet_data"]["TCP_flags"])
        assert all(isinstance(x, float) for x in r["packet_data"]["timestamp"])
        assert list(r["flow_metadata"]) == list(t["flow_metadata"]), list(r["flow_metadata"])
        for name, v in t["flow_metadata"].items():
            nans += isinstance(v, float) and math.isnan(v)
            assert same(v, r["flow_metadata"][name]), (f, key, name, v, r["flow_metadata"][name])
        for q, sets in t["flow_features"].items():
            for s, stats in sets.items():
                assert list(r["flow_features"][q][s]) == list(stats)
                assert all(same(v, r["flow_features"][q][s][n]) for n, v in stats.items()), (f, key, q, s)
        app = android_name if android_name == r["flow_metadata"]["BF_label"] else "background"
        assert r["flow_metadata"]["BF_activity"] is not None and app in (android_name, "background")
assert nans > 0
print("ok", len(files))
"#;

#[test]
fn a_mirage_2022_folder_exports_to_its_own_layout_and_imports_back_exactly() {
    let published = repo("testdata/mirage/MIRAGE-2022");
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    import_mirage(std::slice::from_ref(&published), &store, false, 2, |_| {}).unwrap();
    let out = dir.path().join("json");
    // No layout asked for: the store's own, MIRAGE-2022.
    export_store(&store, &out, &ExportOptions::new(None, Grouping::Capture, None), false).unwrap();
    assert_eq!(relative_files(&out), relative_files(&published));

    let python = common::python(&["json"]);
    let output =
        std::process::Command::new(python).args(["-c", CHECK_2022]).arg(&out).arg(&published).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    assert_imports_back(&store, &out, &dir.path().join("back"));

    // Asked for, the 2019 layout names the same sessions MIRAGE-2019's way.
    let options =
        ExportOptions { layout: Some(Layout::Mirage2019), ..ExportOptions::new(None, Grouping::Capture, None) };
    let files = export_store(&store, &dir.path().join("as2019"), &options, false).unwrap().files;
    assert!(files.iter().all(|f| f.to_string_lossy().ends_with("_MIRAGE-2019_traffic_dataset_labeled_biflows.json")));
}
