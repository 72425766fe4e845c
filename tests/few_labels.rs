//! `evaluate --labelled-fraction` and `--hold-out-classes` through the binary: the files
//! formats/evaluate.md names, the stratified labelled counts, scores that agree with the
//! predictions they come from, and unknown rates that only grow with the threshold.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// Four classes of 40 flows: a, b and c apart, d overlapping a and b.
fn write_features(path: &Path) {
    let mut csv = String::from("label,x,y\n");
    for i in 0..160u32 {
        let wobble = f64::from((i * 7919) % 17) / 17.0;
        let (label, x, y) = match i % 4 {
            0 => ("a", 0.0 + wobble, 0.0),
            1 => ("b", 10.0, 10.0 + wobble),
            2 => ("c", 20.0 + wobble, 0.0),
            _ => ("d", 5.0 + wobble * 4.0, 5.0 - wobble * 4.0),
        };
        csv += &format!("{label},{x},{y}\n");
    }
    std::fs::write(path, csv).unwrap();
}

fn evaluate(dir: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_flowmine"))
        .args(["evaluate", "--target", "label", "--trees", "30", "--permutation-repeats", "1", "--seed", "4", "-q"])
        .arg(dir.join("f.csv"))
        .arg("--out")
        .arg(dir.join("exp"))
        .arg("--overwrite")
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn learning_curve_and_unknown_apps() {
    let dir = tempfile::tempdir().unwrap();
    write_features(&dir.path().join("f.csv"));
    let out =
        evaluate(dir.path(), &["--labelled-fraction", "0.2", "--hold-out-classes", "d", "--unknown-threshold", "0.9"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let exp = dir.path().join("exp");
    for file in ["few_labels.csv", "learning_curve.png", "learning_curve.svg", "unknown_apps.json", "unknown_apps.png"]
    {
        assert!(exp.join(file).is_file(), "{file}");
    }
    let report = std::fs::read_to_string(exp.join("report.md")).unwrap();
    assert!(report.contains("## Few labels") && report.contains("## Apps never seen"));

    // Class d is out of the main experiment too: 120 rows in 3 classes, 84 train, 36 test.
    let metrics: Value = serde_json::from_slice(&std::fs::read(exp.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(metrics["data"]["rows_used"], 120);
    assert_eq!(metrics["data"]["classes_left_out"][0]["class"], "d");

    // Training rows per class: 28 (40 less 12 tested); labelled: ⌈28 · f⌉ per class.
    let csv = std::fs::read_to_string(exp.join("few_labels.csv")).unwrap();
    let rows: Vec<Vec<String>> = csv.lines().skip(1).map(|l| l.split(',').map(str::to_owned).collect()).collect();
    let fractions: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(fractions, ["0.05", "0.1", "0.2", "0.25", "0.5", "1"]);
    let labelled: Vec<u64> = rows.iter().map(|r| r[1].parse().unwrap()).collect();
    assert_eq!(labelled, [3 * 2, 3 * 3, 3 * 6, 3 * 7, 3 * 14, 3 * 28]);
    for r in &rows {
        let n: u64 = r[1].parse::<u64>().unwrap() + r[2].parse::<u64>().unwrap();
        assert_eq!(n, 84);
        let (pseudo, right): (u64, u64) = (r[7].parse().unwrap(), r[8].parse().unwrap());
        assert!(right <= pseudo && pseudo <= r[2].parse().unwrap());
    }
    // All labels of three separate classes: both forests are perfect.
    assert_eq!(&rows[5][3..7], ["1", "1", "1", "1"]);

    let u: Value = serde_json::from_slice(&std::fs::read(exp.join("unknown_apps.json")).unwrap()).unwrap();
    assert_eq!(u["held_out_rows"], 40);
    assert_eq!(u["known_test_rows"], 36);
    assert_eq!(u["threshold"], 0.9);
    assert_eq!(u["calibrated"], false);
    let sweep = u["sweep"].as_array().unwrap();
    for pair in sweep.windows(2) {
        for key in ["held_out_unknown", "known_unknown"] {
            assert!(pair[0][key].as_u64() <= pair[1][key].as_u64(), "{key} grows with the threshold");
        }
    }
    let at = &u["at_threshold"];
    let rate = at["held_out_unknown"].as_f64().unwrap() / 40.0;
    assert!((at["held_out_unknown_rate"].as_f64().unwrap() - rate).abs() < 1e-12);
    assert_eq!(u["per_class"][0][0], "d");
    assert_eq!(u["per_class"][0][1], 40);

    // Without a threshold it is calibrated; a class that does not exist is an error.
    let out = evaluate(dir.path(), &["--hold-out-classes", "d"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let u: Value = serde_json::from_slice(&std::fs::read(exp.join("unknown_apps.json")).unwrap()).unwrap();
    assert_eq!(u["calibrated"], true);
    let out = evaluate(dir.path(), &["--hold-out-classes", "zz"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("zz"));
    let out = evaluate(dir.path(), &["--labelled-fraction", "1.5"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("1.5"));
}
