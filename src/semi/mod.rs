//! Beyond the fully supervised forest: training with few labels (self-training on the
//! unlabelled rest) and apps never seen in training (low-confidence flows called
//! "unknown"). Both reuse `evaluate`'s data, feature selection, split and forest, and
//! write their files into the same experiment directory. Formats: `formats/evaluate.md`.

pub mod few_labels;
pub mod unknown;

use std::collections::BTreeMap;

use ndarray::Array2;

use crate::Error;
use crate::evaluate::split::{self, Fold};
use crate::evaluate::{EvaluateConfig, columns, dataset, matrix};

/// The rows an experiment uses, their classes and the split, as `evaluate` makes them.
pub struct Prepared {
    pub classes: Vec<String>,
    pub features: Vec<String>,
    /// One row per used flow.
    pub x: Array2<f64>,
    /// Class index of each row of `x`.
    pub y: Vec<u32>,
    pub folds: Vec<Fold>,
    /// Rows of classes left out of training (`hold_out`), their features and class names.
    pub held_out_x: Array2<f64>,
    pub held_out_class: Vec<String>,
}

/// Reads and splits the data of `config` as `evaluate` does; classes in `hold_out` are
/// kept apart from the classes the model learns.
pub fn prepare(config: &EvaluateConfig, hold_out: &[String]) -> Result<Prepared, Error> {
    let table = dataset::read_table(&config.inputs)?;
    let target = dataset::text_column(&table, &config.target)?;
    let group_column = config.split.group_column();
    let groups = group_column.map(|g| dataset::text_column(&table, g)).transpose()?;
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for t in target.iter().flatten() {
        *counts.entry(t.as_str()).or_default() += 1;
    }
    for h in hold_out {
        if !counts.contains_key(h.as_str()) {
            let what = format!("no such class in `{}`", config.target);
            return Err(Error::setting("hold_out_classes", format!("`{h}`"), what));
        }
    }
    let min = config.min_class_rows as u64;
    let classes: Vec<String> = counts
        .iter()
        .filter(|(c, n)| **n >= min && !hold_out.iter().any(|h| h == *c))
        .map(|(c, _)| (*c).to_owned())
        .collect();
    if classes.len() < 2 {
        return Err(Error::Config(format!(
            "{} class(es) left to train on; a classifier needs two or more",
            classes.len()
        )));
    }
    let index: BTreeMap<&str, u32> = classes.iter().enumerate().map(|(i, c)| (c.as_str(), i as u32)).collect();
    let (mut used, mut y, mut held) = (Vec::new(), Vec::new(), Vec::new());
    for (row, t) in target.iter().enumerate() {
        match t.as_deref() {
            Some(t) if hold_out.iter().any(|h| h == t) => held.push(row),
            Some(t) => {
                if let Some(&c) = index.get(t) {
                    used.push(row);
                    y.push(c);
                }
            }
            None => {}
        }
    }
    let mut exclude = vec![config.target.as_str()];
    exclude.extend(group_column);
    let features = columns::select_features(table.schema(), &config.features, &exclude)?;
    let x = matrix::feature_matrix(&table, &features, Some(&used))?;
    let held_out_x = matrix::feature_matrix(&table, &features, Some(&held))?;
    let held_out_class = held.iter().map(|&r| target[r].clone().unwrap_or_default()).collect();
    let used_groups: Option<Vec<Option<String>>> = groups.map(|g| used.iter().map(|&r| g[r].clone()).collect());
    let folds = split::make_folds(&config.split, &y, used_groups.as_deref(), config.seed)?;
    Ok(Prepared { classes, features, x, y, folds, held_out_x, held_out_class })
}

/// The most likely class of each row and its probability (the forest's mean of its trees'
/// leaf shares, as scikit-learn's `predict_proba`).
pub fn confident_predictions(
    forest: &crate::evaluate::Forest,
    x: ndarray::ArrayView2<f64>,
) -> Result<(Vec<u32>, Vec<f64>), Error> {
    if x.nrows() == 0 {
        return Ok((Vec::new(), Vec::new()));
    }
    let proba = forest.predict_proba(x)?;
    Ok(proba
        .rows()
        .into_iter()
        .map(|p| {
            let p = p.as_slice().expect("standard layout");
            let best = crate::evaluate::forest::most_likely(p);
            (best, p[best as usize])
        })
        .unzip())
}

/// File names in the experiment directory (formats/evaluate.md).
pub const FEW_LABELS_CSV: &str = "few_labels.csv";
pub const LEARNING_CURVE: &str = "learning_curve";
pub const UNKNOWN_JSON: &str = "unknown_apps.json";
pub const UNKNOWN_CHART: &str = "unknown_apps";

fn out_err(path: &std::path::Path, e: impl std::fmt::Display) -> Error {
    Error::Output { path: path.to_owned(), what: e.to_string() }
}

/// Writes the learning curve (`few_labels.csv`, the chart) into `dir` and returns its
/// section of report.md.
pub fn write_few_labels(
    dir: &std::path::Path,
    points: &[few_labels::CurvePoint],
    how: &few_labels::SelfTraining,
) -> Result<String, Error> {
    use std::fmt::Write as _;
    let mut csv = String::from(
        "fraction,labelled_rows,unlabelled_rows,supervised_accuracy,supervised_macro_f1,\
         self_training_accuracy,self_training_macro_f1,pseudo_labelled,pseudo_labels_right,rounds\n",
    );
    let mut md = format!(
        "## Few labels\n\nEach training fold keeps the labels of a stratified fraction of its rows. \
         *Supervised*: the forest on those rows only. *Self-training*: the rest get the forest's \
         label where at least {:.0} % of the trees agree, and the forest is trained again (at most {} rounds).\n\n\
         | labelled | rows | supervised accuracy | supervised macro F1 | self-training accuracy | self-training macro F1 | pseudo-labels (right) |\n\
         |---|---|---|---|---|---|---|\n",
        how.threshold * 100.0,
        how.rounds
    );
    for p in points {
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{},{},{},{},{}",
            p.fraction,
            p.labelled_rows,
            p.unlabelled_rows,
            p.supervised_accuracy,
            p.supervised_macro_f1,
            p.self_training_accuracy,
            p.self_training_macro_f1,
            p.pseudo_labelled,
            p.pseudo_labels_right,
            p.rounds
        );
        let _ = writeln!(
            md,
            "| {:.0} % | {} | {:.3} | {:.3} | {:.3} | {:.3} | {} ({}) |",
            p.fraction * 100.0,
            p.labelled_rows,
            p.supervised_accuracy,
            p.supervised_macro_f1,
            p.self_training_accuracy,
            p.self_training_macro_f1,
            p.pseudo_labelled,
            p.pseudo_labels_right
        );
    }
    let path = dir.join(FEW_LABELS_CSV);
    std::fs::write(&path, csv).map_err(|e| out_err(&path, e))?;
    let line = |name, f: fn(&few_labels::CurvePoint) -> f64, dashed| crate::cluster::charts::Line {
        name,
        points: points.iter().map(|p| (p.fraction * 100.0, f(p))).collect(),
        dashed,
    };
    let lines = [
        line("self-training: accuracy", |p| p.self_training_accuracy, false),
        line("self-training: macro F1", |p| p.self_training_macro_f1, false),
        line("supervised: accuracy", |p| p.supervised_accuracy, true),
        line("supervised: macro F1", |p| p.supervised_macro_f1, true),
    ];
    crate::cluster::charts::line_chart(
        &dir.join(LEARNING_CURVE),
        "Learning curve: labelled share of the training rows",
        ("labelled training rows (%)", "score on the test set"),
        &lines,
    )?;
    md += &format!("\n![learning curve]({LEARNING_CURVE}.svg)\n\n");
    Ok(md)
}

/// Writes `unknown_apps.json` and its chart into `dir` and returns its section of
/// report.md.
pub fn write_unknown(dir: &std::path::Path, u: &unknown::UnknownApps) -> Result<String, Error> {
    use std::fmt::Write as _;
    let path = dir.join(UNKNOWN_JSON);
    let json = serde_json::to_string_pretty(u).expect("plain data") + "\n";
    std::fs::write(&path, json).map_err(|e| out_err(&path, e))?;
    let line = |name, f: fn(&unknown::Rates) -> f64, dashed| crate::cluster::charts::Line {
        name,
        points: u.sweep.iter().map(|r| (r.threshold, f(r))).collect(),
        dashed,
    };
    crate::cluster::charts::line_chart(
        &dir.join(UNKNOWN_CHART),
        "Apps never seen: flows called unknown against the threshold",
        ("vote-share threshold", "share of flows called unknown"),
        &[
            line("held-out apps (wanted)", |r| r.held_out_unknown_rate, false),
            line("known apps (false unknowns)", |r| r.false_unknown_rate, true),
        ],
    )?;
    let a = &u.at_threshold;
    let mut md = format!(
        "## Apps never seen\n\nTrained without {}; a flow is *unknown* when less than {:.3} of the trees \
         vote for its most voted class ({}).\n\n\
         - held-out apps: {} of {} flows ({:.1} %) called unknown\n\
         - known apps: {} of {} test flows ({:.1} %) called unknown (false unknowns); {} right\n\n\
         | held-out class | flows | unknown | else mostly taken for |\n|---|---|---|---|\n",
        u.held_out_classes.join(", "),
        u.threshold,
        if u.calibrated { "calibrated on the training rows" } else { "given" },
        a.held_out_unknown,
        u.held_out_rows,
        a.held_out_unknown_rate * 100.0,
        a.known_unknown,
        u.known_test_rows,
        a.false_unknown_rate * 100.0,
        a.known_right
    );
    for (class, flows, unknown, taken) in &u.per_class {
        let _ = writeln!(md, "| {class} | {flows} | {unknown} | {taken} |");
    }
    md += &format!("\n![unknown apps]({UNKNOWN_CHART}.svg)\n\n");
    Ok(md)
}
