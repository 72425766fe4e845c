//! The forest against scikit-learn's `RandomForestClassifier` (formats/evaluate.md says
//! they are the same algorithm): on one synthetic flow-like table, for five seeds,
//! `flowmine evaluate` and `scripts/sklearn_crosscheck.py` train on the same rows and
//! test on the same rows. Their accuracies must agree within 2 points on average, and the
//! top 10 features by impurity importance overlap in at least 8 for every seed.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn ok(out: Output, what: &str) -> Output {
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// 4000 rows of 5 classes: 6 informative features, 4 linear mixes of them, 16 of noise
/// (scikit-learn's `make_classification`, 2 % labels flipped), plus what flow tables
/// have: 3 constant columns and values rounded to few digits (ties), so that the
/// constant-feature and threshold rules of the splitter matter.
const MAKE_TABLE: &str = r#"
import sys
import numpy as np
from sklearn.datasets import make_classification
X, y = make_classification(n_samples=4000, n_features=26, n_informative=6, n_redundant=4,
                           n_classes=5, n_clusters_per_class=2, flip_y=0.02, random_state=7)
X = np.round(X, 1)
X = np.hstack([X, np.zeros((len(X), 2)), np.full((len(X), 1), 1500.0)])
names = [f"f{j:02}" for j in range(X.shape[1])]
with open(sys.argv[1], "w") as out:
    out.write(",".join(names + ["label"]) + "\n")
    for row, label in zip(X, y):
        out.write(",".join(repr(float(v)) for v in row) + f",app{label}\n")
"#;

#[test]
fn the_forest_agrees_with_scikit_learn() {
    let python = common::python(&["sklearn", "polars", "numpy"]);
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("flows.csv");
    ok(Command::new(&python).args(["-c", MAKE_TABLE]).arg(&table).output().unwrap(), "making the table");
    let mut gaps = Vec::new();
    for seed in 1..=5 {
        let out = dir.path().join(format!("seed{seed}"));
        ok(
            Command::new(env!("CARGO_BIN_EXE_flowmine"))
                .arg("evaluate")
                .arg(&table)
                .args(["--target", "label", "--permutation-repeats", "1", "--quiet", "--seed", &seed.to_string()])
                .arg("--out")
                .arg(&out)
                .output()
                .unwrap(),
            "flowmine evaluate",
        );
        let check = ok(
            Command::new(&python)
                .arg(repo("scripts/sklearn_crosscheck.py"))
                .arg("--json")
                .arg(&out)
                .arg(&table)
                .output()
                .unwrap(),
            "sklearn_crosscheck.py",
        );
        let report: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
        let test = &report["test_sets"]["test"];
        let (ours, theirs) = (test["flowmine_accuracy"].as_f64().unwrap(), test["sklearn_accuracy"].as_f64().unwrap());
        assert!(ours > 0.5 && theirs > 0.5, "seed {seed}: accuracies {ours} and {theirs}: the table is too hard");
        gaps.push(ours - theirs);
        let top = |who: &str| -> Vec<String> { serde_json::from_value(report["impurity_top10"][who].clone()).unwrap() };
        let (ours, theirs) = (top("flowmine"), top("sklearn"));
        let shared = ours.iter().filter(|f| theirs.contains(f)).count();
        assert!(shared >= 8, "seed {seed}: top-10 impurity features share {shared}: {ours:?} vs {theirs:?}");
        eprintln!("seed {seed}: accuracy gap {:+.4}, top-10 impurity overlap {shared}", gaps.last().unwrap());
    }
    let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
    assert!(mean.abs() <= 0.02, "accuracy gaps {gaps:?}, mean {mean:+.4}");
    assert!(gaps.iter().all(|g| g.abs() <= 0.04), "accuracy gaps {gaps:?}");
}
