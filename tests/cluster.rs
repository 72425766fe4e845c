//! `flowmine cluster` against scikit-learn: k-means reaches the adjusted Rand index of
//! `KMeans` on the same standardised data, DBSCAN gives the labels of `DBSCAN`, the scores
//! equal `sklearn.metrics`, the projection equals `PCA`'s up to sign; and the command
//! writes what formats/cluster.md says, the same for any thread count.

mod common;

use std::path::Path;
use std::process::Command;

use flowmine::cluster::{dbscan, kmeans, pca, scores};
use ndarray::Array2;
use serde_json::Value;

/// Builds the data sets and scikit-learn's answers in one Python run.
const ORACLE: &str = r#"
import json, sys
import numpy as np
from sklearn.datasets import make_blobs
from sklearn.preprocessing import StandardScaler
from sklearn.cluster import KMeans, DBSCAN
from sklearn.decomposition import PCA
from sklearn import metrics
out = {"kmeans": [], "labelings": []}
for seed in range(5):
    x, y = make_blobs(n_samples=600, centers=5, n_features=6, cluster_std=3.0, random_state=seed)
    x = StandardScaler().fit_transform(x)
    pred = KMeans(n_clusters=5, random_state=seed).fit_predict(x)
    out["kmeans"].append({"x": x.tolist(), "truth": y.tolist(), "k": 5,
                          "sklearn_ari": metrics.adjusted_rand_score(y, pred)})
x, _ = make_blobs(n_samples=300, centers=3, n_features=3, cluster_std=0.8, random_state=7)
x = np.vstack([x, np.random.RandomState(7).uniform(-12, 12, size=(40, 3))])
x = StandardScaler().fit_transform(x)
out["dbscan"] = {"x": x.tolist(), "eps": 0.3, "min_samples": 5,
                 "labels": DBSCAN(eps=0.3, min_samples=5).fit_predict(x).tolist()}
rng = np.random.RandomState(3)
for n, a, b in [(50, 3, 4), (200, 5, 2), (30, 1, 3), (100, 6, 6), (40, 2, 1)]:
    t, p = rng.randint(0, a, n), rng.randint(0, b, n)
    out["labelings"].append({"truth": t.tolist(), "pred": p.tolist(),
        "ari": metrics.adjusted_rand_score(t, p), "nmi": metrics.normalized_mutual_info_score(t, p),
        "homogeneity": metrics.homogeneity_score(t, p), "completeness": metrics.completeness_score(t, p)})
x = rng.normal(size=(80, 5)) @ rng.normal(size=(5, 5))
pca = PCA(n_components=2).fit(x)
out["pca"] = {"x": x.tolist(), "projection": pca.transform(x).tolist(), "ratio": pca.explained_variance_ratio_.tolist()}
json.dump(out, sys.stdout)
"#;

fn oracle() -> Value {
    let python = common::python(&["numpy", "sklearn"]);
    let out = Command::new(python).args(["-c", ORACLE]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn matrix(v: &Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone()).unwrap();
    let d = rows[0].len();
    Array2::from_shape_vec((rows.len(), d), rows.into_iter().flatten().collect()).unwrap()
}

fn labels(v: &Value) -> Vec<u32> {
    serde_json::from_value(v.clone()).unwrap()
}

#[test]
fn kmeans_dbscan_scores_and_pca_match_scikit_learn() {
    let o = oracle();
    for (seed, case) in o["kmeans"].as_array().unwrap().iter().enumerate() {
        let x = matrix(&case["x"]);
        let k = case["k"].as_u64().unwrap() as usize;
        let fitted = kmeans::fit(x.view(), &kmeans::KMeansParams::new(k), seed as u64).unwrap();
        let (ours, _) = kmeans::assign(x.view(), &fitted.centres);
        let ari = scores::agreement(&labels(&case["truth"]), &ours).adjusted_rand;
        let theirs = case["sklearn_ari"].as_f64().unwrap();
        assert!(ari >= theirs - 0.02, "seed {seed}: ARI {ari:.4}, scikit-learn's {theirs:.4}");
    }

    let case = &o["dbscan"];
    let x = matrix(&case["x"]);
    let ours = dbscan::dbscan(x.view(), case["eps"].as_f64().unwrap(), case["min_samples"].as_u64().unwrap() as usize);
    let theirs: Vec<i32> = serde_json::from_value(case["labels"].clone()).unwrap();
    assert!(theirs.contains(&dbscan::NOISE) && theirs.iter().any(|&l| l >= 2), "a data set with noise and clusters");
    assert_eq!(ours, theirs);

    for case in o["labelings"].as_array().unwrap() {
        let s = scores::agreement(&labels(&case["truth"]), &labels(&case["pred"]));
        for (ours, name) in [
            (s.adjusted_rand, "ari"),
            (s.normalized_mutual_info, "nmi"),
            (s.homogeneity, "homogeneity"),
            (s.completeness, "completeness"),
        ] {
            let theirs = case[name].as_f64().unwrap();
            assert!((ours - theirs).abs() < 1e-10, "{name}: {ours} vs {theirs}");
        }
    }

    let case = &o["pca"];
    let x = matrix(&case["x"]);
    let fitted = pca::fit(x.view(), 2);
    let ours = fitted.transform(x.view());
    let theirs = matrix(&case["projection"]);
    for c in 0..2 {
        let sign = if ours[[0, c]] * theirs[[0, c]] < 0.0 { -1.0 } else { 1.0 };
        for r in 0..x.nrows() {
            assert!((sign * ours[[r, c]] - theirs[[r, c]]).abs() < 1e-9, "row {r} component {c}");
        }
        let ratio = case["ratio"][c].as_f64().unwrap();
        assert!((fitted.explained_ratio[c] - ratio).abs() < 1e-12);
    }
}

/// A features CSV of three well-separated groups of flows, labelled, with columns the
/// default feature set leaves out (ports) and one it keeps.
fn write_features(path: &Path) {
    let mut csv = String::from("src_port,label,packets,bytes_mean,duration_s\n");
    for i in 0..90u32 {
        let (label, centre) = match i % 3 {
            0 => ("whatsapp", 10.0),
            1 => ("signal", 50.0),
            _ => ("telegram", 90.0),
        };
        let wobble = f64::from(i % 7) * 0.3;
        let duration = centre / 10.0 + wobble / 10.0;
        csv += &format!("{},{label},{},{},{duration}\n", 40_000 + i, centre + wobble, centre * 3.0 - wobble);
    }
    std::fs::write(path, csv).unwrap();
}

fn run_cluster(dir: &Path, threads: &str) -> Value {
    let out = dir.join(format!("out{threads}"));
    let status = Command::new(env!("CARGO_BIN_EXE_flowmine"))
        .args(["cluster", "--target", "label", "--k-range", "2..5", "--min-samples", "3", "--threads", threads, "-q"])
        .arg(dir.join("f.csv"))
        .arg("--out")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    for file in
        ["clusters.parquet", "metrics.json", "report.md", "projection.png", "cluster_by_class.svg", "silhouette.svg"]
    {
        assert!(out.join(file).is_file(), "{file}");
    }
    serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap()
}

#[test]
fn cluster_command_finds_the_groups_the_same_on_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    write_features(&dir.path().join("f.csv"));
    let one = run_cluster(dir.path(), "1");
    let two = run_cluster(dir.path(), "2");
    assert_eq!(one["features"], serde_json::json!(["packets", "bytes_mean", "duration_s"]));
    assert_eq!(one["kmeans"]["k"], 3, "the silhouette picks the three groups");
    assert_eq!(one["kmeans"]["scores"]["adjusted_rand"], 1.0);
    assert_eq!(one["kmeans"]["centres"], two["kmeans"]["centres"]);
    assert_eq!(one["dbscan"]["clusters"], two["dbscan"]["clusters"]);
    let a = std::fs::read(dir.path().join("out1/clusters.parquet")).unwrap();
    let b = std::fs::read(dir.path().join("out2/clusters.parquet")).unwrap();
    assert_eq!(a, b, "clusters.parquet does not depend on the thread count");

    // scikit-learn scores the written clusters as metrics.json does.
    let python = common::python(&["polars", "sklearn"]);
    let script = "import sys, polars as pl; from sklearn import metrics as m; \
        d = pl.read_parquet(sys.argv[1]); t, p = d['label'].to_list(), d['cluster'].to_list(); \
        print(d.height, m.adjusted_rand_score(t, p), m.normalized_mutual_info_score(t, p), d['dbscan'].null_count())";
    let out = Command::new(python).args(["-c", script]).arg(dir.path().join("out1/clusters.parquet")).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let fields: Vec<f64> = text.split_whitespace().map(|f| f.parse().unwrap()).collect();
    assert_eq!(fields[0], 90.0);
    let s = &one["kmeans"]["scores"];
    assert!((fields[1] - s["adjusted_rand"].as_f64().unwrap()).abs() < 1e-12);
    assert!((fields[2] - s["normalized_mutual_info"].as_f64().unwrap()).abs() < 1e-12);
    assert_eq!(fields[3], 0.0, "DBSCAN ran on every row of a small table");
}

#[test]
fn bad_options_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    write_features(&dir.path().join("f.csv"));
    let run = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_flowmine"))
            .arg("cluster")
            .arg(dir.path().join("f.csv"))
            .arg("--out")
            .arg(dir.path().join("o"))
            .args(extra)
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, err) = run(&["-k", "500"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("k = 500"), "{err}");
    let (code, err) = run(&["--k-range", "5..3"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("5..3"), "{err}");
    // A setting the library refuses is named as the option that sets it.
    let (code, err) = run(&["--eps=0"]);
    assert_eq!(code, Some(1));
    assert_eq!(err, "flowmine: error: --eps 0: a positive radius is needed\n");
    let (code, err) = run(&["--min-samples", "0"]);
    assert_eq!(code, Some(1));
    assert_eq!(err, "flowmine: error: --min-samples 0: must be at least 1\n");
    let e = flowmine::Error::setting("min_samples", 0, "must be at least 1");
    assert_eq!(e.to_string(), "min_samples 0: must be at least 1");
    // An output directory with files in it is written over only with --overwrite.
    let out = dir.path().join("o");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("mine.txt"), b"keep me").unwrap();
    let (code, err) = run(&["-k", "2"]);
    assert_eq!(code, Some(1));
    let said = format!("{}: the directory already holds files; pass --overwrite to write over them\n", out.display());
    assert_eq!(err, format!("flowmine: error: {said}"));
    assert_eq!(std::fs::read(out.join("mine.txt")).unwrap(), b"keep me");
    let (code, err) = run(&["--target", "nope"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("nope"), "{err}");
}
