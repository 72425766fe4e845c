//! `flowmine evaluate` and `flowmine predict` end to end on four sample captures, one store
//! each labelled by `flows --label`: the outputs exist and agree with each other, a seed
//! repeats an experiment exactly, and bad input fails with a message naming it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use flowmine::evaluate::{EvaluateConfig, SplitConfig, run};
use polars::prelude::*;

/// (capture, label): captures with dozens of flows each, of four different apps.
const CAPTURES: [(&str, &str); 4] = [
    ("messaging/whatsapp.pcap", "whatsapp"),
    ("messaging/teams.pcap", "teams"),
    ("messaging/telegram.pcap", "telegram"),
    ("genres/teamspeak3.pcap", "teamspeak"),
];

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn flowmine<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flowmine")).args(args).output().expect("flowmine runs")
}

fn ok(out: Output) -> Output {
    assert_eq!(out.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// One store per capture, labelled with its app.
fn stores(dir: &Path) -> Vec<PathBuf> {
    CAPTURES
        .iter()
        .map(|(capture, label)| {
            let store = dir.join(label);
            let pcap = repo(&format!("testdata/pcaps/{capture}"));
            ok(flowmine(&[
                "flows".as_ref(),
                pcap.as_os_str(),
                "--out".as_ref(),
                store.as_os_str(),
                "--label".as_ref(),
                label.as_ref(),
                "--quiet".as_ref(),
            ]));
            store
        })
        .collect()
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn evaluate_then_predict_on_labelled_stores() {
    let dir = tempfile::tempdir().unwrap();
    let stores = stores(dir.path());
    let out = dir.path().join("experiment");
    let mut args: Vec<String> = vec!["evaluate".into()];
    args.extend(stores.iter().map(|s| s.to_string_lossy().into_owned()));
    args.extend(
        ["--target", "label", "--out", out.to_str().unwrap(), "--trees", "20", "--permutation-repeats", "2"]
            .map(String::from),
    );
    args.extend(["--seed", "3"].map(String::from));
    let printed = ok(flowmine(&args));
    let stdout = String::from_utf8_lossy(&printed.stdout);
    assert!(stdout.contains("test set test:"), "{stdout}");

    let metrics = read_json(&out.join("metrics.json"));
    let rows_used = metrics["data"]["rows_used"].as_u64().unwrap();
    assert_eq!(metrics["data"]["classes"].as_array().unwrap().len(), 4);
    assert_eq!(metrics["forest"]["trees"], 20);
    assert_eq!(metrics["split"]["kind"], "holdout");
    let test = &metrics["test_sets"][0];
    let confusion: Vec<Vec<u64>> = serde_json::from_value(test["confusion"].clone()).unwrap();
    let tested: u64 = confusion.iter().flatten().sum();
    assert_eq!(tested, test["rows"].as_u64().unwrap());
    let correct: u64 = (0..confusion.len()).map(|i| confusion[i][i]).sum();
    assert!((test["accuracy"].as_f64().unwrap() - correct as f64 / tested as f64).abs() < 1e-12);
    // Flows of four different apps are easy to tell apart even for a small forest.
    assert!(test["accuracy"].as_f64().unwrap() > 0.8, "{test}");

    // assignments.csv: every used row once, trained or tested, as many tested as scored.
    let assignments = std::fs::read_to_string(out.join("assignments.csv")).unwrap();
    let lines: Vec<&str> = assignments.lines().skip(1).collect();
    assert_eq!(lines.len() as u64, rows_used);
    assert_eq!(lines.iter().filter(|l| l.split(',').nth(2) == Some("test")).count() as u64, tested);

    // importance.csv: each feature once per method and test set, ranks 1..n.
    let features = metrics["features"].as_array().unwrap().len();
    let importance = std::fs::read_to_string(out.join("importance.csv")).unwrap();
    assert_eq!(importance.lines().count(), 1 + 2 * features);
    assert!(importance.lines().any(|l| l.starts_with("fwd_payload_bytes,impurity,,")));

    for chart in ["importance", "impurity_importance", "confusion-test"] {
        let png = std::fs::read(out.join(format!("{chart}.png"))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{chart}.png");
        let svg = std::fs::read_to_string(out.join(format!("{chart}.svg"))).unwrap();
        assert!(svg.contains("<svg"), "{chart}.svg");
    }
    let svg = std::fs::read_to_string(out.join("confusion-test.svg")).unwrap();
    assert!(svg.contains("\nteamspeak\n</text>") && svg.contains("\nwhatsapp\n</text>"), "class names are text");
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("(importance.png)") && report.contains("(confusion-test.png)"));

    // predict: the model labels the whatsapp store's flows, mostly as whatsapp.
    let features_file = dir.path().join("whatsapp.csv");
    ok(flowmine(&["features", stores[0].to_str().unwrap(), "--out", features_file.to_str().unwrap(), "--quiet"]));
    let predictions = dir.path().join("predicted.parquet");
    let model = out.join("model.json.zst");
    ok(flowmine(&[
        "predict",
        model.to_str().unwrap(),
        features_file.to_str().unwrap(),
        "--out",
        predictions.to_str().unwrap(),
    ]));
    let df = ParquetReader::new(std::fs::File::open(&predictions).unwrap()).finish().unwrap();
    let predicted: Vec<&str> = df.column("predicted").unwrap().str().unwrap().iter().flatten().collect();
    assert_eq!(predicted.len(), df.height());
    let whatsapp = predicted.iter().filter(|p| **p == "whatsapp").count();
    assert!(whatsapp * 10 >= predicted.len() * 8, "{whatsapp} of {}", predicted.len());
    let shares = df.column("probability").unwrap().f64().unwrap();
    assert!(shares.into_no_null_iter().all(|s| s > 0.0 && s <= 1.0));
    assert_eq!(df.column("row").unwrap().u64().unwrap().get(0), Some(0));
}

#[test]
fn a_seed_repeats_the_experiment_on_any_number_of_threads() {
    let dir = tempfile::tempdir().unwrap();
    let stores = stores(dir.path());
    let experiment = |seed: u64, threads: usize| {
        let mut config = EvaluateConfig::new(stores.clone(), "label");
        config.split = SplitConfig::KFold { folds: 3 };
        config.forest.trees = 10;
        config.permutation_repeats = 2;
        config.seed = seed;
        config.threads = threads;
        let evaluation = run(&config).unwrap();
        let mut metrics = evaluation.metrics_json();
        // Wall-clock times and the pool size are the only things that may differ.
        metrics["training"] = serde_json::Value::Null;
        metrics["threads"] = serde_json::Value::Null;
        let model = serde_json::to_string(&evaluation.model.forest).unwrap();
        (metrics, model, evaluation.importance_csv(), evaluation.assignments_csv())
    };
    let (one, two) = (experiment(11, 1), experiment(11, 2));
    assert_eq!(one.0, two.0);
    assert_eq!(one.1, two.1, "the same trees");
    assert_eq!(one.2, two.2);
    assert_eq!(one.3, two.3);
    let other = experiment(12, 2);
    assert_ne!(one.1, other.1, "another seed grows other trees");
    assert_ne!(one.3, other.3, "and splits otherwise");
}

#[test]
fn bad_input_and_options_fail_naming_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let not_features = dir.path().join("notes.txt");
    std::fs::write(&not_features, "hello").unwrap();
    let out = dir.path().join("out");
    let run = |args: &[&str]| {
        let output = flowmine(args);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let err = run(&["evaluate", not_features.to_str().unwrap(), "--target", "label", "--out", out.to_str().unwrap()]);
    assert!(err.contains("notes.txt"), "{err}");
    let csv = dir.path().join("t.csv");
    std::fs::write(&csv, "packets,label\n1,a\n2,b\n3,a\n4,b\n").unwrap();
    let err = run(&["evaluate", csv.to_str().unwrap(), "--target", "app", "--out", out.to_str().unwrap()]);
    assert!(err.contains("no column `app`"), "{err}");
    let err = run(&[
        "evaluate",
        csv.to_str().unwrap(),
        "--target",
        "label",
        "--out",
        out.to_str().unwrap(),
        "--split-by",
        "device",
        "--train",
        "x",
        "--test",
        "y",
    ]);
    assert!(err.contains("no column `device`"), "{err}");
    let err = run(&["predict", csv.to_str().unwrap(), csv.to_str().unwrap()]);
    assert!(err.contains("t.csv") && err.contains("not a flowmine model"), "{err}");
    assert!(!out.exists(), "nothing written on failure");
}

/// Issue 13: a store written by `label` (more columns than a `flows` store), features
/// files of both kinds in either order (CSV holds the per-packet lists as text), and an
/// unknown target named in one short line with the close names.
#[test]
fn label_stores_and_mixed_feature_files_are_read_and_errors_stay_short() {
    let dir = tempfile::tempdir().unwrap();
    let labelled = dir.path().join("signal");
    let manifest = repo("testdata/label/signal/session.toml");
    ok(flowmine(&["label", manifest.to_str().unwrap(), "--out", labelled.to_str().unwrap(), "--quiet"]));
    let whatsapp = dir.path().join("whatsapp");
    let pcap = repo("testdata/pcaps/messaging/whatsapp.pcap");
    ok(flowmine(&[
        "flows",
        pcap.to_str().unwrap(),
        "--out",
        whatsapp.to_str().unwrap(),
        "--label",
        "whatsapp",
        "--quiet",
    ]));
    let out = dir.path().join("experiment");
    let (s1, s2, o) = (labelled.to_str().unwrap(), whatsapp.to_str().unwrap(), out.to_str().unwrap());
    let common = ["--target", "label", "--out", o, "--trees", "5", "--permutation-repeats", "1", "--quiet"];
    ok(flowmine(&[&["evaluate", s1, s2][..], &common].concat()));
    let model = out.join("model.json.zst");
    let model = model.to_str().unwrap();
    ok(flowmine(&["predict", model, s1, "--quiet"]));

    let (csv, parquet) = (dir.path().join("a.csv"), dir.path().join("b.parquet"));
    let (csv, parquet) = (csv.to_str().unwrap(), parquet.to_str().unwrap());
    ok(flowmine(&["features", s2, "--out", csv, "--quiet"]));
    ok(flowmine(&["features", s1, "--out", parquet, "--quiet"]));
    for inputs in [[csv, parquet], [parquet, csv]] {
        let printed = ok(flowmine(&[&["predict", model][..], &inputs, &["--quiet"]].concat()));
        assert_eq!(String::from_utf8_lossy(&printed.stderr), "", "{inputs:?}: nothing on stderr with --quiet");
    }

    let failed = flowmine(&["evaluate", s1, s2, "--target", "labl", "--out", o, "--overwrite"]);
    assert_eq!(failed.status.code(), Some(1));
    let err = String::from_utf8_lossy(&failed.stderr);
    assert!(err.contains("no column `labl`") && err.contains("did you mean `label`"), "{err}");
    assert!(err.lines().count() == 1 && err.len() < 200, "{err}");
}

/// The paper's Figure 1: one importance chart with a bar per test set for each feature,
/// each test set's scores in its legend.
#[test]
fn the_importance_chart_shows_every_test_set_with_its_scores() {
    let dir = tempfile::tempdir().unwrap();
    let stores = stores(dir.path());
    let out = dir.path().join("by-capture");
    let mut args: Vec<String> = vec!["evaluate".into()];
    args.extend(stores.iter().map(|s| s.to_string_lossy().into_owned()));
    args.extend(
        ["--target", "label", "--split-by", "capture", "--train", "whatsapp,teams", "--test", "telegram"]
            .map(String::from),
    );
    args.extend(
        ["--out", out.to_str().unwrap(), "--trees", "10", "--permutation-repeats", "1", "--quiet"].map(String::from),
    );
    ok(flowmine(&args));
    let metrics = read_json(&out.join("metrics.json"));
    let svg = std::fs::read_to_string(out.join("importance.svg")).unwrap();
    for set in metrics["test_sets"].as_array().unwrap() {
        let legend = format!(
            "{} ({} flows): accuracy {:.3}, macro F1 {:.3}",
            set["name"].as_str().unwrap(),
            set["rows"],
            set["accuracy"].as_f64().unwrap(),
            set["macro_f1"].as_f64().unwrap()
        );
        assert!(svg.contains(&legend), "{legend} in importance.svg");
    }
    assert_eq!(metrics["test_sets"].as_array().unwrap().len(), 2, "held-out and telegram");
}
